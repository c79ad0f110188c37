"""Memory a finished worker thread freed goes back to the OS (a long speak's peak stays flat)."""

from __future__ import annotations

import subprocess
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


_FAULTS_OF_A_FRAME_LOOP = """
import resource, sys
import numpy as np
from fgemotalk_cli.process import reuse_freed_heap
if sys.argv[1] == "reuse":
    reuse_freed_heap()
def frame():  # a render worker's frame: several large arrays made, used and freed together
    arrays = [np.ones((512, 512, 3), np.float32) for _ in range(6)]  # 3 MiB each
    del arrays
for _ in range(3):  # glibc's thresholds adapt to the sizes it sees
    frame()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    frame()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_reused_heap_does_not_fault_in_every_frame_again() -> None:
    def faults(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", _FAULTS_OF_A_FRAME_LOOP, mode],
                              capture_output=True, text=True, check=True)
        return int(done.stdout.strip())

    # By default the heap's free top (18 MiB) is handed back after every frame, past twice
    # the largest block glibc has seen freed, and its 4,600 pages fault in again each time.
    assert faults("default") > 40 * 3000
    assert faults("reuse") < 40 * 100
