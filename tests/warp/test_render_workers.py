"""The render worker processes: frames in job order, the same pixels as rendering here, big
objects sent once per worker, jobs sent while later ones are made, errors and dead workers
reported to the caller."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import engine
from fgemotalk_cli.engines.warp.render_workers import RenderWorkers
from fgemotalk_cli.errors import RenderWorkerError
from fgemotalk_cli.pipelines.threads import run_aside

_pickled_in_parent: list[int] = []


class Heavy:
    """A kept object that counts how often the parent pickles it."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __getstate__(self) -> dict[str, int]:
        _pickled_in_parent.append(self.value)
        return {"value": self.value}


def fill(heavy: Heavy, index: int) -> np.ndarray:
    return np.full((2, 3, 3), heavy.value + index, np.uint8)


def fail_on_one(index: int) -> np.ndarray:
    if index == 1:
        raise ValueError("frame 1 failed")
    return np.zeros((1, 1, 3), np.uint8)


def touch_then_render(marker: str, index: int) -> np.ndarray:
    if index == 0:
        Path(marker).write_text("rendered")
    return np.full((1, 1, 3), index, np.uint8)


def die(index: int) -> np.ndarray:
    os.kill(os.getpid(), signal.SIGKILL)
    return np.zeros((1, 1, 3), np.uint8)


def stamp_start(marker: str, seconds: float, payload: np.ndarray) -> np.ndarray:
    """Write when this job started (its payload is larger than a pipe holds), then work."""
    Path(marker).write_text(repr(time.monotonic()))
    time.sleep(seconds)
    return np.full((1, 1, 3), payload.size % 251, np.uint8)


def pid(index: int) -> np.ndarray:
    return np.array([[[os.getpid() % 251, index, 0]]], np.uint8)


def test_frames_come_back_in_order_and_kept_objects_travel_once_per_worker() -> None:
    _pickled_in_parent.clear()
    heavy = Heavy(10)
    with RenderWorkers(2, kept_types=(Heavy,)).start() as workers:
        first = workers.render_in_order(fill, [(heavy, index) for index in range(6)])
        second = workers.render_in_order(fill, [(heavy, index) for index in range(6, 9)])
    assert [int(frame[0, 0, 0]) for frame in first + second] == list(range(10, 19))
    assert _pickled_in_parent == [10, 10], "the kept object is sent once to each worker"


def test_both_workers_render() -> None:
    with RenderWorkers(2, kept_types=()).start() as workers:
        frames = workers.render_in_order(pid, [(index,) for index in range(4)])
    workers_seen = {int(frame[0, 0, 0]) for frame in frames}
    assert len(workers_seen) == 2 and os.getpid() % 251 not in workers_seen


def test_jobs_render_while_later_jobs_are_still_being_made(tmp_path: Path) -> None:
    marker = tmp_path / "first-rendered"

    def jobs() -> Iterator[tuple[str, int]]:
        for index in range(4):
            if index == 3:
                # A sequential step (the motion transfer) before the last job: the first job
                # has been rendered meanwhile, not held back until the whole batch is made.
                deadline = time.monotonic() + 20.0
                while not marker.exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert marker.exists()
            yield str(marker), index

    with RenderWorkers(2, kept_types=()).start() as workers:
        frames = workers.render_in_order(touch_then_render, jobs())
    assert [int(frame[0, 0, 0]) for frame in frames] == [0, 1, 2, 3]


def test_a_busy_worker_does_not_hold_back_the_other_ones_jobs(tmp_path: Path) -> None:
    """Jobs of ~1 MB (a frame's driver image) do not fit in a pipe: while worker 0 is busy,
    worker 1 still gets its next job instead of waiting behind a job written to worker 0."""
    big = np.zeros((1024, 1024), np.uint8)  # 1 MB, several times a pipe's buffer
    markers = [str(tmp_path / f"job{index}") for index in range(4)]
    jobs = [(markers[0], 1.5, big), (markers[1], 0.0, big), (markers[2], 0.0, big),
            (markers[3], 0.0, big)]
    with RenderWorkers(2, kept_types=()).start() as workers:
        began = time.monotonic()
        frames = workers.render_in_order(stamp_start, jobs)
    assert len(frames) == 4
    started = [float(Path(marker).read_text()) - began for marker in markers]
    # Worker 0 sleeps 1.5 s in job 0 before it reads job 2; job 3 goes to worker 1.
    assert started[2] >= 1.5
    assert started[3] < 1.0, f"job 3 waited for worker 0: started at {started[3]:.2f} s"


def test_a_call_aside_runs_in_a_worker_while_frames_keep_their_order() -> None:
    with RenderWorkers(2, kept_types=(Heavy,)).start() as workers:
        aside = workers.submit(pid, 7)
        frames = workers.render_in_order(fill, [(Heavy(20), index) for index in range(3)])
        answer = aside.result(timeout=20)
    assert int(answer[0, 0, 1]) == 7 and int(answer[0, 0, 0]) != os.getpid() % 251
    assert [int(frame[0, 0, 0]) for frame in frames] == [20, 21, 22]


def test_run_aside_without_workers_runs_on_a_thread() -> None:
    warp = engine.WarpEngine(calibrate="off")
    answer = run_aside(warp, pid, 3).result(timeout=20)  # no render_workers block: here
    assert int(answer[0, 0, 0]) == os.getpid() % 251 and int(answer[0, 0, 1]) == 3
    with warp.render_workers(count=2):
        answer = run_aside(warp, pid, 4).result(timeout=20)
    assert int(answer[0, 0, 0]) != os.getpid() % 251 and int(answer[0, 0, 1]) == 4


def test_a_failing_job_raises_in_the_caller_and_the_workers_go_on() -> None:
    with RenderWorkers(2, kept_types=()).start() as workers:
        with pytest.raises(ValueError, match="frame 1 failed"):
            workers.render_in_order(fail_on_one, [(0,), (1,), (2,)])
        (frame,) = workers.render_in_order(fail_on_one, [(0,)])
    assert frame.shape == (1, 1, 3)


def test_a_worker_that_dies_is_reported_not_waited_for() -> None:
    with RenderWorkers(2, kept_types=()).start() as workers:
        with pytest.raises(RenderWorkerError, match="stopped unexpectedly"):
            workers.render_in_order(die, [(0,), (1,)])
        with pytest.raises(RenderWorkerError):
            workers.render_in_order(fill, [(Heavy(0), 0)])


def test_the_engine_renders_the_same_pixels_in_workers_as_here(warp_cases) -> None:
    """A speak-like batch (AUs, jaw, head turns) through the warp engine's workers equals
    the same batch rendered in this process, frame for frame."""
    from fgemotalk_cli.speech.visemes import MouthShape

    warp = engine.WarpEngine(calibrate="off")
    case = warp_cases[0]
    state = warp.prepare(case.image, case.landmarks)
    vectors = [{12: 2.0 + index} for index in range(3)]
    jobs = [(state.source, vector, MouthShape(jaw_open=0.3 * index), (6.0 * index, 3.0, 0.0))
            for index, vector in enumerate(vectors)]
    here = [engine.edit_source(*job) for job in jobs]
    with warp.render_workers(count=2):
        there = engine.render_in_order(engine.edit_source, jobs)
    assert len(there) == len(here)
    for a, b in zip(here, there):
        assert a.shape == b.shape and np.array_equal(a, b)
    assert not np.array_equal(here[0], here[2]), "the jobs differ, so order is checked"
