"""Native thread pools during a frame loop: one thread each, the frames themselves run in parallel.

A video pipeline already keeps the cores busy with whole frames: two render threads
(:data:`fgemotalk_cli.engines.warp.engine.RENDER_WORKERS`), the encoder and the decoder. Two
native pools beneath them only add cost there:

- numpy's OpenBLAS wakes its helper threads for every small LAPACK call (a 2x2 inverse, a
  3x3 SVD: a few per frame) and leaves them spinning (``sched_yield``) for a while after each,
  so on a 2-core machine one core is mostly spent waiting;
- OpenCV splits each remap, resize and blend of a frame over its own threads, which then
  contend with the other render thread and the encoder for the same cores.

:func:`frame_loop_threads` sets both to one thread for the duration of a loop and restores
them after, so a script that uses numpy or OpenCV before or after a run keeps its own setting.
Only OpenBLAS is limited (torch's own BLAS, for the neural engine, is left alone).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frame_loop_threads() -> Iterator[None]:
    """OpenBLAS and OpenCV at one thread each inside the block (see the module doc)."""
    import cv2
    from threadpoolctl import ThreadpoolController

    openblas = ThreadpoolController().select(internal_api="openblas")
    opencv_threads = cv2.getNumThreads()
    with openblas.limit(limits=1):
        cv2.setNumThreads(1)
        try:
            yield
        finally:
            cv2.setNumThreads(opencv_threads)
