"""AU requests at intensity 0 are valid everywhere; edit-au with nothing to do is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from fgemotalk_cli.cli import app
from fgemotalk_cli.media.images import load_image

runner = CliRunner()


def test_edit_au_at_zero_returns_the_source_unchanged(shared_media: Path,
                                                     tmp_path: Path) -> None:
    source = shared_media / "portraits" / "sadtalker_sad.png"
    target = tmp_path / "same.png"
    result = runner.invoke(app, ["edit-au", str(source), "--au", "12=0", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert np.array_equal(load_image(target), load_image(source))


def test_edit_au_without_any_request_is_refused(shared_media: Path, tmp_path: Path) -> None:
    source = shared_media / "portraits" / "sadtalker_sad.png"
    result = runner.invoke(app, ["edit-au", str(source), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "needs --au" in result.stderr
    assert not (tmp_path / "x.png").exists()
