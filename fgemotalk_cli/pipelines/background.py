"""Work on a second thread, so that decoding, face tracking, the engine and the encoder overlap.

PyAV (decode, encode, pixel format conversion), MediaPipe and OpenCV release the GIL while
they work, so on two cores a stage running here costs little wall time beside the main
thread's. Queues are bounded: memory stays independent of the video's length.

    with prefetched(tracked_driver_frames(), depth=8) as samples:   # produced on a thread
        for sample in samples: ...
    worker = BackgroundWorker(encode_one_frame, depth=4)            # consumed on a thread
    worker.submit(frame); ...; worker.close()
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")

_END = object()
_POLL_SECONDS = 0.1
#: Memory for video frames decoded and tracked ahead of the renderer (about 60 at 512 px):
#: while an edited video's new shot calibrates, tracking runs on into them instead of
#: stopping after a few, and the frame loop later finds them done. (reenact measured no gain
#: from it and keeps a fixed few.)
PREFETCH_BYTES = 48 << 20


def prefetch_depth(width: int, height: int, max_side: int, least: int) -> int:
    """How many RGB frames of ``width`` x ``height`` (shrunk to ``max_side`` at most) fit in
    :data:`PREFETCH_BYTES`, and at least ``least``."""
    scale = min(1.0, max_side / max(width, height, 1))
    frame_bytes = max(1, round(width * scale) * round(height * scale) * 3)
    return max(least, PREFETCH_BYTES // frame_bytes)


class _Failure:
    """An exception raised on the worker thread, carried to the thread that waits on it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class prefetched(Iterator[Item]):  # lower case: it reads as a function call in a with-statement
    """The items of ``items``, produced on a background thread up to ``depth`` ahead.

    The thread starts at once. An exception in the producer is raised here, at the point its
    item would have come. Leaving the ``with`` block (or ``close``) stops the producer and
    closes ``items`` on the producer's own thread, so its context managers exit where they
    were entered.
    """

    def __init__(self, items: Iterator[Item], depth: int) -> None:
        self._items = items
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, name="fgemotalk-prefetch",
                                        daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._buffer.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        end: object = _END
        try:
            for item in self._items:
                if not self._put(item):
                    break
        except BaseException as error:  # re-raised on the consumer's thread
            end = _Failure(error)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()
        self._put(end)

    def __next__(self) -> Item:
        if self._finished:
            raise StopIteration
        item = self._buffer.get()
        if item is _END or isinstance(item, _Failure):
            self._finished = True
            self._thread.join()
            if isinstance(item, _Failure):
                raise item.error
            raise StopIteration
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._finished = True
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> prefetched[Item]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BackgroundWorker(Generic[Item]):
    """Calls ``handle`` on each submitted item, in order, on a background thread.

    ``submit`` blocks while ``depth`` items wait; the first exception ``handle`` raises is
    raised again by the next ``submit`` or by ``close``, and later items are dropped.
    """

    def __init__(self, handle: Callable[[Item], None], depth: int) -> None:
        self._handle = handle
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._failure: _Failure | None = None
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fgemotalk-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _END:
            if self._failure is not None or self._abandoned.is_set():
                continue  # keep taking items so that submit never blocks forever
            try:
                self._handle(item)  # type: ignore[arg-type]
            except BaseException as error:  # re-raised by submit or close
                self._failure = _Failure(error)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure.error

    def submit(self, item: Item) -> None:
        self._raise_failure()
        self._queue.put(item)

    def close(self) -> None:
        """Wait until every submitted item is handled; raise the worker's error, if any."""
        if self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()
        self._raise_failure()

    def abandon(self) -> None:
        """Stop soon, dropping the items still waiting (on an error elsewhere)."""
        self._abandoned.set()
        if self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()
