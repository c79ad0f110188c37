"""Rendered frames handed back through shared memory: the same pixels, in order, with the
pipe as the way out when a frame does not fit or no slot is free."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import numpy as np

from fgemotalk_cli.engines.warp import frame_slots
from fgemotalk_cli.engines.warp.frame_slots import FrameSlots

_FORK = multiprocessing.get_context("fork")


def _frame(index: int) -> np.ndarray:
    return np.random.default_rng(index).integers(0, 256, (64, 48, 3), dtype=np.uint8)


def _put_frames(slots: FrameSlots, count: int, answers) -> None:  # in the forked child
    for index in range(count):
        answers.put(slots.put(_frame(index)))


def test_frames_cross_a_fork_through_fewer_slots_than_frames(monkeypatch) -> None:
    monkeypatch.setattr(frame_slots, "_WAIT_SECONDS", 30.0)  # the fork inherits it
    slots = FrameSlots(_FORK, count=2, slot_bytes=64 * 48 * 3)
    answers = _FORK.Queue()
    child = _FORK.Process(target=_put_frames, args=(slots, 6, answers))
    child.start()
    # The child fills both slots, then waits for each to be taken before it reuses it.
    taken = [slots.take(answers.get(timeout=10)) for _ in range(6)]
    child.join(10)
    assert child.exitcode == 0
    for index, frame in enumerate(taken):
        assert np.array_equal(frame, _frame(index))


def test_a_frame_that_does_not_fit_or_finds_no_free_slot_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(frame_slots, "_WAIT_SECONDS", 0.05)
    slots = FrameSlots(_FORK, count=1, slot_bytes=64 * 48 * 3)
    assert slots.put(np.zeros((65, 48, 3), np.uint8)) is None  # too large: the pipe
    placed = slots.put(_frame(0))
    assert placed is not None
    assert slots.put(_frame(1)) is None  # the one slot is still held
    assert np.array_equal(slots.take(placed), _frame(0))
    assert slots.put(_frame(1)) is not None  # freed by the take


_POOL_IN_A_FRESH_PROCESS = """
import numpy as np
from fgemotalk_cli.engines.warp.frame_slots import FrameSlots
from fgemotalk_cli.engines.warp.render_workers import RenderWorkers

def big_frame(index):
    return np.full((512, 512, 3), index % 256, np.uint8)

taken = []
real_take = FrameSlots.take

def counting_take(self, placed):
    taken.append(placed[0])
    return real_take(self, placed)

FrameSlots.take = counting_take
with RenderWorkers(2, kept_types=()) as workers:
    workers.start()
    frames = workers.render_in_order(big_frame, [(index,) for index in range(12)])
assert [int(frame[0, 0, 0]) for frame in frames] == list(range(12))
assert all(frame.shape == (512, 512, 3) for frame in frames)
print(len(taken))
"""


def test_a_forked_pool_hands_its_frames_back_through_the_slots() -> None:
    # A process of its own: the pool forks only where no other thread runs (a test session
    # has some), and only a forked worker shares the slots.
    done = subprocess.run([sys.executable, "-c", _POOL_IN_A_FRESH_PROCESS],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == 12  # every frame came through shared memory
