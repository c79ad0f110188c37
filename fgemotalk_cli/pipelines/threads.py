"""Native thread pools during a frame loop: one thread each, the frames themselves run in parallel.

A video pipeline already keeps the cores busy with whole frames: the render worker processes
(:mod:`fgemotalk_cli.engines.warp.render_workers`, opened by :func:`render_workers`), the
encoder and the decoder. Two native pools beneath them only add cost there:

- numpy's OpenBLAS wakes its helper threads for every small LAPACK call (a 2x2 inverse, a
  3x3 SVD: a few per frame) and leaves them spinning (``sched_yield``) for a while after each,
  so on a 2-core machine one core is mostly spent waiting;
- OpenCV splits each remap, resize and blend of a frame over its own threads, which then
  contend with the render workers and the encoder for the same cores.

:func:`frame_loop_threads` sets both to one thread for the duration of a loop and restores
them after, so a script that uses numpy or OpenCV before or after a run keeps its own setting.
Only OpenBLAS is limited (torch's own BLAS, for the neural engine, is left alone).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from itertools import islice
from typing import Any, TypeVar

from fgemotalk_cli.futures import on_thread

Result = TypeVar("Result")
Batch = TypeVar("Batch")
Item = TypeVar("Item")

# Frame loops may overlap (pipelines run from a script's own threads): the first one in sets
# the limits, the last one out restores what was there before.
_lock = threading.Lock()
_active_loops = 0
_saved: tuple[Any, int] | None = None  # (threadpoolctl's limiter, OpenCV's thread count)


@contextmanager
def frame_loop_threads() -> Iterator[None]:
    """OpenBLAS and OpenCV at one thread each inside the block (see the module doc)."""
    import cv2
    from threadpoolctl import ThreadpoolController

    global _active_loops, _saved
    with _lock:
        if _active_loops == 0:
            openblas = ThreadpoolController().select(internal_api="openblas")
            _saved = (openblas.limit(limits=1), cv2.getNumThreads())
            cv2.setNumThreads(1)
        _active_loops += 1
    try:
        yield
    finally:
        with _lock:
            _active_loops -= 1
            if _active_loops == 0 and _saved is not None:
                limiter, opencv_threads = _saved
                limiter.restore_original_limits()
                cv2.setNumThreads(opencv_threads)
                _saved = None


def render_workers(engine: object) -> AbstractContextManager[None]:
    """The engine's render worker processes for one job (the warp engine's
    ``render_workers``: every core renders frames); nothing for an engine without them."""
    opener = getattr(engine, "render_workers", None)
    return nullcontext() if opener is None else opener()


def run_aside(engine: object, function: Callable[..., Result], *arguments: object,
              ) -> Future[Result]:
    """``function(*arguments)`` while the job goes on: in one of the engine's render workers
    when it has them (the warp engine's ``run_aside``: another process, so it does not hold
    the job's GIL), else on a thread of this process."""
    runner = getattr(engine, "run_aside", None)
    future = None if runner is None else runner(function, *arguments)
    return future if future is not None else on_thread(function, *arguments,
                                                       name="fgemotalk-aside")


def load_readout_aside(engine: object, aus: Iterable[int]) -> None:
    """Let the engine load its AU read-out model on a thread while the job starts, when it
    will calibrate ``aus`` (the warp engine's ``load_readout_aside``); for an engine without
    one, nothing. After :func:`render_workers`: it starts a thread."""
    loader = getattr(engine, "load_readout_aside", None)
    if loader is not None:
        loader(aus)


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def frames_ahead(batches: Iterable[Batch], render: Callable[[Batch], Sequence[Any]],
                 ) -> Iterator[tuple[Batch, list[Any]]]:
    """Each batch with its frames, in order, each batch handed to ``render`` before the
    frames of the one before it are awaited. ``render`` returns the frames, or futures of
    them (the warp engine's ``reenact_soon``, ``speak_soon``, ``edit_frames_soon``): then the
    render workers already have the next batch while the caller encodes this one, instead of
    waiting at every batch's end for its slowest frame and the next batch's first job."""
    waiting: tuple[Batch, Sequence[Any]] | None = None
    for batch in batches:
        submitted = (batch, render(batch))
        if waiting is not None:
            yield waiting[0], _resolved(waiting[1])
        waiting = submitted
    if waiting is not None:
        yield waiting[0], _resolved(waiting[1])


def _resolved(frames: Sequence[Any]) -> list[Any]:
    return [frame.result() if isinstance(frame, Future) else frame for frame in frames]
