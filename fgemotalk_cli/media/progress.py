"""A rich progress bar on stderr (count, rate, ETA) that ``--quiet`` turns off: over frames
for the rendering commands, over jobs for ``batch``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class FrameProgress:
    """Counts frames; a no-op when disabled so callers never branch on ``quiet``."""

    def __init__(self, progress: object | None, task: object | None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, frames: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, frames)  # type: ignore[attr-defined]



@contextmanager
def frame_progress(description: str, total: int | None, enabled: bool,
                   rate_unit: str = "fps") -> Iterator[FrameProgress]:
    if not enabled:
        yield FrameProgress(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class FpsColumn(TextColumn):
        def __init__(self) -> None:
            super().__init__("")

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:5.1f} {rate_unit}" if speed else f"  -.- {rate_unit}",
                        style="progress.data.speed")

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        FpsColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield FrameProgress(progress, task)
