"""Memory a finished worker thread freed goes back to the OS (a long speak's peak stays flat)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from fgemotalk_cli.process import return_freed_memory


def _resident_kib() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_what_a_thread_freed_is_returned() -> None:
    pins: list[np.ndarray] = []

    def allocate_and_free() -> None:
        # Blocks under glibc's mmap threshold land in the thread's heap arena; a small block
        # kept alive after each one pins it, so that freeing the big ones leaves them
        # resident, in the middle of the heap, as a finished analysis leaves its buffers.
        blocks = []
        for _ in range(2000):
            blocks.append(np.ones(16 * 1024, np.float32))  # 64 KiB
            pins.append(np.ones(64, np.float32))
        blocks.clear()

    worker = threading.Thread(target=allocate_and_free)
    worker.start()
    worker.join()
    before = _resident_kib()
    return_freed_memory()
    assert before - _resident_kib() > 60 * 1024  # of the 125 MiB freed, most comes back
