"""Packaging: a wheel must carry every sub-package and the presets."""

from __future__ import annotations

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
