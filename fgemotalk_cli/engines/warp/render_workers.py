"""Frames rendered in worker processes, so that every core renders.

Why processes and not threads: a warp frame is hundreds of small NumPy and OpenCV calls with
Python in between, and the Python parts hold the GIL. Measured on two cores (s42, frames with
head turns and a moving jaw): one thread 13.8 ms a frame, two render threads 14.3 ms (more CPU,
no gain), two worker processes 9.7 ms.

A worker keeps the large objects of a job it was sent once (the prepared source, the driven
layers: the pool's ``kept_types``) under a key, so a frame sends only its own inputs (target
points, the driver's mouth) and gets its rendered frame back, through shared memory for a
forked worker (:mod:`.frame_slots`). Jobs go to the workers in turn and their results are read
in the same turn, so frames come back in job order. Per worker, a sender thread writes its jobs
into the pipe and a reader thread drains its results as they come: a frame's job (~140 kB, ~1
MB when it carried the whole driver frame) is larger than a pipe holds, so a job written from
the caller's thread waited for a busy worker to finish its frame and read it, and the other
worker sat idle meanwhile (measured: the caller spent ~20% of a reenact's wall time in that
write, and the two workers used one core between them).

    with RenderWorkers(2, kept_types=(WarpSource, DrivenLayers)) as workers:
        speech = workers.submit(mouth_track, wave, ...)    # one call in a worker, meanwhile
        frames = workers.render_in_order(render_driven, jobs)

Workers are forked before the job starts its own threads (see :meth:`RenderWorkers.start`)
and ignore Ctrl-C: the job's process decides, and closing the pool ends them. A worker that
dies ends the job with a :class:`RenderWorkerError`.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from types import TracebackType
from typing import Any

import numpy as np

from fgemotalk_cli.engines.warp.frame_slots import FrameSlots
from fgemotalk_cli.engines.warp.render_worker import TRIM_EVERY_FRAMES, Kept, serve
from fgemotalk_cli.errors import RenderWorkerError
from fgemotalk_cli.process import STDERR_FORWARDER_THREAD, return_freed_memory

#: Kept objects per worker: a job uses one source and one set of layers; a few more cover
#: a calibration that replaces the source mid-job and the shots of an edited video.
KEPT_PER_WORKER = 6
#: Modules a fork server imports once, so each worker starts with the renderer loaded.
PRELOADED_MODULES = ["numpy", "cv2", "fgemotalk_cli.engines.warp.driven"]
_JOIN_SECONDS = 2.0
#: A sender thread's messages, pickled; None ends the thread.
_Outbox = queue.Queue["memoryview | None"]


def default_worker_count() -> int:
    """Workers for this machine: one per usable core, at most 4 (the parent's own threads,
    tracking and encoding, need a share too); 1 means render in the caller's process, as in
    a daemonic process (a ``batch`` worker: the batch's own processes use the cores, and a
    daemon may not start processes)."""
    if multiprocessing.current_process().daemon:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


class RenderWorkers(AbstractContextManager["RenderWorkers"]):
    """``count`` worker processes rendering jobs in order (see the module doc)."""

    def __init__(self, count: int, kept_types: tuple[type, ...]) -> None:
        self.count = count
        self.kept_types = kept_types
        self._connections: list[Connection] = []
        self._processes: list[Any] = []
        self._slots: list[FrameSlots | None] = []  # per worker: its frames' shared memory
        # Per worker, the futures of the jobs sent and not answered yet, oldest first: a
        # worker answers in the order it was sent its jobs.
        self._waiting: list[deque[Future[Any]]] = []
        self._waiting_lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self._outboxes: list[_Outbox] = []
        self._senders: list[threading.Thread] = []
        self._unsendable: set[int] = set()  # workers whose pipe refused a message
        # Per worker, what it keeps (the references keep the ids from being reused).
        self._kept: list[OrderedDict[int, object]] = []
        self._next_worker = 0
        self._frames_since_trim = 0
        self._lock = threading.Lock()  # one caller at a time sends: the turn is shared
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._closed = False
        self._broken = False
        self._gone: set[int] = set()  # workers whose pipe has closed

    def start(self) -> RenderWorkers:
        """Start the processes. Forked from this process when it runs no other thread yet
        (the pipelines start them first, before their decoder, tracker and encoder threads):
        a fork shares the imports and costs a few milliseconds. Otherwise (a script's own
        threads may hold locks a fork would copy) a fork server that imports the renderer
        once starts them, on a thread: its interpreter's start overlaps with the job's."""
        if _may_fork() and "fork" in multiprocessing.get_all_start_methods():
            import cv2

            # OpenCV's own thread pool does not survive a fork (a worker would wait forever
            # for its threads): fork while it has none, and let the workers keep one thread.
            opencv_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                self._start(multiprocessing.get_context("fork"), fresh=False)
            finally:
                cv2.setNumThreads(opencv_threads)
        else:
            threading.Thread(target=self._start, args=(_server_context(), True), daemon=True,
                             name="fgemotalk-render-start").start()
        return self

    def _start(self, context: Any, fresh: bool) -> None:
        processes: list[Any] = []
        connections: list[Connection] = []
        try:
            # Every worker first, then the sender and reader threads: a fork copies no thread
            # of ours.
            for index in range(self.count):
                ours, theirs = context.Pipe()
                # Shared memory reaches a forked worker only (a fresh one gets its frames'
                # bytes through the pipe).
                slots = None if fresh else FrameSlots(context)
                self._slots.append(slots)
                process = context.Process(target=serve, args=(theirs, fresh, slots),
                                          daemon=True, name=f"fgemotalk-render-{index}")
                process.start()
                theirs.close()
                processes.append(process)
                connections.append(ours)
        except Exception as error:  # no processes to be had: the frames render here instead
            for process in processes:
                process.terminate()
            self._start_error = error
            self._started.set()
            return
        for index, ours in enumerate(connections):
            outbox: _Outbox = queue.Queue()
            sender = threading.Thread(target=self._send_from, args=(index, ours, outbox),
                                      name="fgemotalk-render-sender", daemon=True)
            reader = threading.Thread(target=self._read_from, args=(index, ours),
                                      name="fgemotalk-render-reader", daemon=True)
            self._waiting.append(deque())
            sender.start()
            reader.start()
            self._outboxes.append(outbox)
            self._senders.append(sender)
            self._readers.append(reader)
            self._kept.append(OrderedDict())
        self._connections, self._processes = connections, processes
        self._started.set()

    def __enter__(self) -> RenderWorkers:
        return self

    def render_in_order(self, render: Callable[..., np.ndarray],
                        jobs: Iterable[tuple[object, ...]]) -> list[np.ndarray]:
        """``render(*job)`` for each job in the workers, results in job order. ``render``
        must be a module-level function (it is sent by name)."""
        # Every answer is taken by its worker's reader whether or not it is waited for here,
        # so an error may be raised at once: the next batch still starts clean.
        return [future.result() for future in self.submit_renders(render, jobs)]

    def submit_renders(self, render: Callable[..., np.ndarray],
                       jobs: Iterable[tuple[object, ...]]) -> list[Future[np.ndarray]]:
        """The jobs of :meth:`render_in_order` sent without waiting for their frames: their
        futures, in job order (a caller sends the next batch before it takes this one's
        frames, and the workers never wait between batches)."""
        self._started.wait()
        if self._start_error is not None:
            # No processes to be had (a process limit, no memory to fork): slower, not broken.
            return [_called_here(render, job) for job in jobs]
        with self._lock:
            futures = [self._submit("render", render, job) for job in jobs]
        self._frames_since_trim += len(futures)
        if self._frames_since_trim >= TRIM_EVERY_FRAMES:
            self._frames_since_trim = 0
            return_freed_memory()
        return futures

    def submit(self, function: Callable[..., Any], *arguments: object) -> Future[Any]:
        """``function(*arguments)`` in the next worker in turn, while the caller goes on (the
        speech analysis of a ``speak`` job while its source is prepared). ``function`` must be
        a module-level function, its arguments and result picklable."""
        self._started.wait()
        if self._start_error is not None:
            return _called_here(function, arguments)
        with self._lock:
            return self._submit("call", function, arguments)

    def _submit(self, kind: str, function: Callable[..., Any],
                job: tuple[object, ...]) -> Future[Any]:
        """Send one job to the next worker in turn; its future resolves when it answers.
        ``kind``: "render" (a frame) or "call" (a one-off: the worker trims its heap after)."""
        if self._broken:
            raise RenderWorkerError("the render workers stopped after an earlier error")
        worker = self._next_worker
        self._next_worker = (worker + 1) % self.count
        future: Future[Any] = Future()
        try:
            message = (kind, function, self._with_keys(worker, job))
            with self._waiting_lock:
                if worker in self._gone:
                    raise self._gone_error(worker)
                self._waiting[worker].append(future)
            self._send(worker, message)
        except BaseException:
            # A job that failed to be made or sent (Ctrl-C mid-job included) may leave a
            # future without its message, or a message without its future: the answers
            # would no longer meet their jobs, so this pool serves no more.
            self._broken = True
            raise
        return future

    def _with_keys(self, worker: int, job: tuple[object, ...]) -> tuple[object, ...]:
        """The job with its kept objects replaced by keys, sending the ones this worker lacks."""
        kept = self._kept[worker]
        arguments: list[object] = []
        for argument in job:
            if not isinstance(argument, self.kept_types):
                arguments.append(argument)
                continue
            key = id(argument)
            if key in kept:
                kept.move_to_end(key)
            else:
                self._send(worker, ("keep", key, argument))
                kept[key] = argument
                if len(kept) > KEPT_PER_WORKER:
                    # Earlier messages are handled first: no job still waiting needs it.
                    oldest, _ = kept.popitem(last=False)
                    self._send(worker, ("drop", oldest, None))
            arguments.append(Kept(key))
        return tuple(arguments)

    def _send(self, worker: int, message: object) -> None:
        """Queue ``message`` for the worker's sender thread. It is pickled here, now: the
        worker sees the job as it was when sent, whatever the caller changes afterwards."""
        if worker in self._unsendable:
            raise RenderWorkerError("a render worker stopped unexpectedly (killed, or out of "
                                    "memory)")
        self._outboxes[worker].put(ForkingPickler.dumps(message))  # a view of its own buffer

    def _send_from(self, worker: int, connection: Connection, outbox: _Outbox) -> None:
        """A sender thread: writes the worker's messages in order; after a refused write it
        only empties its outbox (the reader reports the worker gone)."""
        while (payload := outbox.get()) is not None:  # None: the pool is closing
            if worker in self._unsendable:
                continue
            try:
                connection.send_bytes(payload)
            except OSError:  # BrokenPipeError, ConnectionResetError: the worker is gone
                self._unsendable.add(worker)

    def _read_from(self, worker: int, connection: Connection) -> None:
        """A reader thread: each answer resolves the oldest job waiting on this worker; when
        its pipe closes, every job still waiting fails with a :class:`RenderWorkerError`."""
        while True:
            try:
                kind, value = connection.recv()
            except (EOFError, OSError):
                break
            with self._waiting_lock:
                future = self._waiting[worker].popleft()
            if kind == "slot":
                slots = self._slots[worker]
                assert slots is not None  # a worker given no slots sends none
                future.set_result(slots.take(value))
            elif kind == "done":
                future.set_result(value)
            else:
                future.set_exception(value)
        with self._waiting_lock:
            self._gone.add(worker)
            stranded = list(self._waiting[worker])
            self._waiting[worker].clear()
        if stranded:
            self._broken = True
            error = self._gone_error(worker)
            for future in stranded:
                future.set_exception(error)

    def _gone_error(self, worker: int) -> RenderWorkerError:
        process = self._processes[worker] if worker < len(self._processes) else None
        if process is not None:
            process.join(_JOIN_SECONDS)  # its exit code says why
        code = "unknown" if process is None else process.exitcode
        return RenderWorkerError(f"a render worker stopped unexpectedly (exit code {code}: "
                                 "killed, or out of memory)")

    def close(self) -> None:
        """End the workers (they finish the job in hand) and wait for them, briefly."""
        if self._closed:
            return
        self._closed = True
        self._started.wait()
        for outbox in self._outboxes:
            _drop_waiting(outbox)  # jobs not yet written: nobody will read their frames
            if not self._broken:
                outbox.put(ForkingPickler.dumps(None))  # the worker's signal to end
            outbox.put(None)
        for sender in self._senders:
            sender.join(_JOIN_SECONDS)
        for process in self._processes:
            if not self._broken:
                process.join(_JOIN_SECONDS)
            if process.is_alive():
                process.terminate()
                process.join(_JOIN_SECONDS)
        for connection in self._connections:
            connection.close()
        for reader in self._readers:
            reader.join(_JOIN_SECONDS)
        for slots in self._slots:
            if slots is not None:
                slots.close()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _drop_waiting(outbox: _Outbox) -> None:
    while True:
        try:
            outbox.get_nowait()
        except queue.Empty:
            return


def _may_fork() -> bool:
    """Whether this is the main thread and no other thread runs but the stderr forwarder
    (which holds nothing a worker needs)."""
    current = threading.current_thread()
    return current is threading.main_thread() and all(
        thread is current or thread.name == STDERR_FORWARDER_THREAD
        for thread in threading.enumerate())


def _server_context() -> Any:
    """A fork server where the platform has one (see :meth:`RenderWorkers.start`), else
    fresh interpreters."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOADED_MODULES)
        return context
    return multiprocessing.get_context("spawn")


def _called_here(function: Callable[..., Any], arguments: tuple[object, ...]) -> Future[Any]:
    future: Future[Any] = Future()
    try:
        future.set_result(function(*arguments))
    except Exception as error:
        future.set_exception(error)
    return future
