"""Tracing a glasses frame: the rims, the bridge, and the band of pixels that is the frame.

A frame is a thin line structure (dark plastic, or metal that is darker or brighter than the
skin) that runs as one smooth closed curve around each eye and crosses the nose between
them. The frame mask must be that curve at its own width and nothing else: a mask that takes
the brows' lower edge, the lashes or the lid creases along freezes skin that must move.

- The thin-structure response: morphological black-hat / top-hat narrower than a frame is
  wide, inside the region a frame can occupy (around the eyes, within the face, not the eye
  openings, not the brows' core).
- Each rim: sampled in polar coordinates around the eye (rays from its centre, lens-shaped:
  wider than tall), the closed path through the directions that collects the most response
  while its radius changes by at most a few samples from one direction to the next (dynamic
  programming, three laps of the ring so the path closes on itself). A brow's edge or a
  wrinkle wins a few directions alone; a frame wins the ring because it is continuous.
- The bridge: the open path of the same kind across the nose, between the two rims.
- The band: per step, across the path, the run where the thin response stays over
  ``_EDGE`` of its peak (the frame's own width, capped), smoothed along the path; steps
  where the path follows no frame (a half-rim frame's lower edge, a gap) are left out
  unless short, so the band is continuous where the frame is.

:func:`trace_frame` says None when it is unsure: a rim found on less than
``_RIM_COVERAGE`` of its directions, or its upper arc (where the brows move) on less than
``_TOP_COVERAGE``, or a bridge on less than ``_BRIDGE_COVERAGE`` of its columns. Then no
layer is made: glasses bending smoothly with the skin look less broken than a wrong mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

_LINE_CONTRAST = 10.0  # grey levels a thin structure must stand out to count as frame
_ASPECT = 1.3  # lenses are wider than tall
_RADII_IOD = (0.05, 0.75)  # the rays' reach from the eye's centre
_RADIUS_STEP_IOD = 0.005
_DIRECTIONS = 120
_REACH = 2  # samples the path's radius may change from one direction to the next
_JUMP_COST = 0.3  # per sample of radius change, in units of the threshold response
_INNER_COST = 0.003  # per sample of radius: of two equal rings, the one nearer the eye
_MAX_HALF_WIDTH_IOD = 0.05  # a frame's half-width is at most this
_EDGE = 0.3  # a frame's edge: where its response falls under this fraction of its peak
EDGE_GROWTH = 1.0  # thin response (threshold units) of the frame's edge pixels past the band
_GAP = 8  # a run of directions without frame this short is bridged (a highlight, a hinge)
# How much of each piece must stand out (over its threshold) for the tracer to be sure: on
# the bare faces of the test media a ring around the eye is found on up to 0.97 of its
# directions (lid creases, bags, a brow's edge), but the path across the nose on at most
# 0.62 of its columns; on frames, 0.96 and more of each.
_RIM_COVERAGE = 0.85
_TOP_COVERAGE = 0.85
_BRIDGE_COVERAGE = 0.8


@dataclass(frozen=True)
class FramePaths:
    """The traced frame: each piece as the polygons of its band, in image pixels."""

    bands: list[np.ndarray]  # quads (4, 2) float, one per path step that lies on frame
    thin: np.ndarray  # (H, W) the thin-structure response, in its threshold's units


@dataclass(frozen=True)
class _Responses:
    """What the frame is traced on, each in its own threshold's units (1: just frame)."""

    sharp: np.ndarray  # thin and sharp: the path runs along it (line_response and ridges)
    thin: np.ndarray  # thin: the band's width is measured on it (line_response)
    side: np.ndarray  # ``sharp`` as far as the face reaches beside the eyes (temple arms)
    side_thin: np.ndarray  # ``thin`` likewise


def frame_region(xy: np.ndarray, iod: float, shape: tuple[int, int],
                 reach_iod: float = 0.62) -> np.ndarray:
    """uint8 (H, W) 0/1: where a frame can lie: around each eye (``reach_iod`` to either
    side of it) and the bridge, within the face, not the eye openings (lids and lashes
    move), not the brows' core (their hair is the skin's)."""
    import cv2

    height, width = shape
    region: np.ndarray = np.zeros((height, width), np.uint8)
    for corners in (L.RIGHT_EYE_CORNERS, L.LEFT_EYE_CORNERS):
        centre = xy[list(corners), :2].mean(0)
        cv2.ellipse(region, (int(round(centre[0])), int(round(centre[1]))),
                    (int(round(reach_iod * iod)), int(round(0.5 * iod))), 0.0, 0, 360, (1,), -1)
    face = np.zeros_like(region)
    cv2.fillPoly(face, [np.round(xy[list(L.FACE_OVAL), :2]).astype(np.int32)], (1,))
    eyes = np.zeros_like(region)
    for contour in ((*L.RIGHT_EYE_CORNERS[:1], *L.RIGHT_UPPER_LID, *L.RIGHT_EYE_CORNERS[1:],
                     *reversed(L.RIGHT_LOWER_LID)),
                    (*L.LEFT_EYE_CORNERS[:1], *L.LEFT_UPPER_LID, *L.LEFT_EYE_CORNERS[1:],
                     *reversed(L.LEFT_LOWER_LID))):
        cv2.fillPoly(eyes, [np.round(xy[list(contour), :2]).astype(np.int32)], (1,))
    # Narrowly: a frame's top bar often runs just above the upper lid.
    eyes = cv2.dilate(eyes, np.ones((3, 3), np.uint8),
                      iterations=max(1, int(round(0.015 * iod))))
    brows = np.zeros_like(region)
    for contour in (L.RIGHT_BROW_LOWER + tuple(reversed(L.RIGHT_BROW_UPPER)),
                    L.LEFT_BROW_LOWER + tuple(reversed(L.LEFT_BROW_UPPER))):
        cv2.fillPoly(brows, [np.round(xy[list(contour), :2]).astype(np.int32)], (1,))
    brows = cv2.erode(brows, np.ones((3, 3), np.uint8),
                      iterations=max(1, int(round(0.02 * iod))))
    region &= face & (1 - eyes) & (1 - brows)
    return region


def line_response(gray: np.ndarray, iod: float) -> np.ndarray:
    """float32 (H, W): how much a thin dark or bright structure stands out from what is
    around it (black-hat / top-hat with a disc wider than a frame)."""
    import cv2

    size = max(3, int(round(0.09 * iod)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return np.maximum(cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel),
                      cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, kernel)).astype(np.float32)


def ridge_response(gray: np.ndarray, iod: float) -> np.ndarray:
    """float32 (H, W): how sharply a line is curved across, dark or bright (the Hessian's
    eigenvalue of the line's sign, scale-normalised), the best of a thin metal wire's scale
    and a plastic rim's. A lid crease or a wrinkle is a soft valley: a thin structure to the
    black-hat, but a weak ridge at these scales."""
    import cv2

    best = np.zeros(gray.shape, np.float32)
    for sigma in (max(0.8, 0.004 * iod), 0.008 * iod, 0.016 * iod):
        blurred = cv2.GaussianBlur(gray, (0, 0), max(sigma, 0.8))
        xx = cv2.Sobel(blurred, cv2.CV_32F, 2, 0, ksize=3)
        yy = cv2.Sobel(blurred, cv2.CV_32F, 0, 2, ksize=3)
        xy = cv2.Sobel(blurred, cv2.CV_32F, 1, 1, ksize=3)
        spread = np.sqrt((xx - yy) ** 2 + 4 * xy * xy)
        # Sobel's second derivatives are four times the derivative; a line of depth D and a
        # matching width gives about D.
        ridge = np.maximum(xx + yy + spread, -(xx + yy - spread)) * (max(sigma, 0.8) ** 2 / 4)
        np.maximum(best, ridge, out=best)
    return best


def _sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    import cv2

    height, width = field.shape
    px = np.clip(points[..., 0], 0, width - 1).astype(np.float32)
    py = np.clip(points[..., 1], 0, height - 1).astype(np.float32)
    return cv2.remap(field, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=(0.0,))


def best_path(score: np.ndarray, closed: bool) -> np.ndarray:
    """(steps,) indices into ``score`` (steps, samples): the path through the steps that
    maximises the summed score, less ``_JUMP_COST`` per sample the index moves between
    steps (at most ``_REACH``) and ``_INNER_COST`` per sample of index. ``closed``: the
    steps form a ring (solved over three laps, the middle one kept)."""
    steps, samples = score.shape
    laps = np.concatenate([score] * 3) if closed else score
    prior = _INNER_COST * np.arange(samples)
    total = laps[0] - prior
    back = np.zeros(laps.shape, np.int64)
    moves = np.arange(-_REACH, _REACH + 1)
    for step in range(1, len(laps)):
        options = np.full((len(moves), samples), -np.inf)
        for row, move in enumerate(moves):  # arriving at index i from index i - move
            if move >= 0:
                options[row, move:] = total[:samples - move] - _JUMP_COST * move
            else:
                options[row, :move] = total[-move:] + _JUMP_COST * move
        choice = options.argmax(0)
        back[step] = np.arange(samples) - moves[choice]
        total = options[choice, np.arange(samples)] + laps[step] - prior
    path = np.zeros(len(laps), np.int64)
    path[-1] = int(total.argmax())
    for step in range(len(laps) - 1, 0, -1):
        path[step - 1] = back[step, path[step]]
    return path[steps:2 * steps] if closed else path


def _on_frame(strength: np.ndarray, closed: bool) -> np.ndarray:
    """Which steps lie on frame: over the threshold, with short gaps between such steps
    bridged (a highlight on metal, a hinge, a hair crossing)."""
    found = strength >= 1.0
    if not found.any():
        return found
    steps = len(found)
    filled = found.copy()
    order = np.flatnonzero(found)
    pairs = zip(order, np.roll(order, -1)) if closed else zip(order[:-1], order[1:])
    for start, end in pairs:
        gap = (end - start) % steps if closed else end - start
        if 1 < gap <= _GAP + 1:
            filled[(start + np.arange(1, gap)) % steps] = True
    return filled


def _band(centres: np.ndarray, strength: np.ndarray, thin: np.ndarray, iod: float,
          closed: bool, half_width_iod: float = _MAX_HALF_WIDTH_IOD
          ) -> tuple[list[np.ndarray], np.ndarray]:
    """The quads of the band along the path through ``centres`` (steps, 2) whose sharp
    response is ``strength`` (steps,), measured across on the ``thin`` response, and which
    steps lie on frame. The width is measured across the path (along its normal, not along
    the rays the path was found on, which cross the frame obliquely at a lens's corners)."""
    steps = len(centres)
    pad = 2
    if closed:
        wrapped = np.concatenate([centres[-pad:], centres, centres[:pad]])
    else:
        wrapped = np.concatenate([np.repeat(centres[:1], pad, 0), centres,
                                  np.repeat(centres[-1:], pad, 0)])
    # The path smoothed along itself (a running mean over five steps), and its normals.
    smooth = np.lib.stride_tricks.sliding_window_view(wrapped, 2 * pad + 1, axis=0).mean(-1)
    tangent = np.gradient(smooth, axis=0)
    if closed:
        tangent = np.roll(smooth, -1, 0) - np.roll(smooth, 1, 0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-6)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
    offsets = np.arange(-half_width_iod * iod, half_width_iod * iod + 0.25, 0.5)
    profile = _sample(thin, smooth[:, None] + offsets[None, :, None] * normal[:, None])
    middle = len(offsets) // 2
    # The peak near the path (within two pixels), then the run around it over ``_EDGE``.
    near = np.abs(offsets) <= 2.0
    peak_at = np.flatnonzero(near)[profile[:, near].argmax(1)]
    index = np.arange(steps)
    peak = profile[index, peak_at]
    inner, outer = offsets[peak_at].copy(), offsets[peak_at].copy()
    for side, ends in ((-1, inner), (1, outer)):
        alive = np.ones(steps, bool)
        previous = peak
        for shift in range(1, middle + 1):
            at = np.clip(peak_at + side * shift, 0, len(offsets) - 1)
            value = profile[index, at]
            # Over ``_EDGE`` of the peak, not rising again (a brow or lash beside the frame).
            alive &= (value >= _EDGE * peak) & (value <= previous + 0.1)
            previous = value
            ends[alive] = offsets[at[alive]]
    for ends in (inner, outer):  # a running median along the path: one stray step is no edge
        padded = np.concatenate([ends[-pad:], ends, ends[:pad]]) if closed else np.pad(
            ends, pad, mode="edge")
        ends[:] = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * pad + 1), 1)
    on_frame = _on_frame(strength, closed)
    # A pixel beyond the run on each side: the frame's anti-aliased edge.
    inner_points = smooth + (inner - 1.0)[:, None] * normal
    outer_points = smooth + (outer + 1.0)[:, None] * normal
    quads = []
    for step in range(steps if closed else steps - 1):
        following = (step + 1) % steps
        if on_frame[step] and on_frame[following]:
            quads.append(np.array([inner_points[step], inner_points[following],
                                   outer_points[following], outer_points[step]]))
    return quads, on_frame


def _rim(responses: _Responses, centre: np.ndarray,
         iod: float) -> tuple[list[np.ndarray], np.ndarray] | None:
    """The band of the rim around the eye centred at ``centre``, or None when the rim is
    not found on enough of the ring (above all its upper arc)."""
    angles = np.linspace(0.0, 2 * np.pi, _DIRECTIONS, endpoint=False)
    radii = np.arange(_RADII_IOD[0], _RADII_IOD[1], _RADIUS_STEP_IOD) * iod
    directions = np.stack([_ASPECT * np.cos(angles), np.sin(angles)], 1)
    points = centre + radii[None, :, None] * directions[:, None]  # (angles, radii, 2)
    strength = _sample(responses.sharp, points)
    path = best_path(np.minimum(strength, 3.0), closed=True)
    index = np.arange(_DIRECTIONS)
    centres = points[index, path]
    along = strength[index, path]
    found = along >= 1.0
    upper = np.sin(angles) < -0.3  # image y grows downwards
    if found.mean() < _RIM_COVERAGE or found[upper].mean() < _TOP_COVERAGE:
        return None
    quads, _ = _band(centres, along, responses.thin, iod, closed=True)
    return quads, centres


def _bridge(responses: _Responses, xy: np.ndarray, rims: list[np.ndarray],
            iod: float) -> list[np.ndarray] | None:
    """The band of the bridge between the two rims' nasal sides, or None when too little
    of it is found."""
    right_centre = xy[list(L.RIGHT_EYE_CORNERS), :2].mean(0)
    left_centre = xy[list(L.LEFT_EYE_CORNERS), :2].mean(0)
    along = left_centre - right_centre
    along /= max(float(np.linalg.norm(along)), 1e-6)
    up = np.array([along[1], -along[0]])
    if up[1] > 0:
        up = -up
    # From the right rim's nasal extreme to the left rim's, a little into each rim.
    start = float(((rims[0] - right_centre) @ along).max()) - 0.03 * iod
    end = float(((rims[1] - right_centre) @ along).min()) + 0.03 * iod
    if end - start < 0.05 * iod:
        return None
    columns = right_centre + np.linspace(start, end, 24)[:, None] * along
    offsets = np.arange(-0.15, 0.4, _RADIUS_STEP_IOD) * iod
    points = columns[:, None] + offsets[None, :, None] * up  # (columns, offsets, 2)
    strength = _sample(responses.sharp, points)
    path = best_path(np.minimum(strength, 3.0), closed=False)
    index = np.arange(len(points))
    # A bridge is often thicker than the rims (a plastic frame's saddle).
    along = strength[index, path]
    if (along[3:-3] >= 1.0).mean() < _BRIDGE_COVERAGE:  # the columns over the nose
        return None
    quads, _ = _band(points[index, path], along, responses.thin, iod, closed=False,
                     half_width_iod=1.6 * _MAX_HALF_WIDTH_IOD)
    return quads


def _temple(responses: _Responses, xy: np.ndarray, rim: np.ndarray, right: bool,
            iod: float) -> list[np.ndarray]:
    """The band of a temple arm's start (the end piece and the arm, as far as the face
    reaches), from the rim's upper outer corner outwards, as long as it runs unbroken; no
    quads when there is none to see."""
    centre = xy[list(L.RIGHT_EYE_CORNERS if right else L.LEFT_EYE_CORNERS), :2].mean(0)
    other = xy[list(L.LEFT_EYE_CORNERS if right else L.RIGHT_EYE_CORNERS), :2].mean(0)
    outwards = centre - other
    outwards /= max(float(np.linalg.norm(outwards)), 1e-6)
    up = np.array([outwards[1], -outwards[0]])
    if up[1] > 0:
        up = -up
    relative = rim - centre
    upper = relative @ up > 0
    if not upper.any():
        return []
    start = rim[np.flatnonzero(upper)[(relative[upper] @ outwards).argmax()]]
    columns = start + np.linspace(-0.03, 0.3, 24)[:, None] * iod * outwards
    offsets = np.arange(-0.1, 0.1, _RADIUS_STEP_IOD) * iod
    points = columns[:, None] + offsets[None, :, None] * up
    strength = _sample(responses.side, points)
    path = best_path(np.minimum(strength, 3.0), closed=False)
    index = np.arange(len(points))
    along = strength[index, path]
    # The unbroken run from the rim: a line further out is the hair's or the ear's.
    broken = np.flatnonzero(~_on_frame(along, closed=False))
    if len(broken):
        along = np.where(index < broken[0], along, 0.0)
    quads, _ = _band(points[index, path], along, responses.side_thin, iod, closed=False)
    return quads


def trace_frame(gray: np.ndarray, xy: np.ndarray) -> FramePaths | None:
    """The frame of the glasses on the face at ``xy`` in ``gray`` (float32 grey levels),
    or None when the rims or the bridge are not found with confidence."""
    iod = float(np.linalg.norm(xy[263, :2] - xy[33, :2]))
    region = frame_region(xy, iod, (gray.shape[0], gray.shape[1])).astype(bool)
    if not region.any():
        return None
    lines = line_response(gray, iod)
    sharp = np.minimum(lines, ridge_response(gray, iod))
    # Clear and thin metal frames stand out less than dark ones: each threshold follows the
    # region's own level of fine structure, with a floor above skin texture.
    sides = frame_region(xy, iod, (gray.shape[0], gray.shape[1]), reach_iod=0.9).astype(bool)
    thresholds = [max(_LINE_CONTRAST, 3.0 * float(np.median(field[region])))
                  for field in (sharp, lines)]
    responses = _Responses(*(
        np.where(within, field, 0.0).astype(np.float32) / threshold
        for within in (region, sides) for field, threshold in zip((sharp, lines), thresholds)))
    bands: list[np.ndarray] = []
    rims = []
    for corners in (L.RIGHT_EYE_CORNERS, L.LEFT_EYE_CORNERS):
        rim = _rim(responses, xy[list(corners), :2].mean(0), iod)
        if rim is None:
            return None
        bands += rim[0]
        rims.append(rim[1])
    bridge = _bridge(responses, xy, rims, iod)
    if bridge is None:
        return None
    for ring, right in zip(rims, (True, False)):
        bands += _temple(responses, xy, ring, right, iod)
    return FramePaths(bands=bands + bridge, thin=responses.side_thin)
