"""Picture-in-picture insets: a thumbnail pasted into a corner of the photo.

Frames taken from demo videos often carry one (VASA-1's reference frames, and so V-Express's
and the shared vexpress_vasa1_3 and _13 portraits: the driving clip's thumbnail at the bottom
left, cut by the frame's edge). The person segmentation takes the thumbnail for part of the
person, so it moved with the body, and beyond the photo's bottom edge it was mirrored: a
second, stretched face with doubled eyes at the corner. An inset is part of the picture's
background, and :func:`inset_boxes` finds it so that the layers leave it still.

What marks one: two straight borders, one along a row from the photo's side edge and one
along a column from its top or bottom edge, meeting at a corner and stopping there. A pasted
border is a one-pixel step: its mean step is many times that of the rows (or columns) beside
it, even where the thumbnail's background matches the photo's (vasa1_3: 7.8 grey levels
against 0.6). A natural straight edge (a table's, d30's) is blurred over a few pixels by the
lens and reads at most 4 times its neighbours; the insets read 7-17. [ours]
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp.plate import Box

_SIDE = 512  # the borders are looked for on a copy this size
_MIN_STEP = 2.0  # grey levels: the least mean step along a border
_MIN_SHARPNESS = 6.0  # a border's mean step over its neighbours' (each + 0.5)
_WIDTH = (0.12, 0.5)  # an inset's width, of the photo's
_HEIGHT = (0.08, 0.5)  # and its height
_STOP = 0.5  # past the corner each border's step is below this share of its own


def inset_boxes(image: np.ndarray) -> list[Box]:
    """The corner insets of ``image`` (H, W, 3 uint8 RGB) as boxes in its pixels."""
    import cv2

    height, width = image.shape[:2]
    scale = min(1.0, _SIDE / max(height, width))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small_height, small_width = grey.shape
    if min(small_height, small_width) < 48:
        return []
    boxes = []
    for flip_rows in (False, True):
        for flip_columns in (False, True):
            view = grey[::-1] if flip_rows else grey
            view = view[:, ::-1] if flip_columns else view
            corner = _bottom_left_corner(np.ascontiguousarray(view))
            if corner is None:
                continue
            row, column = corner  # the inset's first row, the first column right of it
            y0, y1 = (0, small_height - row) if flip_rows else (row, small_height)
            x0, x1 = (small_width - column, small_width) if flip_columns else (0, column)
            boxes.append((int(round(x0 / scale)), int(round(y0 / scale)),
                          min(int(round(x1 / scale)), width), min(int(round(y1 / scale)), height)))
    return boxes


def _bottom_left_corner(grey: np.ndarray) -> tuple[int, int] | None:
    """The sharpest inset at the bottom left of ``grey``: its top row and the column just
    right of it, or None."""
    height, width = grey.shape
    row_steps = np.abs(grey[1:] - grey[:-1])  # [r - 1]: between rows r - 1 and r
    column_steps = np.abs(grey[:, 1:] - grey[:, :-1])  # [:, c - 1]: columns c - 1 and c
    # Sums of a row's steps over columns [0, x) and of a column's over rows [r, height).
    along_rows = np.concatenate([np.zeros((height - 1, 1), np.float32),
                                 np.cumsum(row_steps, axis=1)], axis=1)
    down_columns = np.concatenate([np.cumsum(column_steps[::-1], axis=0)[::-1],
                                   np.zeros((1, width - 1), np.float32)], axis=0)
    rows = np.arange(max(3, int(height * (1 - _HEIGHT[1]))), int(height * (1 - _HEIGHT[0])))
    columns = np.arange(max(3, int(width * _WIDTH[0])), min(int(width * _WIDTH[1]), width - 3))
    reach = max(6, width // 50, height // 50)
    columns = columns[columns + 1 + reach <= width]
    rows = rows[rows - 1 - reach >= 0]
    if not len(rows) or not len(columns):
        return None
    r, x = rows[:, None], columns[None, :]
    top = along_rows[r - 1, x] / x
    top_beside = (along_rows[r - 3, x] + along_rows[r + 1, x]) / (2 * x)
    length = (height - r).astype(np.float32)
    side = down_columns[r, x - 1] / length
    side_beside = (down_columns[r, x - 3] + down_columns[r, x + 1]) / (2 * length)
    sharpness = np.minimum(top / (top_beside + 0.5), side / (side_beside + 0.5))
    past_corner = (along_rows[r - 1, x + 1 + reach] - along_rows[r - 1, x + 1]) / reach
    above_corner = (down_columns[r - 1 - reach, x - 1] - down_columns[r - 1, x - 1]) / reach
    found = ((top >= _MIN_STEP) & (side >= _MIN_STEP) & (sharpness >= _MIN_SHARPNESS)
             & (past_corner < _STOP * top) & (above_corner < _STOP * side))
    if not found.any():
        return None
    best = np.unravel_index(int(np.argmax(np.where(found, sharpness, -1.0))), found.shape)
    return int(rows[best[0]]), int(columns[best[1]])
