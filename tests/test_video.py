"""Streaming decode, H.264 encode and audio muxing on the real driving clips and synthetic ones.

Re-encoding is capped at 256 px and the ultrafast preset so that every clip in the shared
media is covered in a few seconds each; what is checked (frame counts, durations, audio
presence and length, orientation) does not depend on the size.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from fgemotalk_cli.errors import InputError, MediaError
from fgemotalk_cli.media.atomic import atomic_output
from fgemotalk_cli.media.encode import VideoWriter, mux_audio
from fgemotalk_cli.media.video import (
    VideoFrame,
    iter_frames,
    probe_video,
    resample_frames,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def reencode(source: Path, output: Path, max_size: int = 256, preset: str = "ultrafast") -> int:
    """Decode ``source``, encode it small, mux its own audio; returns the frames written."""
    info = probe_video(source)
    with atomic_output(output, overwrite=False) as final_temp:
        video_only = final_temp.with_name(f".{output.stem}.video.mp4")
        try:
            with VideoWriter(video_only, info.fps, crf=30, preset=preset) as writer:
                for frame in iter_frames(source, max_size=max_size):
                    writer.write(frame.image)
            mux_audio(video_only, source, final_temp)
        finally:
            video_only.unlink(missing_ok=True)
    return writer.frames_written


def read_streams(path: Path) -> dict:
    """Lengths measured with PyAV directly, independently of the module under test."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        facts = {
            "video_packets": sum(1 for p in container.demux(video) if p.size),
            "video_seconds": float(video.duration * video.time_base),
            "size": (video.codec_context.width, video.codec_context.height),
            "pix_fmt": video.codec_context.pix_fmt,
            "codec": video.codec_context.name,
        }
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            facts["audio_seconds"] = float(audio.duration * audio.time_base)
            facts["audio_rate"] = audio.rate
            facts["audio_channels"] = audio.channels
            facts["audio_codec"] = audio.codec_context.name
            decoded = sum(frame.samples for frame in container.decode(audio))
            facts["audio_decoded_seconds"] = decoded / audio.rate
    return facts


def assert_audio_matches_video(facts: dict, fps: Fraction, label: str) -> None:
    frame = 1 / float(fps)
    assert abs(facts["audio_seconds"] - facts["video_seconds"]) <= frame, label
    # Decoders also return AAC's padding of the last 1024-sample block; players stop at the
    # container duration above, but the decoded length must not exceed that block either.
    block = 1024 / facts["audio_rate"]
    assert abs(facts["audio_decoded_seconds"] - facts["video_seconds"]) <= frame + block, label


def make_clip(path: Path, frames: int, fps: int = 25, size: tuple[int, int] = (64, 64)) -> None:
    """A synthetic clip whose frame i has brightness (7 * i) % 256, so frames are tellable."""
    width, height = size
    with VideoWriter(path, fps, crf=10, preset="ultrafast") as writer:
        for index in range(frames):
            writer.write(np.full((height, width, 3), (7 * index) % 256, np.uint8))


def test_reencode_every_driving_clip_keeps_length_and_audio(
    driving_clips: list[Path], tmp_path: Path, subtests
) -> None:
    assert len(driving_clips) >= 18
    for clip in driving_clips:
        with subtests.test(clip=clip.name):
            info = probe_video(clip)
            with av.open(str(clip)) as container:
                stream = container.streams.video[0]
                input_seconds = float(stream.duration * stream.time_base)
                input_frames = stream.frames
            output = tmp_path / f"{clip.stem}_out.mp4"
            written = reencode(clip, output)
            facts = read_streams(output)
            assert abs(written - input_frames) <= 1
            assert abs(facts["video_packets"] - input_frames) <= 1
            assert abs(facts["video_seconds"] - input_seconds) <= 1 / float(info.fps)
            assert facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p"
            assert max(facts["size"]) == 256 and all(side % 2 == 0 for side in facts["size"])
            assert ("audio_seconds" in facts) == info.has_audio
            if info.has_audio:
                assert facts["audio_codec"] == "aac"
                assert_audio_matches_video(facts, info.fps, clip.name)
            if clip.name == "liveportrait_d13.mp4":  # a portrait phone video stays portrait
                assert info.height > info.width and facts["size"] == (144, 256)


def test_probe_reports_exact_rate_and_audio(shared_media: Path) -> None:
    info = probe_video(shared_media / "driving" / "liveportrait_d13.mp4")
    assert (info.width, info.height, info.rotation_degrees) == (720, 1280, 0)
    assert info.fps == Fraction(30) and isinstance(info.fps, Fraction)
    assert info.frame_count == 352 and not info.has_audio
    info = probe_video(shared_media / "driving" / "lia_vox_driving2.mp4")
    assert info.has_audio and info.frame_count == 221 and info.fps == 25


def test_ntsc_rate_stays_a_fraction(tmp_path: Path) -> None:
    path = tmp_path / "ntsc.mp4"
    fps = Fraction(30000, 1001)
    with VideoWriter(path, fps, preset="ultrafast") as writer:
        for _ in range(30):
            writer.write(np.zeros((32, 32, 3), np.uint8))
    info = probe_video(path)
    assert info.fps == fps
    assert info.duration_seconds == pytest.approx(30 * 1001 / 30000, abs=1e-6)
    times = [frame.time for frame in iter_frames(path)]
    assert times == [index / fps for index in range(30)]


def test_rotated_phone_video_is_decoded_upright(tmp_path: Path) -> None:
    # Stored landscape with a red top-left corner, shown turned 90 degrees clockwise.
    stored = np.zeros((64, 96, 3), np.uint8)
    stored[:16, :16] = (255, 0, 0)
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"crf": "5", "preset": "ultrafast"}
        stream.set_display_rotation(-90)  # FFmpeg counts counter-clockwise
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation_degrees) == (64, 96, 90)
    upright = next(iter_frames(path)).image
    expected = np.rot90(stored, k=-1)  # clockwise: the red corner moves to the top right
    assert upright.shape == (96, 64, 3)
    assert np.abs(upright.astype(int) - expected).max() < 40
    output = tmp_path / "upright.mp4"
    reencode(path, output)
    assert read_streams(output)["size"] == (64, 96)
    again = next(iter_frames(output)).image
    assert probe_video(output).rotation_degrees == 0 and again[4, -4, 0] > 200


@pytest.mark.parametrize(
    ("name", "rate", "channels"),
    [("vexpress_tys_aud.mp3", 16000, 1), ("sadtalker_deyu.wav", 48000, 2)],
)
def test_mux_speech_file_onto_video_of_its_length(
    shared_media: Path, tmp_path: Path, name: str, rate: int, channels: int
) -> None:
    audio = shared_media / "audio" / name
    with av.open(str(audio)) as container:
        stream = container.streams.audio[0]
        audio_seconds = sum(f.samples for f in container.decode(stream)) / stream.rate
    fps = 25
    frames = int(np.ceil(audio_seconds * fps))  # speak: the video follows the audio
    silent = tmp_path / "silent.mp4"
    make_clip(silent, frames, fps)
    output = tmp_path / "spoken.mp4"
    result = mux_audio(silent, audio, output)
    facts = read_streams(output)
    assert (facts["audio_rate"], facts["audio_channels"]) == (rate, channels)
    assert facts["video_packets"] == frames
    assert_audio_matches_video(facts, Fraction(fps), name)
    assert abs(facts["video_seconds"] - audio_seconds) <= 1 / fps
    assert result.audio_padded_seconds < 1 / fps and result.audio_sample_rate == rate


def test_mux_cuts_long_audio_and_pads_short_audio(shared_media: Path, tmp_path: Path) -> None:
    clip = tmp_path / "two_seconds.mp4"
    make_clip(clip, 50)
    cut = mux_audio(clip, shared_media / "audio" / "sadtalker_deyu.wav", tmp_path / "cut.mp4")
    assert cut.audio_truncated and cut.audio_padded_seconds == 0
    assert_audio_matches_video(read_streams(tmp_path / "cut.mp4"), Fraction(25), "cut")
    long_clip = tmp_path / "six_seconds.mp4"
    make_clip(long_clip, 150)
    mp3 = shared_media / "audio" / "vexpress_tys_aud.mp3"
    padded = mux_audio(long_clip, mp3, tmp_path / "padded.mp4")
    assert not padded.audio_truncated
    assert padded.audio_padded_seconds == pytest.approx(6.0 - 4.032, abs=0.01)
    assert_audio_matches_video(read_streams(tmp_path / "padded.mp4"), Fraction(25), "padded")


def test_audio_stays_in_sync_through_reencode(tmp_path: Path) -> None:
    # A white flash at frame 40 (1.6 s) and a tone burst at 1.6 s must still coincide.
    fps, flash = 25, 40
    silent = tmp_path / "flash_silent.mp4"
    with VideoWriter(silent, fps, crf=10, preset="ultrafast") as writer:
        for index in range(75):
            writer.write(np.full((32, 32, 3), 255 if index == flash else 0, np.uint8))
    rate = 48000
    samples = np.zeros((3 * rate, 2), np.float32)
    burst = slice(int(1.6 * rate), int(1.64 * rate))
    samples[burst] = 0.5 * np.sin(np.arange(burst.stop - burst.start) / 5)[:, None]
    wav = tmp_path / "burst.wav"
    soundfile.write(wav, samples, rate, subtype="PCM_24")
    source = tmp_path / "flash.mp4"
    mux_audio(silent, wav, source)
    output = tmp_path / "flash_out.mp4"
    reencode(source, output, preset="medium")  # the default: B-frames, negative dts
    brightness = [frame.image.mean() for frame in iter_frames(output)]
    flash_seconds = int(np.argmax(brightness)) / fps
    with av.open(str(output)) as container:
        decoded = np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)])
    onset_seconds = int(np.argmax(np.abs(decoded) > 0.1)) / rate
    assert abs(onset_seconds - flash_seconds) <= 1 / fps
    assert_audio_matches_video(read_streams(output), Fraction(fps), "flash")


@pytest.mark.parametrize(("offset", "onset"), [(0.4, 0.6), (-0.4, 1.4)])
def test_audio_offset_skips_or_delays_the_source(
    tmp_path: Path, offset: float, onset: float
) -> None:
    rate = 16000
    samples = np.zeros(2 * rate, np.float32)
    samples[rate : rate + 800] = 0.5  # a click at 1.0 s
    wav = tmp_path / "click.wav"
    soundfile.write(wav, samples, rate)
    clip = tmp_path / "clip.mp4"
    make_clip(clip, 50)
    output = tmp_path / "shifted.mp4"
    result = mux_audio(clip, wav, output, audio_offset_seconds=offset)
    assert result.audio_padded_seconds == pytest.approx(abs(offset), abs=1e-3)
    with av.open(str(output)) as container:
        decoded = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    assert int(np.argmax(np.abs(decoded) > 0.1)) / rate == pytest.approx(onset, abs=0.01)


def test_variable_frame_rate_is_timed_and_resampled(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    times_ms = [0, 40, 60, 200, 210, 220, 400, 480]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"crf": "5", "preset": "ultrafast"}
        for index, pts in enumerate(times_ms):
            image = np.full((32, 32, 3), 25 * index, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    frames = list(iter_frames(path))
    assert [round(frame.time_seconds * 1000) for frame in frames] == times_ms
    constant = list(resample_frames(iter_frames(path), 25, 0.52))
    shown = [round(frame.image.mean() / 25) for frame in constant]
    # Output times 0, 40, ..., 480 ms; each shows the source frame nearest in time.
    assert shown == [0, 1, 2, 2, 3, 3, 5, 5, 6, 6, 6, 6, 7]  # 440 ms: a tie, the earlier wins
    assert [frame.time for frame in constant] == [Fraction(k, 25) for k in range(13)]


def test_resample_keeps_same_rate_one_to_one_despite_jitter() -> None:
    image = np.zeros((1, 1, 3), np.uint8)
    jittered = [
        VideoFrame(image, i, Fraction(i, 30) + Fraction((-1) ** i, 90000)) for i in range(90)
    ]
    out = list(resample_frames(jittered, 30, 3.0))
    assert len(out) == 90 and all(a.image is b.image for a, b in zip(out, jittered, strict=True))
    doubled = list(resample_frames(jittered, 60, 3.0))
    assert len(doubled) == 180


def test_writer_pads_odd_sizes_and_rejects_bad_frames(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    with VideoWriter(path, 25, preset="ultrafast") as writer:
        for _ in range(5):
            writer.write(np.full((47, 63, 3), 128, np.uint8))
        with pytest.raises(ValueError, match="differs"):
            writer.write(np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            writer.write(np.zeros((47, 63, 3), np.float32))
    assert writer.duration == Fraction(5, 25)
    assert next(iter_frames(path)).image.shape == (48, 64, 3)
    with pytest.raises(MediaError, match="no frames"):
        VideoWriter(tmp_path / "empty.mp4", 25).close()


def test_unreadable_inputs_give_one_line_errors(tmp_path: Path, shared_media: Path) -> None:
    with pytest.raises(InputError, match="video not found"):
        probe_video(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="video not found"):
        next(iter_frames(tmp_path / "missing.mp4"))
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video at all\n")
    for call in (probe_video, lambda p: next(iter_frames(p))):
        with pytest.raises(MediaError) as caught:
            call(fake)
        assert "notes.mp4" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(MediaError, match="no video stream"):
        probe_video(shared_media / "audio" / "sadtalker_deyu.wav")
    clip = tmp_path / "clip.mp4"
    make_clip(clip, 5)
    with pytest.raises(MediaError, match="not a media file"):
        mux_audio(clip, fake, tmp_path / "out.mp4")
    silent_driver = shared_media / "driving" / "liveportrait_d0.mp4"
    assert mux_audio(clip, silent_driver, tmp_path / "out.mp4").audio_duration_seconds is None


MEMORY_PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fgemotalk_cli.media.encode import VideoWriter, mux_audio
    from fgemotalk_cli.media.video import iter_frames, probe_video
    source, work = Path(sys.argv[1]), Path(sys.argv[2])
    info = probe_video(source)
    with VideoWriter(work / "video.mp4", info.fps, crf=28, preset="ultrafast") as writer:
        for frame in iter_frames(source):
            writer.write(frame.image)
    mux_audio(work / "video.mp4", source, work / "out.mp4")
    # VmHWM is this process's own peak; ru_maxrss would include pytest's, inherited at fork.
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    print(status["VmHWM"].split()[0])  # KiB
    """
)


def _peak_rss_kib(clip: Path, work: Path) -> int:
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(clip), str(work)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    return int(done.stdout.split()[-1])


def test_memory_does_not_grow_with_video_length(tmp_path: Path) -> None:
    peaks = {}
    for seconds in (10, 60):
        silent = tmp_path / f"silent_{seconds}.mp4"
        with VideoWriter(silent, 25, crf=28, preset="ultrafast") as writer:
            ramp = np.arange(128)
            for index in range(25 * seconds):  # moving gradients: real work for the encoder
                image = np.empty((128, 128, 3), np.uint8)
                image[..., 0] = (ramp[:, None] + index) % 256
                image[..., 1] = ramp[None, :] * 2
                image[..., 2] = index % 256
                writer.write(image)
        wav = tmp_path / f"tone_{seconds}.wav"
        tone = 0.2 * np.sin(np.arange(16000 * seconds) * 0.05).astype(np.float32)
        soundfile.write(wav, tone, 16000)
        clip = tmp_path / f"clip_{seconds}.mp4"
        mux_audio(silent, wav, clip)
        peaks[seconds] = _peak_rss_kib(clip, tmp_path / f"work_{seconds}")
    print(f"peak RSS: 10 s clip {peaks[10] / 1024:.1f} MiB, 60 s clip {peaks[60] / 1024:.1f} MiB")
    assert peaks[60] <= 1.1 * peaks[10] + 4 * 1024


@pytest.mark.parametrize("max_size", [None, 200])
def test_frames_match_pyav_own_conversion(shared_media: Path, max_size: int | None) -> None:
    """The stream's one colour converter gives each frame exactly what PyAV's per-frame
    ``reformat`` gives (decoded frames, and downscaled ones)."""
    clip = shared_media / "driving" / "liveportrait_d5.mp4"
    ours = [frame.image for _, frame in zip(range(12), iter_frames(clip, max_size=max_size))]
    with av.open(str(clip)) as container:
        theirs = []
        for _, frame in zip(range(12), container.decode(video=0)):
            if max_size is None:
                theirs.append(frame.reformat(format="rgb24").to_ndarray())
            else:
                scale = max_size / max(frame.width, frame.height)
                theirs.append(frame.reformat(width=round(frame.width * scale),
                                             height=round(frame.height * scale),
                                             format="rgb24", interpolation="AREA").to_ndarray())
    assert len(ours) == len(theirs) == 12
    for mine, reference in zip(ours, theirs):
        assert np.array_equal(mine, reference)


def test_written_frames_decode_as_pyav_own_conversion_encodes(tmp_path: Path) -> None:
    """The writer's one colour converter encodes what a per-frame conversion encodes: the
    same (lossless-quality) stream decodes to the same pixels."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(4)]
    ours = tmp_path / "ours.mp4"
    with VideoWriter(ours, 25, crf=0, preset="ultrafast") as writer:
        for frame in frames:
            writer.write(frame)
    reference = tmp_path / "reference.mp4"
    with av.open(str(reference), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"crf": "0", "preset": "ultrafast"}
        for index, frame in enumerate(frames):
            converted = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                format="yuv420p", dst_colorspace="itu709")
            converted.pts = index
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))

    def decoded(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as container:
            return [frame.to_ndarray(format="yuv420p") for frame in container.decode(video=0)]

    for mine, theirs in zip(decoded(ours), decoded(reference), strict=True):
        assert np.array_equal(mine, theirs)
