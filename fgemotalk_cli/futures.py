"""A call on a thread of its own, as a future: for work a job starts and needs later."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

Result = TypeVar("Result")


def on_thread(function: Callable[..., Result], *arguments: object, name: str) -> Future[Result]:
    """``function(*arguments)`` on a new daemon thread named ``name``; its result, or the
    exception it raised, in the returned future."""
    future: Future[Result] = Future()

    def call() -> None:
        try:
            future.set_result(function(*arguments))
        except BaseException as error:  # re-raised by future.result()
            future.set_exception(error)

    threading.Thread(target=call, name=name, daemon=True).start()
    return future
