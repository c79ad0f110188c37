"""The render threads: results in job order, and jobs rendered while later ones are made."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import engine


def test_jobs_render_while_later_jobs_are_still_being_made(monkeypatch) -> None:
    monkeypatch.setattr(engine, "RENDER_WORKERS", 2)
    first_rendered = threading.Event()
    seen_before_last: list[bool] = []

    def render(index: int) -> np.ndarray:
        if index == 0:
            first_rendered.set()
        return np.full((2, 2, 3), index, np.uint8)

    def jobs() -> Iterator[tuple[int]]:
        for index in range(4):
            if index == 3:
                # A sequential step (the motion transfer) before the last job: the first
                # job has been rendered meanwhile, not held back until the batch is made.
                seen_before_last.append(first_rendered.wait(timeout=10.0))
            yield (index,)

    frames = engine.render_in_order(render, jobs())
    assert seen_before_last == [True]
    assert [int(frame[0, 0, 0]) for frame in frames] == [0, 1, 2, 3]


def test_a_failing_job_raises_in_the_caller() -> None:
    def render(index: int) -> np.ndarray:
        if index == 1:
            raise ValueError("frame 1 failed")
        return np.zeros((1, 1, 3), np.uint8)

    with pytest.raises(ValueError, match="frame 1 failed"):
        engine.render_in_order(render, [(0,), (1,), (2,)])


def test_a_job_that_renders_more_frames_does_not_wait_for_its_own_threads(monkeypatch) -> None:
    """edit-au renders each frame through ``engine.edit``, itself a render_in_order call:
    from a render thread that inner call must run there, not queue behind its caller."""
    monkeypatch.setattr(engine, "RENDER_WORKERS", 2)

    def inner(index: int) -> np.ndarray:
        return np.full((1, 1, 3), index, np.uint8)

    def outer(index: int) -> np.ndarray:
        (frame,) = engine.render_in_order(inner, iter([(index,)]))
        return frame

    done: list[list[np.ndarray]] = []
    worker = threading.Thread(target=lambda: done.append(
        engine.render_in_order(outer, [(index,) for index in range(6)])), daemon=True)
    worker.start()
    worker.join(timeout=20.0)
    assert done, "render_in_order deadlocked on nested calls"
    assert [int(frame[0, 0, 0]) for frame in done[0]] == list(range(6))
