"""Process-wide set-up for the command line: termination signals and native log noise.

Two things only a command-line process (never the library) may change:

* SIGTERM (what ``timeout``, systemd, Kubernetes and job schedulers send) and SIGINT become an
  :class:`Interrupted` exception on the main thread, so every ``with`` block unwinds and the
  temporary outputs are removed, as for Ctrl-C. The exit code is 128 + the signal number.
* MediaPipe's C++ code (absl logging, TensorFlow Lite) writes INFO and WARNING lines straight
  to file descriptor 2 from its own threads, and no environment variable of mediapipe 0.10.x
  reaches them (GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL were tried: absl ignores both).
  So, once, before anything imports MediaPipe, fd 2 becomes a pipe whose reader drops those
  lines and passes everything else on, while Python's ``sys.stderr`` keeps writing to the
  real stderr directly: our own lines can never be swallowed by a redirect.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: Exit codes of an interrupted run, by the shell's convention (128 + signal number).
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143

_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Lines MediaPipe's native code prints in a normal run: absl/glog INFO and WARNING records
# ("W0000 00:00:1796.1 24289 inference_feedback_manager.cc:114] ..."), TensorFlow Lite's
# "INFO: Created TensorFlow Lite XNNPACK delegate" and absl's note that logging is not set up.
# Errors (E...) and fatal records (F...) are passed on: they may explain a crash.
_NATIVE_NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d\d|INFO: |WARNING: All log messages before absl::InitializeLog"
    rb"|WARNING: Logging before InitGoogleLogging)"
)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; raised on the main thread by the signal handler.

    A KeyboardInterrupt, so that code which already cleans up after Ctrl-C (``atomic_output``,
    the background workers) does the same for SIGTERM.
    """

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        return 128 + self.signal_number


#: The thread that forwards fd 2 (it only reads a pipe and writes fd 2, so a process may fork
#: while it runs: engines/warp/render_workers.py).
STDERR_FORWARDER_THREAD = "fgemotalk-native-stderr"


def interrupted_exit_code(error: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (a plain KeyboardInterrupt too), 143 for SIGTERM."""
    return error.exit_code if isinstance(error, Interrupted) else EXIT_INTERRUPTED


def _raise_interrupted(signal_number: int, frame: FrameType | None) -> None:
    # A second signal must not cut the clean-up of the first one short (it only deletes
    # temporary files and joins worker threads, which takes a moment).
    for number in _HANDLED_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    raise Interrupted(signal_number)


@contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` while the block runs.

    Only the main thread can install handlers; elsewhere (a notebook's worker thread) this does
    nothing. A signal the parent told us to ignore (``nohup``, a background job) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in _HANDLED_SIGNALS}
    for number, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(number, _raise_interrupted)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def _forward_useful_lines(pipe_read: int, real_stderr: int) -> None:
    with os.fdopen(pipe_read, "rb") as pipe:
        for line in pipe:
            if not _NATIVE_NOISE.match(line):
                try:
                    os.write(real_stderr, line)
                except OSError:  # stderr closed by the parent: nothing left to tell
                    return


@contextmanager
def native_log_noise_filtered() -> Iterator[None]:
    """Drop MediaPipe's native INFO/WARNING lines from fd 2 for the whole block.

    Enter this on the main thread before MediaPipe is imported. Python's ``sys.stderr`` is
    rebound to a duplicate of the real stderr, so progress bars, warnings, error lines and
    tracebacks bypass the filter. When ``sys.stderr`` is not fd 2 (pytest's capsys, an
    embedding host), nothing is changed.
    """
    try:
        # Only when Python's stderr really is fd 2 (not pytest's capsys, a notebook's stream).
        writes_to_fd_2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        writes_to_fd_2 = False
    if not writes_to_fd_2:
        yield
        return
    sys.stderr.flush()
    real_stderr = os.dup(2)
    pipe_read, pipe_write = os.pipe()
    python_stderr = sys.stderr
    encoding = getattr(python_stderr, "encoding", None) or "utf-8"
    sys.stderr = open(real_stderr, "w", buffering=1, encoding=encoding,  # noqa: SIM115
                      errors="backslashreplace", closefd=False)
    os.dup2(pipe_write, 2)
    os.close(pipe_write)
    reader = threading.Thread(target=_forward_useful_lines, args=(pipe_read, real_stderr),
                              name=STDERR_FORWARDER_THREAD, daemon=True)
    reader.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        # Pointing fd 2 back at the real stderr closes the pipe's last write end we hold, so
        # the reader sees the end and forwards whatever is left before we return.
        os.dup2(real_stderr, 2)
        reader.join(timeout=1.0)
        sys.stderr = python_stderr
        if not reader.is_alive():  # a child process may still hold the pipe: keep its target
            os.close(real_stderr)


#: glibc's ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks below this come from the heap, not from a mapping of their own (glibc's largest
#: dynamic threshold on 64-bit systems); what the heap frees stays in it up to ``_HEAP_SLACK``.
_MMAP_THRESHOLD_BYTES = 32 << 20
_HEAP_SLACK_BYTES = 256 << 20


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name) if name else None
        return library if library is not None and hasattr(library, "malloc_trim") else None
    except (OSError, AttributeError):  # not glibc
        return None


def reuse_freed_heap() -> None:
    """Let a process that allocates the same large arrays every frame reuse them.

    By default glibc maps each block above 128 kB on its own and unmaps it when freed, and
    hands a heap's free top back past twice that: every frame's maps, masks and pipe buffers
    (megabytes) then come back as fresh pages, each zeroed by a page fault (about 1,000 a
    frame in a render worker, a tenth of its CPU time as system time). With these thresholds
    the freed memory stays in the heap for the next frame; :func:`return_freed_memory`, called
    every few frames, still bounds what is held. For processes of our own only (the render
    workers): the setting is process-wide.
    """
    library = _glibc()
    if library is not None:
        library.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        library.mallopt(_M_TRIM_THRESHOLD, _HEAP_SLACK_BYTES)


def return_freed_memory() -> None:
    """Give the heap memory that a finished stage freed back to the operating system.

    glibc keeps freed memory in its heap for reuse, per thread arena; what a worker thread
    freed (the speech analysis of a whole clip, larger the longer the clip) stays resident
    otherwise, so a long job's peak would grow with its length although nothing is held.
    ``malloc_trim`` exists in glibc only: elsewhere (macOS, musl) there is nothing to do.
    """
    library = _glibc()
    if library is not None:
        library.malloc_trim(0)
