"""Outputs appear whole or not at all; existing files survive without --overwrite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fgemotalk_cli.errors import OutputExistsError
from fgemotalk_cli.media.atomic import atomic_output
from tests.reliability_helpers import default_interrupt_handling

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_success_renames_temp_onto_target(tmp_path: Path) -> None:
    target = tmp_path / "face_driver.mp4"
    with atomic_output(target, overwrite=False) as temp:
        assert temp.parent == tmp_path and temp.suffix == ".mp4"
        assert temp.name.startswith(".") and temp != target and not target.exists()
        temp.write_bytes(b"video")
    assert target.read_bytes() == b"video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face_driver.mp4"]
    plain = tmp_path / "plain"
    plain.write_bytes(b"")  # permissions as any program would create them (umask applied)
    assert target.stat().st_mode == plain.stat().st_mode


@pytest.mark.parametrize("interruption", [RuntimeError("engine failed"), KeyboardInterrupt()])
def test_failure_leaves_nothing(tmp_path: Path, interruption: BaseException) -> None:
    target = tmp_path / "out.mp4"
    with pytest.raises(type(interruption)):
        with atomic_output(target) as temp:
            temp.write_bytes(b"half a video")
            raise interruption
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    entered = False
    with pytest.raises(OutputExistsError, match="--overwrite"):
        with atomic_output(target, overwrite=False):
            entered = True
    assert not entered and target.read_bytes() == b"precious"
    with atomic_output(target, overwrite=True) as temp:
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and len(list(tmp_path.iterdir())) == 1


def test_target_created_meanwhile_is_not_clobbered(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    with pytest.raises(OutputExistsError):
        with atomic_output(target) as temp:
            temp.write_bytes(b"ours")
            target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's" and len(list(tmp_path.iterdir())) == 1


def test_missing_output_folder_is_created(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "out.png"
    with atomic_output(target) as temp:
        temp.write_bytes(b"x")
    assert target.read_bytes() == b"x"


CTRL_C_WHILE_ENCODING = textwrap.dedent(
    """
    import sys
    import numpy as np
    from fgemotalk_cli.media.atomic import atomic_output
    from fgemotalk_cli.media.encode import VideoWriter
    with atomic_output(sys.argv[1]) as temp:
        with VideoWriter(temp, 25, preset="ultrafast") as writer:
            while True:  # until interrupted
                writer.write(np.zeros((64, 64, 3), np.uint8))
                print(writer.frames_written, flush=True)
    """
)


def test_ctrl_c_during_encoding_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "render.mp4"
    process = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_WHILE_ENCODING, str(target)],
        cwd=REPO_ROOT,
        preexec_fn=default_interrupt_handling,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while int(process.stdout.readline() or 0) < 50:  # the encoder is well under way
            assert process.poll() is None, process.stderr.read()
        assert any(tmp_path.iterdir())  # the temporary file exists while encoding
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode != 0 and "KeyboardInterrupt" in stderr
    assert list(tmp_path.iterdir()) == []
