"""Rendered frames handed back from a render worker through shared memory, not its pipe.

A 512 px frame is 786 kB: pickled, written through the pipe in pieces and read back, it cost
about 1.2 ms of CPU between the two processes (measured: 0.5-0.7 ms to receive and unpickle,
0.7-0.9 ms to pickle and send), a few per cent of a reenacted frame's whole cost. Instead
each forked worker shares a few frame-sized slots with the job's process: it copies its
frame into the next slot and sends only the slot's number; the job's reader thread copies
the frame out at once and frees the slot.

The slots are an anonymous shared mapping made before the fork, so nothing is named and
nothing outlives the processes. A semaphore counts the free slots; slots are filled and freed
in the same order (the reader takes a worker's answers in order), so the next slot to fill
is always the oldest one freed. A frame that does not fit, or that finds no free slot within
a moment (a job's process busy elsewhere), goes through the pipe as before.
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

#: Frames a worker may have handed back and not yet taken.
SLOTS_PER_WORKER = 4
#: The largest frame a slot holds: 1024 x 1024 RGB (pages are only touched as used).
SLOT_BYTES = 1024 * 1024 * 3
#: How long a worker waits for a free slot before it sends its frame through the pipe.
_WAIT_SECONDS = 0.5

Placed = tuple[int, tuple[int, ...], str]  # slot, frame shape, dtype


class FrameSlots:
    """One worker's slots (see the module doc). Make it before the fork: both the job's
    process and the worker then map the same memory."""

    def __init__(self, context: Any, count: int = SLOTS_PER_WORKER,
                 slot_bytes: int = SLOT_BYTES) -> None:
        self.count = count
        self.slot_bytes = slot_bytes
        self._memory = mmap.mmap(-1, count * slot_bytes)  # MAP_SHARED | MAP_ANONYMOUS
        self._free = context.Semaphore(count)
        self._next = 0  # the worker's side: the slot it fills next

    def put(self, frame: np.ndarray) -> Placed | None:
        """The worker's side: copy ``frame`` into the next slot and say where it is; None
        when it does not fit or no slot frees up in time (then send the frame itself)."""
        if frame.nbytes > self.slot_bytes or not self._free.acquire(timeout=_WAIT_SECONDS):
            return None
        slot = self._next
        self._next = (slot + 1) % self.count
        self._view(slot, frame.shape, frame.dtype.str)[...] = frame
        return slot, frame.shape, frame.dtype.str

    def take(self, placed: Placed) -> np.ndarray:
        """The job's side: a copy of the frame in ``placed``'s slot, and the slot freed."""
        slot, shape, dtype = placed
        try:
            return self._view(slot, shape, dtype).copy()
        finally:
            self._free.release()

    def _view(self, slot: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
        return np.ndarray(shape, np.dtype(dtype), buffer=self._memory,
                          offset=slot * self.slot_bytes)

    def close(self) -> None:
        try:
            self._memory.close()
        except BufferError:  # a frame still being taken: the mapping goes with its last view
            pass
