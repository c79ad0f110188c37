"""edit-au on images: the edit is real (pixels move where the AU acts), the grid is laid out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fgemotalk_cli import api
from fgemotalk_cli.cli import app
from fgemotalk_cli.expression.aus import expression_control
from fgemotalk_cli.media.images import load_image
from fgemotalk_cli.options import RunOptions

OPTIONS = RunOptions(engine="warp", show_progress=False)


@pytest.mark.media
def test_edit_image_changes_face_not_background(shared_media: Path, tmp_path: Path) -> None:
    source = shared_media / "portraits" / "liveportrait_s42.jpg"
    result = api.edit_au(source, tmp_path / "smile.png", control=expression_control(["12=5"]),
                         options=OPTIONS)
    before = load_image(source).astype(np.float32)
    after = load_image(result.output).astype(np.float32)
    assert after.shape == before.shape
    difference = np.abs(after - before).mean(axis=2)
    height = before.shape[0]
    assert difference[: height // 10].mean() < 1.0      # top band: background untouched
    assert difference.max() > 40                         # the mouth really moved


@pytest.mark.media
def test_grid_has_one_row_per_au(shared_media: Path, tmp_path: Path) -> None:
    from fgemotalk_cli.pipelines.edit import GRID_CELL, GRID_HEADER, GRID_LABEL_WIDTH

    source = shared_media / "portraits" / "sadtalker_sad.png"
    runner = CliRunner()
    output = tmp_path / "grid.png"
    done = runner.invoke(app, ["edit-au", str(source), "--grid", "--grid-aus", "1,12,26",
                               "-o", str(output), "--quiet", "--engine", "warp"])
    assert done.exit_code == 0, done.output
    sheet = load_image(output)
    assert sheet.shape[0] == GRID_HEADER + 3 * GRID_CELL
    assert sheet.shape[1] == GRID_LABEL_WIDTH + 6 * GRID_CELL
    row = slice(GRID_HEADER + 2 * GRID_CELL, GRID_HEADER + 3 * GRID_CELL)  # AU26 row
    first = sheet[row, GRID_LABEL_WIDTH:GRID_LABEL_WIDTH + GRID_CELL].astype(np.float32)
    last = sheet[row, GRID_LABEL_WIDTH + 5 * GRID_CELL:].astype(np.float32)
    assert np.abs(last - first).mean() > 3  # intensity 5 differs visibly from 0


def test_edit_requires_an_edit(tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    done = CliRunner().invoke(app, ["edit-au", str(image)])
    assert done.exit_code == 2
    assert "needs --au, --preset or --au-timeline" in done.stderr
