"""Tiles for review sheets: a labelled crop of a box at a fixed width, rows of tiles of
different heights padded to one, and the sheet of such rows written as a PNG."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np


def box_tile(image: np.ndarray, box: tuple[float, float, float, float], label: str,
             width: int) -> np.ndarray:
    """The box x0, y0, x1, y1 of ``image`` (edges replicated where it reaches beyond) scaled to
    ``width`` pixels wide, ``label`` written in its corner."""
    import cv2

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    pad = int(max(0, -x0, -y0, x1 - image.shape[1], y1 - image.shape[0])) + 1
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pad:y1 + pad, x0 + pad:x1 + pad]
    height = int(round(width * crop.shape[0] / max(crop.shape[1], 1)))
    tile = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA
                      if crop.shape[1] > width else cv2.INTER_CUBIC)
    cv2.putText(tile, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1,
                cv2.LINE_AA)
    return np.ascontiguousarray(tile)


def tile_row(tiles: list[np.ndarray], count: int) -> np.ndarray:
    """``tiles`` side by side, padded below to the tallest and on the right to ``count``."""
    height = max(t.shape[0] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    padded += [np.zeros_like(padded[0])] * (count - len(padded))
    return np.hstack(padded)


def edit_vectors(edits: str) -> tuple[list[dict[int, float]], list[str]]:
    """The AU vectors of ``edits`` (``--au`` specs separated by ';': ``2=5;1=5,2=5``) and a
    label for each."""
    from fgemotalk_cli.expression.aus import parse_au_spec

    vectors = [parse_au_spec(edit) for edit in edits.split(";") if edit]
    return vectors, ["+".join(f"{k}={v:g}" for k, v in vector.items()) for vector in vectors]


def picked_frames(path: Path, indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) of the clip's frames at ``indices``, in order; decoding stops
    after the last."""
    from fgemotalk_cli.media.video import iter_frames

    wanted, last = set(indices), max(indices)
    for index, frame in enumerate(iter_frames(path)):
        if index > last:
            return
        if index in wanted:
            yield index, frame.image


def clip_rows(specs: str, clip_path: Callable[[str], Path],
              make_tile: Callable[[str, int, np.ndarray], np.ndarray],
              count: int) -> list[np.ndarray]:
    """One row per clip of ``specs`` (``name:0,40,80;other:12``): ``make_tile(name, index,
    frame)`` for each frame asked for (the first ``count``), the clip found by
    ``clip_path(name)``."""
    rows = []
    for spec in [s for s in specs.split(";") if s]:
        name, frames = spec.rsplit(":", 1)
        indices = [int(f) for f in frames.split(",")]
        tiles = [make_tile(name, index, frame)
                 for index, frame in picked_frames(clip_path(name), indices)][:count]
        if tiles:
            rows.append(tile_row(tiles, count))
    return rows


def write_sheet(path: Path, rows: list[np.ndarray]) -> None:
    """The RGB ``rows`` stacked (narrower ones padded on the right) into the PNG ``path``."""
    import cv2

    width = max(row.shape[1] for row in rows)
    sheet = np.vstack([np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)))
                       for row in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(path, sheet.shape)
