"""`--json` is a contract: the README's table of keys and types is checked against real runs.

Each command runs once as a real process on a one-second clip; its one stdout line must hold
exactly the keys the README lists for it, each of the documented type.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.reliability_helpers import REPO_ROOT, cut_file, run_cli, write_face_clip

TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (float, int), "bool": (bool,), "list": (list,),
    "object": (dict,),
}


def documented_schemas() -> dict[str, dict[str, tuple[str, bool]]]:
    """README rows of "JSON output and exit codes": first command named -> {key: (type,
    nullable)}."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## JSON output and exit codes", 1)[1].split("\n## ", 1)[0]
    schemas: dict[str, dict[str, tuple[str, bool]]] = {}
    for row in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]
        if len(cells) != 2 or not cells[0].startswith("`") or "`" not in cells[1]:
            continue
        label = cells[0].split("`")[1] + (" image" if "image" in cells[0] else "")
        pairs = re.findall(r"`(\w+)` (\w+)(\\\|null)?", cells[1])
        schemas[label] = {key: (kind, bool(null)) for key, kind, null in pairs}
    return schemas


def test_the_readme_documents_every_command_with_warnings() -> None:
    schemas = documented_schemas()
    assert set(schemas) == {"reenact", "edit-au image", "eval", "info", "prepare"}
    for label, schema in schemas.items():
        assert schema.get("warnings") == ("list", False), label
        assert all(kind in TYPES for kind, _ in schema.values()), label


@pytest.fixture(scope="module")
def summaries(shared_media: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The JSON line of one real run per documented row."""
    import torch

    from models.checkpoint import save_checkpoint
    from models.config import ModelConfig
    from models.fgemotalk import FGEmoTalk

    folder = tmp_path_factory.mktemp("contract")
    portrait = shared_media / "portraits" / "sadtalker_sad.png"
    clip = folder / "clip.mp4"
    write_face_clip(shared_media / "driving" / "liveportrait_d5.mp4", clip, seconds=1.0)
    torch.manual_seed(0)
    checkpoint = save_checkpoint(folder / "tiny.pt", FGEmoTalk(
        ModelConfig.tiny(with_audio=False), load_pretrained_audio=False), "stage1")
    videos = folder / "videos"
    videos.mkdir()
    cut_file(clip, videos / "damaged.mp4", 0.4)
    commands = {
        "reenact": ["reenact", portrait, clip, "-o", folder / "r.mp4", "--quiet", "--json"],
        "edit-au image": ["edit-au", portrait, "--au", "12=3", "-o", folder / "e.png",
                          "--quiet", "--json"],
        "eval": ["eval", clip, "--reference", clip, "--quiet", "--json"],
        "info": ["info", checkpoint, "--json"],
        "prepare": ["prepare", videos, folder / "data", "--size", "64", "--quiet"],
    }
    found = {}
    for label, args in commands.items():
        result = run_cli(*args, cwd=folder)
        assert result.returncode == 0 and result.stderr == "", (label, result.stderr[-2000:])
        assert len(result.stdout_lines) == 1, (label, result.stdout)
        found[label] = json.loads(result.stdout_lines[0])
    return found


@pytest.mark.parametrize("label", ["reenact", "edit-au image", "eval", "info", "prepare"])
def test_json_keys_and_types_are_as_documented(summaries: dict[str, dict], label: str) -> None:
    schema = documented_schemas()[label]
    summary = summaries[label]
    assert set(summary) == set(schema), set(summary) ^ set(schema)
    for key, (kind, nullable) in schema.items():
        value = summary[key]
        if value is None:
            assert nullable, f"{label}: {key} is null but not documented as nullable"
            continue
        assert isinstance(value, TYPES[kind]), f"{label}: {key}={value!r} is not {kind}"
        assert kind == "bool" or not isinstance(value, bool), f"{label}: {key} is a bool"
    assert all(isinstance(warning, str) for warning in summary["warnings"])
