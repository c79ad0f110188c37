"""Background threads of the pipelines: order, errors, early stops, bounded queues."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from fgemotalk_cli.pipelines.background import (
    PREFETCH_BYTES,
    BackgroundWorker,
    prefetch_depth,
    prefetched,
)


def _numbers(count: int, log: list[str], fail_at: int | None = None) -> Iterator[int]:
    try:
        for number in range(count):
            if number == fail_at:
                raise ValueError(f"failed at {number}")
            log.append(f"{number} on {threading.current_thread().name}")
            yield number
    finally:
        log.append(f"closed on {threading.current_thread().name}")


def test_prefetched_yields_everything_in_order_from_another_thread() -> None:
    log: list[str] = []
    with prefetched(_numbers(50, log), depth=4) as items:
        assert list(items) == list(range(50))
    assert all("fgemotalk-prefetch" in line for line in log)
    assert log[-1].startswith("closed")


def test_prefetched_raises_the_producers_error_where_its_item_would_come() -> None:
    received = []
    with pytest.raises(ValueError, match="failed at 3"), \
            prefetched(_numbers(10, [], fail_at=3), depth=2) as items:
        for item in items:
            received.append(item)
    assert received == [0, 1, 2]


def test_leaving_early_stops_the_producer_and_closes_it_on_its_thread() -> None:
    log: list[str] = []
    with prefetched(_numbers(10_000, log), depth=2) as items:
        assert next(items) == 0
    produced = [line for line in log if not line.startswith("closed")]
    assert len(produced) < 10  # bounded: two waiting, one in hand, not the whole stream
    assert log[-1] == "closed on fgemotalk-prefetch"


def test_worker_handles_items_in_order_and_close_waits_for_them() -> None:
    handled: list[int] = []

    def handle(item: int) -> None:
        time.sleep(0.001)
        handled.append(item)

    worker: BackgroundWorker[int] = BackgroundWorker(handle, depth=3)
    for item in range(20):
        worker.submit(item)
    worker.close()
    assert handled == list(range(20))


def test_worker_errors_come_back_on_submit_or_close() -> None:
    def handle(item: int) -> None:
        if item == 2:
            raise OSError("disk full")

    worker: BackgroundWorker[int] = BackgroundWorker(handle, depth=1)
    with pytest.raises(OSError, match="disk full"):
        for item in range(100):
            worker.submit(item)
            time.sleep(0.002)
    with pytest.raises(OSError, match="disk full"):
        worker.close()


def test_abandoning_a_worker_drops_what_waits() -> None:
    release = threading.Event()
    handled: list[int] = []

    def handle(item: int) -> None:
        release.wait(1.0)
        handled.append(item)

    worker: BackgroundWorker[int] = BackgroundWorker(handle, depth=4)
    for item in range(4):
        worker.submit(item)
    threading.Timer(0.05, release.set).start()
    worker.abandon()  # while the first item is still being handled
    assert len(handled) <= 1


def test_frames_prefetched_by_memory_not_by_count() -> None:
    at_512 = prefetch_depth(512, 512, max_side=1024, least=8)
    assert at_512 * 512 * 512 * 3 <= PREFETCH_BYTES < (at_512 + 1) * 512 * 512 * 3
    # A 4K frame shrunk to the 1024 px working size takes a 1024 px frame's memory.
    assert prefetch_depth(3840, 2160, max_side=1024, least=1) == PREFETCH_BYTES // (
        1024 * 576 * 3)
    assert prefetch_depth(8000, 8000, max_side=8000, least=8) == 8  # never fewer than asked
