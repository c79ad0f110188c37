"""Output at the source's resolution: exact image sizes, large photos, --max-size, pose options."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from fgemotalk_cli import api
from fgemotalk_cli.cli import app
from fgemotalk_cli.errors import InputError
from fgemotalk_cli.expression.aus import expression_control
from fgemotalk_cli.media.encode import VideoWriter
from fgemotalk_cli.media.images import load_image, save_image
from fgemotalk_cli.media.video import iter_frames, probe_video
from fgemotalk_cli.options import RunOptions

OPTIONS = RunOptions(engine="warp", show_progress=False)
runner = CliRunner()


@pytest.mark.media
def test_edit_au_keeps_an_odd_image_size(shared_media: Path, tmp_path: Path) -> None:
    source = shared_media / "portraits" / "liveportrait_s12.jpg"  # 375x500
    result = api.edit_au(source, tmp_path / "odd.png", control=expression_control(["12=4"]),
                         options=OPTIONS)
    assert load_image(result.output).shape == load_image(source).shape
    assert not result.warnings


@pytest.mark.media
def test_a_large_photo_keeps_its_size_or_says_it_was_downscaled(shared_media: Path,
                                                                 tmp_path: Path) -> None:
    photo = load_image(shared_media / "portraits" / "liveportrait_s42.jpg")
    big = tmp_path / "big.png"
    save_image(big, cv2.resize(photo, (1537, 1537), interpolation=cv2.INTER_CUBIC))
    kept = api.edit_au(big, tmp_path / "kept.png", control=expression_control(["12=4"]),
                       options=OPTIONS)
    assert load_image(kept.output).shape[:2] == (1537, 1537)
    small = RunOptions(engine="warp", show_progress=False, max_size=1000)
    shrunk = api.edit_au(big, tmp_path / "shrunk.png", control=expression_control(["12=4"]),
                         options=small)
    assert load_image(shrunk.output).shape[:2] == (1000, 1000)
    assert any("downscaled" in warning and "--max-size" in warning
               for warning in shrunk.warnings)


@pytest.mark.media
def test_reenact_output_has_the_source_size(shared_media: Path, tmp_path: Path) -> None:
    """A 600x900 portrait driven by a 512 px clip gives a 600x900 video (even sides already),
    and the s12 portrait (375x500) a video padded by at most one pixel."""
    driver = tmp_path / "driver.mp4"
    clip = shared_media / "driving" / "sadtalker_WDA_KatieHill_000.mp4"
    with VideoWriter(driver, fps=probe_video(clip).fps, preset="veryfast") as writer:
        for index, frame in enumerate(iter_frames(clip)):
            if index == 6:
                break
            writer.write(frame.image)
    for name, size in (("liveportrait_d30.jpg", (600, 900)), ("liveportrait_s12.jpg",
                                                              (376, 500))):
        result = api.reenact(shared_media / "portraits" / name, driver, tmp_path / f"{name}.mp4",
                             options=OPTIONS)
        info = probe_video(result.output)
        assert (info.width, info.height) == size


def test_pose_and_size_options_are_checked() -> None:
    with pytest.raises(InputError, match="pose-scale"):
        RunOptions(pose_scale=1.5)
    with pytest.raises(InputError, match="--pose"):
        RunOptions(pose="camera")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="max-size"):
        RunOptions(max_size=10)


def test_cli_rejects_a_bad_pose_scale(tmp_path: Path) -> None:
    image = tmp_path / "face.png"
    save_image(image, np.full((64, 64, 3), 128, np.uint8))
    driver = tmp_path / "driver.mp4"
    driver.write_bytes(b"")
    result = runner.invoke(app, ["reenact", str(image), str(driver), "--pose-scale", "2"])
    assert result.exit_code == 2
    assert "pose-scale" in result.output
