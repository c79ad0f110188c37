"""`speak`: audio -> per-frame mouth, blinks and head motion -> engine frames, muxed with the audio.

The output length follows the audio: ``ceil(duration * fps)`` frames, and the muxer trims the
audio to the video so both agree within one frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path

from fgemotalk_cli.engines.base import Control, SpeechSample, ignored_controls
from fgemotalk_cli.engines.loading import load_engine
from fgemotalk_cli.errors import InputError
from fgemotalk_cli.expression.aus import ExpressionControl
from fgemotalk_cli.media.audio import load_audio
from fgemotalk_cli.options import RunOptions
from fgemotalk_cli.pipelines.common import (
    RunStats,
    load_source_face,
    side_by_side,
)
from fgemotalk_cli.pipelines.output import EncodedOutput
from fgemotalk_cli.pipelines.threads import (
    frame_loop_threads,
    frames_ahead,
    load_readout_aside,
    render_workers,
    run_aside,
)
from fgemotalk_cli.process import return_freed_memory
from fgemotalk_cli.speech.gestures import blink_track, head_motion_track
from fgemotalk_cli.speech.mouth import mouth_track

SPEECH_SAMPLE_RATE = 16000


@dataclass(frozen=True)
class SpeechSettings:
    transcript: str | None = None
    language: str = "en"
    head_motion: float = 0.5
    blinks: bool = True
    fps: Fraction = Fraction(25)
    seed: int = 0

    def requested_controls(self) -> list[Control]:
        """The controls set away from their defaults (an engine may not honour them all)."""
        defaults = SpeechSettings()
        requested: list[Control] = []
        if self.transcript is not None:
            requested.append("transcript")
        if self.language != defaults.language:
            requested.append("language")
        if self.head_motion != defaults.head_motion:
            requested.append("head_motion")
        if self.blinks != defaults.blinks:
            requested.append("blinks")
        return requested


def run_speak(source_path: Path, audio_path: Path, output: Path, control: ExpressionControl,
              options: RunOptions, settings: SpeechSettings) -> RunStats:
    with EncodedOutput(output, options, settings.fps, audio_source=audio_path) as encoded, \
            ExitStack() as job:
        wave, _ = load_audio(audio_path, sample_rate=SPEECH_SAMPLE_RATE, mono=True)
        if wave.size < SPEECH_SAMPLE_RATE // 10:
            raise InputError(f"audio {audio_path.name} is shorter than 0.1 s")
        n_frames = math.ceil(wave.size / SPEECH_SAMPLE_RATE * settings.fps)
        engine = load_engine(options)
        job.enter_context(render_workers(engine))  # before the threads below: they are forked
        load_readout_aside(engine, control.requested_aus)
        # The speech analysis (phoneme decoding) runs aside, in a render worker, while the
        # source face is found, prepared and calibrated: none needs the others.
        speech = run_aside(engine, partial(mouth_track, transcript=settings.transcript,
                                           language=settings.language),
                           wave, SPEECH_SAMPLE_RATE, settings.fps, n_frames)
        source = load_source_face(source_path, options.face_index, options.max_size)
        state = engine.prepare(source.image, source.landmarks)
        calibrate_for = getattr(engine, "calibrate_for", None)
        if calibrate_for is not None:  # the warp engine
            calibrate_for(state, control.requested_aus)
        mouth = speech.result()
        return_freed_memory()  # what the whole-clip speech analysis freed (see process.py)
        # The head-motion layers build while the frames are set up (not while the speech
        # analysis runs: their temporaries on top of its peak took a 60 s job's peak memory
        # from 1.04 to 1.14 times a 10 s job's).
        layers_aside = getattr(engine, "build_layers_aside", None)
        if layers_aside is not None and settings.head_motion > 0:  # the warp engine
            layers_aside(state)
        stats = RunStats(engine=engine.name, fps=settings.fps)
        stats.warnings.extend(ignored_controls(engine, settings.requested_controls()))
        stats.warnings.extend(mouth.warnings)
        stats.warnings.extend(source.size_warnings())
        blinks = (blink_track(n_frames, settings.fps, seed=settings.seed) if settings.blinks
                  else [0.0] * n_frames)
        head = head_motion_track(mouth.energy, settings.fps, settings.head_motion,
                                 seed=settings.seed)
        engine.attach_audio(state, wave, SPEECH_SAMPLE_RATE, settings.fps, n_frames)
        height = source.image.shape[0]
        render = getattr(engine, "speak_soon", engine.speak)

        def rendered(indices: range) -> Sequence[object]:
            samples = [
                SpeechSample(
                    mouth=mouth.shape_at(i),
                    blink=float(blinks[i]),
                    head_degrees=(float(head[i, 0]), float(head[i, 1]), float(head[i, 2])),
                    wave_index=i,
                )
                for i in indices
            ]
            return render(state, samples, [control.at(i / float(settings.fps)) for i in indices])

        batches = (range(start, min(start + options.batch_size, n_frames))
                   for start in range(0, n_frames, options.batch_size))
        with encoded.progress("speak", n_frames) as progress, frame_loop_threads():
            for indices, frames in frames_ahead(batches, rendered):
                for frame in frames:
                    if options.compare:
                        frame = side_by_side([source.image, frame], height)
                    encoded.write(frame)
                progress.advance(len(indices))
        stats.frames = encoded.frames_written
        stats.has_audio = encoded.finish()
    return stats
