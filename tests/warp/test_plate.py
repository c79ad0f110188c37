"""The background plate's soft matte (fine hair beyond the segmentation's mask) and the
person sampled beyond the photo's edge."""

from __future__ import annotations

import cv2
import numpy as np

from fgemotalk_cli.engines.warp.layers import HeadRegion, SourceLayers, _edge_alpha, composite
from fgemotalk_cli.engines.warp.plate import soft_matte

SIZE, IOD = 160, 48.0  # the matte looks 0.25 IOD (12 px) beyond the mask


def _head_with_wisps(background: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dark hair (a disc) with thin strands reaching 9 px beyond it over ``background``; the
    mask (as a 256 px segmentation gives it) covers the disc only. The image, the mask and
    where the strands are."""
    image = background.copy()
    centre, radius = (SIZE // 2, SIZE // 2), 40
    cv2.circle(image, centre, radius, (40, 30, 25), -1)
    strands = np.zeros((SIZE, SIZE), np.uint8)
    for angle in np.linspace(0.0, np.pi, 9):
        inner = np.array(centre) + (radius - 2) * np.array([np.cos(angle), -np.sin(angle)])
        outer = np.array(centre) + (radius + 9) * np.array([np.cos(angle), -np.sin(angle)])
        cv2.line(strands, tuple(int(v) for v in inner), tuple(int(v) for v in outer), 1, 1)
    image[strands > 0] = (40, 30, 25)
    disc = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(disc, centre, radius, 1, -1)
    beyond = (strands > 0) & (cv2.dilate(disc, np.ones((5, 5), np.uint8)) == 0)
    core = cv2.GaussianBlur(disc.astype(np.float32), (0, 0), 1.0)
    return image, core, beyond


def test_the_matte_carries_the_wisps_beyond_the_mask_on_a_plain_background() -> None:
    rng = np.random.default_rng(0)
    plain = np.clip(215 + rng.normal(0, 1.5, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    image, core, strands = _head_with_wisps(plain)
    alpha = soft_matte(image, np.full((SIZE, SIZE, 3), 215.0, np.float32), core, IOD)
    assert strands.sum() > 20
    assert core[strands].max() < 0.05  # the mask misses them
    assert np.median(alpha[strands]) > 0.7
    # The background beside them, and far from the head, stays background.
    ring = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(ring, (SIZE // 2, SIZE // 2), 48, 1, 3)
    gaps = (ring > 0) & (cv2.dilate(strands.astype(np.uint8), np.ones((5, 5), np.uint8)) == 0)
    assert alpha[gaps].max() < 0.05
    assert alpha[:, :8].max() == 0.0
    # The matte only adds to the mask.
    assert (alpha >= core).all()


def test_the_matte_leaves_a_textured_background_alone() -> None:
    # Stripes of the hair's own darkness: a matte against a guessed plate would take the dark
    # stripes near the head for hair and drag them along with it.
    columns = (np.arange(SIZE) // 3) % 2
    stripes = np.where(columns[None, :, None] == 0, 230, 45).astype(np.uint8)
    stripes = np.repeat(np.repeat(stripes, SIZE, axis=0), 3, axis=2)
    image, core, strands = _head_with_wisps(stripes)
    guess = cv2.GaussianBlur(stripes.astype(np.float32), (0, 0), 6.0)  # a fill has no stripes
    alpha = soft_matte(image, guess, core, IOD)
    assert np.abs(alpha - core).max() < 0.02


def _layers(person: np.ndarray, colour: np.ndarray, contact_px: int = 8) -> SourceLayers:
    height, width = person.shape
    foreground = np.dstack([colour, np.round(255 * person)]).astype(np.uint8)
    head = HeadRegion(np.array([width / 2, height / 2]), np.eye(2), 20.0, 1.0)
    return SourceLayers(plate=np.full((height, width, 3), 200, np.uint8),
                        foreground=foreground, person=person.astype(np.float32), head=head,
                        person_box=(0, 0, width, height),
                        edge_alpha=_edge_alpha(foreground[..., 3], contact_px))


def test_beyond_the_edge_the_person_continues_mirrored_only_where_it_reaches_the_edge() -> None:
    height, width, shift = 64, 48, 10
    rows = np.arange(height, dtype=np.float32)
    colour = np.repeat(np.repeat((4 * rows)[:, None, None], width, axis=1), 3, axis=2)
    # Hair cut by the top edge on the left half; a head well inside the photo on the right,
    # a tuft of it (3 px wide) grazing the edge.
    person = np.zeros((height, width), np.float32)
    person[:32, : width // 2] = 1.0
    person[14:40, width // 2:] = 1.0
    person[:14, width - 10: width - 7] = 1.0
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), rows)
    moved_down = np.dstack([xs, ys - shift]).astype(np.float32)
    out, alpha = composite(_layers(person, colour), moved_down, (0, 0, width, height))
    left, right = slice(0, width // 2 - 2), slice(width // 2 + 2, width)
    # Row y above the edge samples row shift - 1 - y: the hair's own rows, mirrored, not its
    # top row smeared into columns.
    expected = 4 * (shift - 1 - rows[:shift])
    assert np.abs(out[:shift, left, 0].astype(float) - expected[:, None]).max() <= 1
    assert (alpha[:shift, left] == 255).all()
    # The head inside the photo is not mirrored in above the edge (its rows 0..9 are
    # background), nor is the tuft drawn on as a column: the frame there is the plate.
    assert (alpha[:shift, right] == 0).all()
    assert (out[:shift, right] == 200).all()
