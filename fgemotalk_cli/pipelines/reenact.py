"""`reenact`: stream the driver, track its face, let the engine render, encode, mux its audio."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING

from fgemotalk_cli.engines.base import DriverSample, ignored_controls
from fgemotalk_cli.engines.loading import load_engine
from fgemotalk_cli.errors import InputError, NoFaceError
from fgemotalk_cli.expression.aus import ExpressionControl
from fgemotalk_cli.faces.detector import VideoFaceTracker, detect_still_faces
from fgemotalk_cli.media.images import downscale_to_max_side
from fgemotalk_cli.media.video import DecodeReport, iter_frames, probe_video, resample_frames
from fgemotalk_cli.options import RunOptions
from fgemotalk_cli.pipelines.background import prefetched
from fgemotalk_cli.pipelines.common import RunStats, load_source_face, side_by_side
from fgemotalk_cli.pipelines.output import EncodedOutput
from fgemotalk_cli.pipelines.threads import (
    batched,
    frame_loop_threads,
    frames_ahead,
    load_readout_aside,
    render_workers,
)

if TYPE_CHECKING:
    from fgemotalk_cli.media.video import VideoInfo

#: Long side the driver is tracked at (landmarks only: more pixels cost time, not accuracy).
DRIVER_SIDE = 1024
#: Driver frames decoded and tracked ahead of the engine, on their own thread.
PREFETCH_FRAMES = 8


def run_reenact(source_path: Path, driver_path: Path, output: Path, control: ExpressionControl,
                options: RunOptions, neutral_frame: int) -> RunStats:
    info = probe_video(driver_path)
    decoding = DecodeReport()
    with EncodedOutput(output, options, info.fps, audio_source=driver_path) as encoded, \
            ExitStack() as job:
        engine = load_engine(options)
        job.enter_context(render_workers(engine))  # before any thread of the job: forked
        load_readout_aside(engine, control.requested_aus)
        stats = RunStats(engine=engine.name, fps=info.fps)
        # The driver is decoded and tracked on a second thread from here on, while the source
        # is found and prepared, the engine renders and the encoder encodes.
        samples = job.enter_context(prefetched(_tracked_driver(driver_path, stats, info,
                                                               decoding), PREFETCH_FRAMES))
        source = load_source_face(source_path, options.face_index, options.max_size)
        stats.warnings.extend(source.size_warnings())
        posed = options.pose != "driver" or options.pose_scale != 1.0
        stats.warnings.extend(ignored_controls(engine, ["pose"] if posed else []))
        gazed = options.gaze != "driver"
        stats.warnings.extend(ignored_controls(engine, ["gaze"] if gazed else []))
        detailed = options.expression_detail
        stats.warnings.extend(ignored_controls(engine, ["expression_detail"] if detailed else []))
        state = engine.prepare(source.image, source.landmarks)
        if neutral_frame == 0:
            # The default reference is the first tracked frame: no second decode.
            first = next(samples, None)
            if first is None:
                raise InputError(f"no frames could be decoded from {driver_path.name}")
            if first.landmarks is None:
                raise _no_reference_face(neutral_frame, driver_path)
            engine.set_reference(state, first)
            stream: Iterator[DriverSample] = chain([first], samples)
        else:
            engine.set_reference(state, _reference_sample(driver_path, neutral_frame))
            stream = samples
        height = source.image.shape[0]
        render = getattr(engine, "reenact_soon", engine.reenact)

        def rendered(batch: list[DriverSample]) -> Sequence[object]:
            aus = [control.at(sample.time_seconds) for sample in batch]
            return render(state, batch, aus, control.au_mode)

        with encoded.progress("reenact", info.frame_count) as progress, \
                frame_loop_threads():
            for batch, frames in frames_ahead(batched(stream, options.batch_size),
                                              rendered):
                for sample, frame in zip(batch, frames):
                    if options.compare:
                        frame = side_by_side([source.image, sample.image, frame], height)
                    encoded.write(frame)
                progress.advance(len(batch))
        # Only the warp engine limits head turns; it says how often it did.
        motion_warnings = getattr(engine, "motion_warnings", None)
        if motion_warnings is not None:
            stats.warnings.extend(motion_warnings(state))
        stats.frames = encoded.frames_written
        stats.has_audio = encoded.finish()
    decoding_warning = decoding.warning(filled_with_last_frame=True)
    if decoding_warning is not None:
        stats.warnings.append(decoding_warning)
    if stats.frames_without_face:
        stats.warnings.append(
            f"{stats.frames_without_face} of {stats.frames} driver frames had no face; "
            "their motion was carried over from the last tracked frame"
        )
    return stats


def _reference_sample(driver_path: Path, neutral_frame: int) -> DriverSample:
    """The driver frame that counts as neutral, with its landmarks (a face is required)."""
    frame = next(islice(iter_frames(driver_path), neutral_frame, None), None)
    if frame is None:
        raise InputError(f"--neutral-frame {neutral_frame} is past the end of {driver_path.name}")
    image = downscale_to_max_side(frame.image, DRIVER_SIDE)
    faces = detect_still_faces(image)
    if not faces:
        raise _no_reference_face(neutral_frame, driver_path)
    return DriverSample(image, faces[0], frame.time_seconds)


def _no_reference_face(neutral_frame: int, driver_path: Path) -> NoFaceError:
    return NoFaceError(f"no face in frame {neutral_frame} of the driving video "
                       f"{driver_path.name}; pick another reference with --neutral-frame")


def _tracked_driver(driver_path: Path, stats: RunStats, info: VideoInfo,
                    decoding: DecodeReport) -> Iterator[DriverSample]:
    """Driver frames with their raw landmarks (None where no face was found, and counted).

    Smoothing and carrying motion over frames without a face belong to the engine's motion
    transfer, which knows what it filters (pose and expression, not raw points).
    """
    with VideoFaceTracker() as detector:
        # Variable frame rate drivers become a constant-rate stream by their timestamps.
        frames = resample_frames(iter_frames(driver_path, report=decoding), info.fps,
                                 info.duration_seconds)
        for frame in frames:
            image = downscale_to_max_side(frame.image, DRIVER_SIDE)
            faces = detector.detect(image)
            if not faces:
                stats.frames_without_face += 1
            yield DriverSample(image, faces[0] if faces else None, frame.time_seconds)
