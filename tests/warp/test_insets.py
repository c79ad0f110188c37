"""Picture-in-picture insets (engines/warp/insets.py): found in the corner where a thumbnail
was pasted, not in photos, and left still by the layers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fgemotalk_cli.engines.warp.insets import inset_boxes
from fgemotalk_cli.media.images import load_image


def _photo(size: tuple[int, int] = (400, 300)) -> np.ndarray:
    """A smooth studio backdrop (a gradient, a little noise) with a soft blob (a person)."""
    rng = np.random.default_rng(4)
    height, width = size
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    image = 120 + 30 * xx / width + rng.normal(0, 0.8, (height, width))
    blob = np.exp(-(((xx - width / 2) / (0.2 * width)) ** 2 + ((yy - height / 2)
                                                                 / (0.3 * height)) ** 2))
    image = image * (1 - blob) + 70 * blob
    return np.clip(np.repeat(image[..., None], 3, axis=2), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("corner", ["bottom left", "top right"])
def test_a_pasted_thumbnail_is_found_in_its_corner(corner: str) -> None:
    image = _photo()
    thumbnail = cv2.resize(_photo(), (90, 60), interpolation=cv2.INTER_AREA)
    # Another shot of the scene, lighter (a faint border on a backdrop of the thumbnail's own
    # colour is the shared vasa1_3's, below).
    thumbnail = np.clip(thumbnail.astype(np.int16) + 30, 0, 255).astype(np.uint8)
    if corner == "bottom left":
        image[340:, :90] = thumbnail
        expected = (0, 340, 90, 400)
    else:
        image[:60, 210:] = thumbnail
        expected = (210, 0, 300, 60)
    (box,) = inset_boxes(image)
    assert np.abs(np.array(box) - expected).max() <= 2


def test_a_natural_straight_edge_is_no_inset() -> None:
    # A table's edge and a door frame meeting at a corner, as a lens draws them: blurred.
    image = _photo()
    image[330:, :110] = 200
    image = cv2.GaussianBlur(image, (0, 0), 1.2)
    assert inset_boxes(image) == []
    assert inset_boxes(_photo()) == []


def test_the_shared_portraits_with_a_thumbnail_keep_it_still(shared_media: Path) -> None:
    from fgemotalk_cli.engines.warp.motion import DriverMotion, place
    from fgemotalk_cli.engines.warp.render import prepare_source, render_warp
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.faces.landmarks import rotation_from_angles

    found = {path.stem: inset_boxes(load_image(path))
             for path in sorted((shared_media / "portraits").glob("*"))}
    assert found.pop("vexpress_vasa1_3_ref") == [(0, 448, 128, 512)]
    assert found.pop("vexpress_vasa1_13_ref") == [(0, 448, 128, 512)]
    assert not any(found.values()), found
    image = load_image(shared_media / "portraits" / "vexpress_vasa1_3_ref.jpg")
    source = prepare_source(image, detect_source_face(image))
    geometry = source.geometry
    rolled = geometry.frame.rotation @ rotation_from_angles(0, -10, 12) @ geometry.frame.rotation.T
    motion = DriverMotion(DriverMotion.still().expression, rolled, np.array([0.0, -0.3]), 1.0)
    frame = render_warp(source, place(geometry, geometry.face, motion))
    # The thumbnail is drawn as the photo has it, in front of the moved body ...
    assert np.array_equal(frame[448:, :128], image[448:, :128])
    assert np.abs(frame[300:448].astype(int) - image[300:448]).mean() > 5  # (it moved)
    # ... and a body moved up from behind it continues above it, not cut along a straight
    # line: behind the thumbnail the person layer is the person mirrored across its top
    # border, as beyond the photo's own edge (not across its side: the neck beside it is
    # not doubled).
    foreground = source.layers.foreground
    assert np.array_equal(foreground[448:512, :128], foreground[447:383:-1, :128])


def test_a_border_across_the_face_is_no_inset(shared_media: Path, monkeypatch) -> None:
    # Were a corner box ever found over the face, the layers would not paste it still over
    # a moving face: it is dropped.
    import fgemotalk_cli.engines.warp.layers as layers_module
    from fgemotalk_cli.engines.warp.render import prepare_source
    from fgemotalk_cli.faces.detector import detect_source_face

    image = load_image(shared_media / "portraits" / "vexpress_vasa1_3_ref.jpg")
    height, width = image.shape[:2]
    over_face = (0, height // 2, width // 2, height)  # the lower left quarter: the chin
    monkeypatch.setattr(layers_module, "inset_boxes",
                        lambda picture: [over_face, (0, 448, 128, 512)])
    layers = prepare_source(image, detect_source_face(image)).layers
    assert layers.insets == ((0, 448, 128, 512),)
