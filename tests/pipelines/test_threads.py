"""The frame loop's native thread limits: one OpenBLAS and one OpenCV thread, restored after."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from fgemotalk_cli.pipelines.threads import frame_loop_threads


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
