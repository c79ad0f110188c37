"""``fgemotalk prepare``: fixed-box crops, audio, split by clip, skips, resumability, DISFA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.training.crops import SquareBox, crop_resize, read_image, union_box
from fgemotalk_cli.training.prepare import held_out_ids, prepare_dataset
from tests.training.conftest import CLIPS, FRAMES_PER_CLIP


def test_video_clips_become_crops_with_audio_and_a_split(video_dataset: Path) -> None:
    manifest = json.loads((video_dataset / "manifest.json").read_text())
    assert manifest["kind"] == "video" and manifest["size"] == 64
    assert len(manifest["clips"]) == len(CLIPS)
    assert {c["split"] for c in manifest["clips"]} == {"train", "held_out"}
    for clip in manifest["clips"]:
        folder = video_dataset / "clips" / clip["id"]
        frames = sorted(folder.glob("*.jpg"))
        assert clip["frames"] == len(frames) == FRAMES_PER_CLIP
        assert read_image(frames[0]).shape == (64, 64, 3)
        assert clip["audio"] and (folder / "audio.wav").is_file()
        record = json.loads((folder / "clip.json").read_text())
        assert len(record["times"]) == FRAMES_PER_CLIP
        assert record["times"] == sorted(record["times"])
    assert [Path(s["source"]).name for s in manifest["skipped"]] == ["broken.mp4"]


def test_prepare_is_resumable(video_dataset: Path) -> None:
    videos = Path(json.loads((video_dataset / "manifest.json").read_text())["source"])
    summary = prepare_dataset(videos, video_dataset, size=64, show_progress=False,
                              max_frames=FRAMES_PER_CLIP)
    assert summary["processed_now"] == 0
    assert summary["already_done"] == len(CLIPS) + 1  # the broken clip is not retried
    with pytest.raises(InputError, match="already holds a dataset at 64 px"):
        prepare_dataset(videos, video_dataset, size=128, show_progress=False)


def test_disfa_layout_gives_labelled_crops(disfa_dataset: Path) -> None:
    manifest = json.loads((disfa_dataset / "manifest.json").read_text())
    assert manifest["kind"] == "disfa"
    assert manifest["aus"] == [1, 2, 4, 5, 6, 9, 12, 25]
    for clip in manifest["clips"]:
        folder = disfa_dataset / "clips" / clip["id"]
        rows = (folder / "labels.csv").read_text().splitlines()
        assert rows[0] == "file,au1,au2,au4,au5,au6,au9,au12,au25"
        assert len(rows) - 1 == clip["frames"] == 30
        first = rows[1].split(",")
        assert first[0] == "000001.jpg" and (folder / first[0]).is_file()
        assert all(0 <= float(v) <= 5 for v in first[1:])


def test_bad_arguments_are_reported(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--size must be one of"):
        prepare_dataset(tmp_path, tmp_path / "out", size=100, show_progress=False)
    with pytest.raises(InputError, match="no videos"):
        prepare_dataset(tmp_path, tmp_path / "out", size=64, show_progress=False)
    with pytest.raises(InputError, match="not found"):
        prepare_dataset(tmp_path / "missing", tmp_path / "out", size=64, show_progress=False)


def test_union_box_ignores_a_stray_face_and_stays_in_frame() -> None:
    boxes = [(100, 100, 200, 220), (110, 105, 210, 225), (900, 50, 950, 100)]
    box = union_box(boxes, 1000, 800, scale=1.5)
    assert box.side == round(125 * 1.5)
    assert 0 <= box.x and box.x + box.side <= 1000 and 0 <= box.y
    # A face filling an aligned crop: the box shrinks to the frame instead of padding.
    assert union_box([(30, 20, 220, 240)], 256, 256, scale=1.6).side == 256


def test_crop_outside_the_frame_is_padded_black() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    crop = crop_resize(image, SquareBox(-50, 0, 100), 64)
    assert crop.shape == (64, 64, 3)
    assert crop[:, :28].max() == 0 and crop[:, 36:].min() == 200


def test_held_out_split_is_stable_and_never_empty() -> None:
    ids = [f"clip{i}" for i in range(40)]
    chosen = held_out_ids(ids, 0.1)
    assert chosen == held_out_ids(list(reversed(ids)), 0.1)
    assert chosen <= held_out_ids(ids + ["more", "clips"], 0.1)
    assert len(held_out_ids(["a", "b"], 0.01)) == 1
