"""Running the real ``fgemotalk`` process for the reliability tests, and small inputs for them.

Every case is judged the way a shell loop over a folder of files sees it: the exit code, the
lines on stderr, the lines on stdout and what is left in the output folder (hidden temporary
files included).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    @property
    def stdout_lines(self) -> list[str]:
        return self.stdout.splitlines()


def cli_command(*args: str | Path, script: str | None = None) -> list[str]:
    """The command line that runs fgemotalk (or ``script``, which then calls its main)."""
    prefix = [sys.executable, "-c", script, "--"] if script else [sys.executable, "-m",
                                                                   "fgemotalk_cli"]
    return [*prefix, *map(str, args)]


def cli_environment() -> dict[str, str]:
    """This checkout's code first, whatever the installed package points at."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), path]))}


def run_cli(*args: str | Path, cwd: Path, script: str | None = None,
            timeout: float = 120) -> Finished:
    done = subprocess.run(cli_command(*args, script=script), cwd=cwd, env=cli_environment(),
                          capture_output=True, text=True, timeout=timeout)
    return Finished(done.returncode, done.stdout, done.stderr)


def everything_in(folder: Path) -> list[str]:
    """Every file and folder below ``folder``, hidden ones included, as relative paths."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_user_error(result: Finished, folder: Path | None = None, code: int = 2) -> str:
    """Exit ``code``, exactly one line on stderr, nothing on stdout or in ``folder``."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert len(result.stderr_lines) == 1, result.stderr[-2000:]
    assert result.stdout == ""
    if folder is not None:
        assert everything_in(folder) == []
    return result.stderr_lines[0]


def write_face_clip(source: Path, target: Path, seconds: float, size: int = 256) -> int:
    """The first ``seconds`` of ``source`` at ``size`` px written with our own encoder
    (H.264 in MP4 with the index at the front, like every file fgemotalk writes); returns
    the frame count."""
    from fgemotalk_cli.media.encode import VideoWriter
    from fgemotalk_cli.media.images import downscale_to_max_side
    from fgemotalk_cli.media.video import iter_frames, probe_video

    fps = probe_video(source).fps
    count = 0
    with VideoWriter(target, fps, preset="ultrafast") as writer:
        for frame in iter_frames(source):
            if frame.time >= seconds:
                break
            writer.write(np.ascontiguousarray(downscale_to_max_side(frame.image, size)))
            count += 1
    return count


def cut_file(source: Path, target: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``source``'s bytes: a download or copy that stopped early."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def default_interrupt_handling() -> None:
    """``preexec_fn`` for a child that is sent SIGINT: a shell starts background jobs with
    SIGINT ignored and a child inherits that, so ``make test &`` would test nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
