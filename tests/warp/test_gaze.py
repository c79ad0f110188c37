"""Gaze transfer (engines/warp/gaze.py) and the iris layer that draws it (engines/warp/iris.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fgemotalk_cli.cli import app
from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.driven import DrivenLayers, render_driven
from fgemotalk_cli.engines.warp.gaze import GazeTransfer, eye_gaze
from fgemotalk_cli.engines.warp.iris import IrisLayer
from fgemotalk_cli.engines.warp.render import render_warp
from fgemotalk_cli.errors import InputError
from fgemotalk_cli.media.images import save_image
from fgemotalk_cli.options import RunOptions
from tests.warp.conftest import WarpCase

IRISES = (L.RIGHT_IRIS, L.LEFT_IRIS)


def _looking(face: np.ndarray, along_eye_widths: float) -> np.ndarray:
    """The face with both irises moved towards the subject's left by this many eye widths."""
    out = face.copy()
    for iris, (outer, inner) in zip(IRISES, (L.RIGHT_EYE_CORNERS, L.LEFT_EYE_CORNERS)):
        width = abs(face[inner, 0] - face[outer, 0])
        out[list(iris), 0] += along_eye_widths * width
    return out


def _closed(face: np.ndarray) -> np.ndarray:
    out = face.copy()
    lids = ((L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID), (L.LEFT_UPPER_LID, L.LEFT_LOWER_LID))
    for upper, lower in lids:
        out[list(upper), 1] = out[list(lower), 1]
    return out


def test_driver_gaze_moves_the_source_irises_by_eye_widths(warp_cases: list[WarpCase]) -> None:
    geometry = warp_cases[0].source.geometry
    face = geometry.face
    gaze = GazeTransfer(face, face, "driver", geometry.visible_iris)
    gaze.update(_looking(face, 0.1))
    moved = gaze.apply(face)
    assert np.allclose(eye_gaze(moved) - eye_gaze(face), [[0.1, 0.0], [0.1, 0.0]], atol=0.01)
    for iris in IRISES:  # the iris keeps its own shape
        assert np.allclose(moved[list(iris), :2] - moved[iris[0], :2],
                           face[list(iris), :2] - face[iris[0], :2])
    source_mode = GazeTransfer(face, face, "source", geometry.visible_iris)
    source_mode.update(_looking(face, 0.1))
    assert np.allclose(eye_gaze(source_mode.apply(face)), eye_gaze(face), atol=1e-9)


def test_gaze_stays_inside_the_eye_and_holds_through_blinks(warp_cases: list[WarpCase]) -> None:
    geometry = warp_cases[0].source.geometry
    face = geometry.face
    gaze = GazeTransfer(face, face, "driver", geometry.visible_iris)
    gaze.update(_looking(face, 0.3))  # a glance further than the gaze change allowed
    assert gaze.untrusted_frames == 0 and gaze.shift[0] == pytest.approx(0.22)
    far = gaze.apply(face)
    for iris, (outer, inner) in zip(IRISES, (L.RIGHT_EYE_CORNERS, L.LEFT_EYE_CORNERS)):
        low, high = sorted((face[outer, 0], face[inner, 0]))
        assert low < far[iris[0], 0] < high
        radius = np.max(np.abs(far[list(iris), 0] - far[iris[0], 0]))
        assert far[iris[0], 0] + 0.5 * radius < high
    held = gaze.shift.copy()
    gaze.update(_looking(_closed(face), -0.3))  # a blink: its iris points are not trusted
    assert np.array_equal(gaze.shift, held) and gaze.untrusted_frames == 1
    with pytest.raises(InputError, match="--gaze"):
        GazeTransfer(face, face, "camera")  # type: ignore[arg-type]


def test_iris_layer_draws_the_iris_where_asked_and_only_in_the_eyes(
        warp_cases: list[WarpCase], still_detector) -> None:  # noqa: ANN001
    source = warp_cases[0].source
    layer = IrisLayer.from_source(source)
    points = source.points.copy()
    width = abs(points[L.RIGHT_EYE_CORNERS[1], 0] - points[L.RIGHT_EYE_CORNERS[0], 0])
    asked = points.copy()
    for iris in IRISES:
        asked[list(iris), 0] += 0.15 * width
    frame = render_driven(source, asked, None, DrivenLayers(irises=layer))
    warp_target, requested = layer.warp_target(asked)
    plain = render_warp(source, warp_target, None)
    # The warp itself keeps the irises at home; only the eye openings are repainted.
    assert np.allclose(warp_target[list(IRISES[0]), :2], points[list(IRISES[0]), :2], atol=0.5)
    changed = np.argwhere(np.any(frame != plain, axis=2))
    eyes = points[[*L.RIGHT_UPPER_LID, *L.RIGHT_LOWER_LID, *L.LEFT_UPPER_LID, *L.LEFT_LOWER_LID,
                   *L.RIGHT_EYE_CORNERS, *L.LEFT_EYE_CORNERS], :2]
    assert len(changed) > 0
    rows, columns = changed[:, 0], changed[:, 1]
    assert columns.min() >= eyes[:, 0].min() - 3 and columns.max() <= eyes[:, 0].max() + 3
    assert rows.min() >= eyes[:, 1].min() - 3 and rows.max() <= eyes[:, 1].max() + 3
    found = np.asarray(still_detector.detect(frame)[0].points, np.float64)
    for eye, iris in enumerate(IRISES):
        moved = found[iris[0], 0] - points[iris[0], 0]
        assert moved > 0.6 * (requested[eye, 0] - points[iris[0], 0])


def test_gaze_option_is_checked(tmp_path: Path) -> None:
    assert RunOptions().gaze == "driver"
    with pytest.raises(InputError, match="--gaze"):
        RunOptions(gaze="camera")  # type: ignore[arg-type]
    image, driver = tmp_path / "face.png", tmp_path / "driver.mp4"
    save_image(image, np.full((64, 64, 3), 128, np.uint8))
    driver.write_bytes(b"")
    result = CliRunner().invoke(app, ["reenact", str(image), str(driver), "--gaze", "camera"])
    assert result.exit_code == 2 and "--gaze" in result.output
