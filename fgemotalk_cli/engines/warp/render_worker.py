"""One render worker process: its loop (the pool that runs it: :mod:`.render_workers`).

A worker answers its messages in the order they come: "keep" stores a large object of the
job under a key, "drop" forgets one, "render" and "call" run a function on their arguments
(kept objects looked up by key) and send back ``("done", result)`` or ``("error", error)``,
or for a rendered frame placed in shared memory ``("slot", where)`` (:mod:`.frame_slots`);
``None`` ends it, as does its pipe closing.
"""

from __future__ import annotations

import pickle
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from fgemotalk_cli.engines.warp.frame_slots import FrameSlots
from fgemotalk_cli.process import return_freed_memory, reuse_freed_heap

#: Frames between heap trims, in each worker and in the job's process. A worker keeps what
#: its frames free for the next one (``reuse_freed_heap``), and the job's process receives
#: every frame's job as a fresh buffer; without a trim now and then a 60 s job's peak grew
#: ~10% over a 10 s one's.
TRIM_EVERY_FRAMES = 32


@dataclass(frozen=True)
class Kept:
    """Stands for a kept object in a job: the worker looks it up by key."""

    key: int


def serve(connection: Connection, fresh: bool, slots: FrameSlots | None = None) -> None:
    """A worker's loop (see the module doc); ends when the pool closes or its pipe does.
    ``fresh``: a new interpreter (not a fork, which inherits one OpenCV thread). ``slots``:
    the shared memory its rendered frames go back through (a forked worker's), or None."""
    from threadpoolctl import threadpool_limits

    # Ctrl-C reaches the whole process group: the job's process decides and closes the pool.
    # A forked worker also inherited the job's SIGTERM handler; it ends quietly instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # One native thread each: the workers themselves are the parallelism (pipelines/threads.py).
    if fresh:
        import cv2

        cv2.setNumThreads(1)
    threadpool_limits(limits=1, user_api="blas")
    reuse_freed_heap()  # each frame's arrays are the last one's sizes: keep them, trim now and then
    kept: dict[int, object] = {}
    rendered = 0
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, first, second = message
        if kind == "keep":
            kept[first] = second
        elif kind == "drop":
            kept.pop(first, None)
        else:
            arguments = [kept[a.key] if isinstance(a, Kept) else a for a in second]
            try:
                answer: tuple[str, Any] = ("done", first(*arguments))
            except Exception as error:
                answer = ("error", sendable(error))
            if slots is not None and kind == "render" and isinstance(answer[1], np.ndarray):
                placed = slots.put(answer[1])
                if placed is not None:
                    answer = ("slot", placed)
            try:
                connection.send(answer)
            except OSError:  # the job's process is gone: nobody to answer
                return
            rendered += 1
            if kind == "call" or rendered % TRIM_EVERY_FRAMES == 0:
                return_freed_memory()


def sendable(error: Exception) -> Exception:
    """The error itself when it survives pickling, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
