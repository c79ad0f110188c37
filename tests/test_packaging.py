"""Packaging: a wheel must carry every sub-package and the presets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

from fgemotalk_cli.expression.aus import bundled_presets, presets_dir

REPO = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for root in ("fgemotalk_cli", "models")
        for init in (REPO / root).rglob("__init__.py")
    }
    assert found | {"fgemotalk_cli.presets"} == listed


def test_presets_are_found() -> None:
    assert (presets_dir() / "happy.yaml").is_file()
    assert len(bundled_presets()) >= 8


WITHOUT_EXTRAS = """
import sys
# What `pip install .` without extras lacks: importing any of these now fails.
for name in ("torch", "torch_geometric", "transformers", "safetensors", "tensorboard",
             "h5py", "dlib", "face_recognition_models"):
    sys.modules[name] = None
from fgemotalk_cli.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_warp_engine_runs_without_the_extras(tmp_path: Path, shared_media: Path) -> None:
    """presets, aus and a warp edit need none of torch, transformers, dlib or h5py."""
    portrait = shared_media / "portraits" / "liveportrait_s42.jpg"
    for args in (["presets", "--json"], ["aus", "--json"],
                 ["edit-au", str(portrait), "--au", "12=3", "-o", str(tmp_path / "e.png"),
                  "--quiet", "--json"]):
        done = subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS, *args], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (args, done.stderr[-2000:])
    assert (tmp_path / "e.png").stat().st_size > 10_000
