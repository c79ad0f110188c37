"""The weight-free ``warp`` engine: face mesh landmarks, an AU geometry model, a dense warp.

- :mod:`.layout`: the face frame (pose-free, inter-ocular-distance units) and mesh contours.
- :mod:`.regions`, :mod:`.au_fields`: per-face region weights and the AU displacement fields
  (tabulated in ``au_fields``' docstring).
- :mod:`.au_geometry`: combines AUs and speech mouth shapes per frame.
- :mod:`.mesh`: the warp mesh (face mesh, openings, rings) and per-frame fold repair.
- :mod:`.render`, :mod:`.mouth`, :mod:`.lids`: the piecewise-affine image warp, the mouth
  interior and the skin of closing lids.
- :mod:`.motion`: driver motion transfer for reenactment.
- :mod:`.engine`: the engine interface the pipelines use.
"""
