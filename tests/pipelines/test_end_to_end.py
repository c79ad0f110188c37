"""Real media end to end with the warp engine: every portrait reenacted and speaking.

Outputs must decode, carry audio, and have the right length (within one frame). Portraits the
face mesh cannot find (the manifest's occluded ones) must fail cleanly with exit code 2.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest

from fgemotalk_cli import api
from fgemotalk_cli.errors import NoFaceError
from fgemotalk_cli.expression.aus import expression_control
from fgemotalk_cli.media.audio import audio_duration_seconds
from fgemotalk_cli.media.video import probe_video
from fgemotalk_cli.options import RunOptions
from tests.media import media_files

OPTIONS = RunOptions(engine="warp", show_progress=False)
PORTRAITS = media_files("portraits")
pytestmark = [pytest.mark.media, pytest.mark.slow]


def _audio_seconds(path: Path) -> float:
    """An input's exact length, or an output's audio-stream length from the container.

    Decoding an AAC track also returns its last block's padding (up to 64 ms at 16 kHz);
    the container's duration is what players use and what the muxer trims to.
    """
    if path.suffix.lower() != ".mp4":
        return audio_duration_seconds(path)
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


@pytest.mark.media
@pytest.mark.parametrize("portrait", PORTRAITS, ids=lambda p: p.stem)
def test_reenact_every_portrait_with_d5(portrait: Path, shared_media: Path,
                                        tmp_path: Path) -> None:
    driver = shared_media / "driving" / "liveportrait_d5.mp4"
    output = tmp_path / "out.mp4"
    try:
        result = api.reenact(portrait, driver, output, control=expression_control(["12=2"]),
                             options=OPTIONS)
    except NoFaceError as error:
        # Only the manifest's hard cases may miss, and they must fail cleanly.
        assert portrait.stem in ("liveportrait_d30", "liveportrait_s11"), str(error)
        assert not output.exists()
        return
    source_info, out_info = probe_video(driver), probe_video(output)
    assert result.frames == source_info.frame_count == out_info.frame_count
    frame = 1 / float(source_info.fps)
    assert abs(out_info.duration_seconds - source_info.duration_seconds) <= frame + 1e-3
    assert out_info.has_audio
    assert abs(_audio_seconds(output) - out_info.duration_seconds) <= frame + 1e-3


@pytest.mark.media
@pytest.mark.parametrize("portrait", PORTRAITS, ids=lambda p: p.stem)
def test_speak_every_portrait(portrait: Path, shared_media: Path, tmp_path: Path) -> None:
    audio = shared_media / "audio" / "vexpress_tys_aud.mp3"  # 4 s English mp3
    output = tmp_path / "out.mp4"
    try:
        result = api.speak(portrait, audio, output, control=expression_control([], "happy"),
                           options=OPTIONS)
    except NoFaceError:
        assert portrait.stem in ("liveportrait_d30", "liveportrait_s11")
        return
    seconds = _audio_seconds(audio)
    info = probe_video(output)
    assert result.frames == info.frame_count == math.ceil(seconds * 25 - 1e-6)
    assert abs(info.duration_seconds - seconds) <= 1 / 25 + 1e-3
    assert abs(_audio_seconds(output) - info.duration_seconds) <= 1 / 25 + 1e-3


@pytest.mark.media
def test_speak_radio_clip_and_espeak(shared_media: Path, tmp_path: Path) -> None:
    portrait = shared_media / "portraits" / "liveportrait_s42.jpg"
    radio = shared_media / "audio" / "sadtalker_RD_Radio31_000.wav"
    result = api.speak(portrait, radio, tmp_path / "radio.mp4", options=OPTIONS)
    assert result.frames == 200 and result.has_audio
    assert shutil.which("espeak-ng"), "make install provides espeak-ng"
    speech = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(speech), "Bob made a big blue pie."], check=True)
    result = api.speak(portrait, speech, tmp_path / "espeak.mp4",
                       options=RunOptions(engine="warp", show_progress=False, compare=True),
                       transcript="Bob made a big blue pie.")
    info = probe_video(tmp_path / "espeak.mp4")
    assert info.width > info.height  # side by side
    assert abs(info.duration_seconds - _audio_seconds(speech)) <= 1 / 25 + 1e-3


@pytest.mark.media
def test_reenact_compare_and_neutral_frame(shared_media: Path, tmp_path: Path) -> None:
    portrait = shared_media / "portraits" / "sadtalker_sad.png"
    driver = shared_media / "driving" / "liveportrait_d1.mp4"
    options = RunOptions(engine="warp", show_progress=False, compare=True)
    result = api.reenact(portrait, driver, tmp_path / "cmp.mp4", options=options,
                         neutral_frame=3)
    info = probe_video(tmp_path / "cmp.mp4")
    assert result.frames == 16 and info.width >= 3 * info.height - 4


@pytest.mark.media
def test_edit_video_keeps_audio_and_length(shared_media: Path, tmp_path: Path) -> None:
    clip = shared_media / "driving" / "lia_vox_driving2.mp4"
    result = api.edit_au(clip, tmp_path / "edited.mp4", control=expression_control([], "happy"),
                         options=OPTIONS)
    source, edited = probe_video(clip), probe_video(tmp_path / "edited.mp4")
    assert result.frames == source.frame_count == edited.frame_count
    assert edited.has_audio
    assert abs(edited.duration_seconds - source.duration_seconds) <= 1 / float(source.fps) + 1e-3
