"""The frame loop's native thread limits (one OpenBLAS and one OpenCV thread, restored after),
and batches handed to the renderer one ahead."""

from __future__ import annotations

from concurrent.futures import Future

import cv2
import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from fgemotalk_cli.pipelines.threads import frame_loop_threads, frames_ahead


def _openblas_threads() -> list[int]:
    return [pool["num_threads"]
            for pool in ThreadpoolController().select(internal_api="openblas").info()]


def test_one_thread_each_inside_and_the_settings_restored_after() -> None:
    np.linalg.inv(np.eye(2))  # numpy's OpenBLAS is loaded
    blas_before, opencv_before = _openblas_threads(), cv2.getNumThreads()
    with frame_loop_threads():
        assert cv2.getNumThreads() == 1
        assert all(threads == 1 for threads in _openblas_threads())
    assert cv2.getNumThreads() == opencv_before
    assert _openblas_threads() == blas_before


def test_restored_when_the_loop_fails() -> None:
    opencv_before = cv2.getNumThreads()
    with pytest.raises(RuntimeError), frame_loop_threads():
        raise RuntimeError("a frame failed")
    assert cv2.getNumThreads() == opencv_before


def test_overlapping_loops_restore_the_settings_when_the_last_one_ends() -> None:
    opencv_before = cv2.getNumThreads()
    first, second = frame_loop_threads(), frame_loop_threads()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert cv2.getNumThreads() == 1  # the second loop still runs
    second.__exit__(None, None, None)
    assert cv2.getNumThreads() == opencv_before


def test_frames_ahead_hands_over_the_next_batch_before_taking_this_ones_frames() -> None:
    events: list[str] = []

    def render(batch: list[int]) -> list[object]:
        events.append(f"render {batch[0]}")
        futures: list[Future[int]] = []
        for item in batch:
            future: Future[int] = Future()
            future.set_result(item * 10)
            futures.append(future)
        return [futures[0], batch[1] * 10]  # futures and plain frames alike

    for batch, frames in frames_ahead(iter([[1, 2], [3, 4], [5, 6]]), render):
        events.append(f"write {batch[0]}")
        assert frames == [batch[0] * 10, batch[1] * 10]
    assert events == ["render 1", "render 3", "write 1", "render 5", "write 3", "write 5"]
    assert list(frames_ahead(iter([]), render)) == []
