"""``fgemotalk eval``: measure a generated video, and the AU-response study.

:func:`evaluate_video` streams the generated video (and a reference, when given) frame by frame
and reports the paper's metrics: PSNR, SSIM and LPIPS against the reference, APD/AED
substitutes from the face mesh (see :mod:`fgemotalk_cli.evaluation.metrics`) and AED in AU intensity
units from the blendshape read-out (``aed_au``, per AU in ``aed_au_per_au``: the mean absolute
difference of generated and reference frames' intensities, :mod:`fgemotalk_cli.expression.readout`;
AU 5 and 15 from the mesh, each video against its own first frame with a face as its rest),
ACC_emo with fer's emotion
classifier, plus identity distance to the source portrait and temporal jitter [ours].

:func:`au_response_study` checks that AU sliders do what they say: for each AU and intensity it
edits a set of faces with a caller-supplied function and measures landmark movement in that AU's
region and the emotion classifier's response, as rows that can be written as JSON and a PNG plot.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from itertools import islice, zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from fgemotalk_cli.errors import InputError, NoFaceError
from fgemotalk_cli.evaluation.emotion import EMOTIONS, EmotionClassifier, crop_face
from fgemotalk_cli.evaluation.identity import (
    MAX_SOURCE_DISTANCE,
    DlibFaceDetector,
    IdentityEmbedder,
    identity_distance,
)
from fgemotalk_cli.evaluation.metrics import (
    LPIPS_WEIGHTS_HELP,
    Lpips,
    expression_distance,
    expression_shape,
    landmark_jitter,
    pose_distance_degrees,
    psnr,
    ssim,
)
from fgemotalk_cli.expression.blendshapes import BlendshapeFace, BlendshapeReader
from fgemotalk_cli.expression.landmark_readout import LANDMARK_RULES
from fgemotalk_cli.expression.readout import READOUT_AUS, au_intensities
from fgemotalk_cli.faces.detector import VideoFaceTracker
from fgemotalk_cli.faces.landmarks import estimate_head_pose
from fgemotalk_cli.media.images import load_image
from fgemotalk_cli.media.video import iter_frames

#: Identity and emotion need dlib detection (~0.1 s a frame), so they run on every Nth frame.
DEFAULT_SAMPLE_EVERY = 5


@dataclass(frozen=True)
class EvalReport:
    """Metrics of one generated video. None means not measured; ``notes`` says why."""

    generated: Path
    reference: Path | None
    source_image: Path | None
    frames: int
    frames_compared: int
    frames_with_face: int
    psnr_db: float | None
    ssim: float | None
    lpips: float | None
    apd_degrees: float | None
    aed_iod: float | None
    aed_au: float | None  # mean |AU intensity difference| (0..5 units) from the read-out
    aed_au_per_au: dict[str, float] | None
    jitter_iod: float | None
    reference_jitter_iod: float | None
    identity_distance: float | None
    identity_distance_max: float | None
    identity_preserved: bool | None
    target_emotion: str | None
    emotion_accuracy: float | None
    emotion_probabilities: dict[str, float] | None
    frames_sampled: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: paths as strings, infinities (identical frames) as None with a note."""
        summary = asdict(self)
        notes = list(self.notes)
        for key, value in summary.items():
            if isinstance(value, Path):
                summary[key] = str(value)
            elif isinstance(value, float) and not math.isfinite(value):
                summary[key] = None
                notes.append(f"{key} is infinite (frames identical to the reference)")
        # "warnings", like every other command's JSON summary (the README's --json contract).
        del summary["notes"]
        summary["warnings"] = notes
        return summary


@dataclass
class _Tally:
    """Per-frame values collected while the video streams (mutable on purpose, private)."""

    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    lpips: list[float] = field(default_factory=list)
    pose: list[float] = field(default_factory=list)
    expression: list[float] = field(default_factory=list)
    au_errors: list[np.ndarray] = field(default_factory=list)  # per frame, READOUT_AUS order
    #: The mesh measures (AU 5, 15) of each video's first frame with a face: generated, reference
    mesh_rest: list[dict[int, float] | None] = field(default_factory=lambda: [None, None])
    generated_tracks: list[np.ndarray | None] = field(default_factory=list)
    reference_tracks: list[np.ndarray | None] = field(default_factory=list)
    identity: list[float] = field(default_factory=list)
    emotions: list[np.ndarray] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    frames: int = 0
    compared: int = 0
    sampled: int = 0


@dataclass(frozen=True)
class _Scorers:
    """The models one evaluation needs; None where the caller did not ask for that metric."""

    lpips: Any = None
    embedder: Any = None
    source_descriptor: np.ndarray | None = None
    classifier: Any = None
    detector: Any = None  # dlib, shared by identity and emotion
    au_readers: tuple[Any, Any] | None = None  # blendshape read-out: generated, reference


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _existing(path: str | Path, what: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise InputError(f"{what} not found: {resolved}")
    return resolved


def _frames(path: Path | None, max_frames: int | None) -> Iterator[np.ndarray]:
    if path is None:
        return iter(())

    return islice((frame.image for frame in iter_frames(path)), max_frames)


def _largest_face(detector, image: np.ndarray):
    faces = detector.detect(image)
    return faces[0] if faces else None


def _load_scorers(source: Path | None, target_emotion: str | None, compare: bool,
                  lpips_weights: str | Path | None, device: str, notes: list[str]) -> _Scorers:
    lpips = Lpips.load(Path(lpips_weights), device) if compare and lpips_weights else None
    if compare and lpips is None:
        notes.append(f"lpips not measured: {LPIPS_WEIGHTS_HELP}")
    embedder = descriptor = None
    if source is not None:
        embedder = IdentityEmbedder()
        descriptor = embedder.embed(load_image(source))
        if descriptor is None:
            raise NoFaceError(f"no face found in the source image {source}")
    classifier = EmotionClassifier.load(device=device) if target_emotion else None
    detector = DlibFaceDetector() if embedder or classifier else None
    return _Scorers(lpips, embedder, descriptor, classifier, detector)


def _compare_frames(tally: _Tally, scorers: _Scorers, image: np.ndarray, face,
                    reference_image: np.ndarray, reference_mesh) -> None:
    """Reference-based metrics of one frame pair: PSNR, SSIM, LPIPS, APD, AED."""
    import cv2


    if reference_image.shape != image.shape:
        if tally.compared == 0:
            tally.notes.append(f"reference frames resized from {reference_image.shape[1]}x"
                               f"{reference_image.shape[0]} to {image.shape[1]}x{image.shape[0]}")
        reference_image = cv2.resize(reference_image, image.shape[1::-1],
                                     interpolation=cv2.INTER_AREA)
    tally.compared += 1
    tally.psnr.append(psnr(image, reference_image))
    tally.ssim.append(ssim(image, reference_image))
    if scorers.lpips is not None:
        tally.lpips.append(scorers.lpips.distance(image, reference_image))
    if scorers.au_readers is not None:
        tally.au_errors.append(_au_error(scorers.au_readers, image, reference_image,
                                         tally.compared, tally.mesh_rest))
    reference_face = _largest_face(reference_mesh, reference_image)
    tally.reference_tracks.append(None if reference_face is None else reference_face.points)
    if face is not None and reference_face is not None:
        pose, reference_pose = estimate_head_pose(face), estimate_head_pose(reference_face)
        tally.pose.append(pose_distance_degrees(pose, reference_pose))
        tally.expression.append(expression_distance(
            expression_shape(face, pose), expression_shape(reference_face, reference_pose)))


def _au_error(readers: tuple[Any, Any], image: np.ndarray, reference_image: np.ndarray,
              index: int, mesh_rest: list[dict[int, float] | None]) -> np.ndarray:
    """|generated - reference| AU intensities of one frame pair (NaN where not measured);
    ``mesh_rest`` holds each video's rest for the mesh AUs, set at its first face."""
    # Timestamps only need to grow for the video-mode trackers: the frame index will do.
    generated, reference = (reader.read(frame, index / 25.0)
                            for reader, frame in zip(readers, (image, reference_image)))
    for side, face in enumerate((generated, reference)):
        if face is not None and mesh_rest[side] is None:
            mesh_rest[side] = _mesh_signals(face)
    if generated is None or reference is None:
        return np.full(len(READOUT_AUS), np.nan)
    first, second = (_frame_aus(face, rest) for face, rest in zip((generated, reference),
                                                                   mesh_rest))
    return np.array([abs(first[au] - second[au]) for au in READOUT_AUS])


def _mesh_signals(face: BlendshapeFace) -> dict[int, float]:
    return {au: rule.signal(face) for au, rule in LANDMARK_RULES.items()}


def _frame_aus(face: BlendshapeFace, rest: dict[int, float] | None) -> dict[int, float]:
    """One frame's intensities: the blendshape read-out, AU 5 and 15 from the mesh against
    the video's rest."""
    aus = au_intensities(face.scores)
    if rest is not None:
        signals = _mesh_signals(face)
        aus.update({au: rule.change_intensity(signals[au] - rest[au])
                    for au, rule in LANDMARK_RULES.items()})
    return aus


def _sample_face(tally: _Tally, scorers: _Scorers, image: np.ndarray) -> None:
    """Identity distance and emotion probabilities of one sampled frame."""
    box = scorers.detector.largest(image)
    if box is None:
        return
    tally.sampled += 1
    if scorers.embedder is not None and scorers.source_descriptor is not None:
        descriptor = scorers.embedder.embed(image, box)
        tally.identity.append(identity_distance(descriptor, scorers.source_descriptor))
    if scorers.classifier is not None:
        tally.emotions.append(scorers.classifier.probabilities([crop_face(image, box)])[0])


def evaluate_video(
    generated: str | Path,
    reference: str | Path | None = None,
    source_image: str | Path | None = None,
    target_emotion: str | None = None,
    lpips_weights: str | Path | None = None,
    sample_every: int = DEFAULT_SAMPLE_EVERY,
    max_frames: int | None = None,
    device: str = "cpu",
) -> EvalReport:
    """Measure ``generated``; reference-based metrics need ``reference`` (same frame rate).

    The reference is resized to the generated frame size when they differ, and the shorter of
    the two videos bounds the comparison. Identity needs ``source_image``; ACC_emo needs
    ``target_emotion`` (one of :data:`fgemotalk_cli.evaluation.emotion.EMOTIONS`): the share of
    sampled frames whose most probable class is the target. Only two frames are in memory at a
    time.
    """
    generated_path = _existing(generated, "generated video")
    reference_path = _existing(reference, "reference video") if reference is not None else None
    source_path = _existing(source_image, "source image") if source_image is not None else None
    if target_emotion is not None and target_emotion not in EMOTIONS:
        raise InputError(f"unknown emotion '{target_emotion}'; choose one of {', '.join(EMOTIONS)}")
    if sample_every < 1:
        raise InputError("sample_every must be at least 1")
    tally = _Tally()
    scorers = _load_scorers(source_path, target_emotion, reference_path is not None,
                            lpips_weights, device, tally.notes)
    with ExitStack() as stack:
        # Separate trackers: video mode carries state from one frame to the next.
        generated_mesh = stack.enter_context(VideoFaceTracker())
        reference_mesh = (stack.enter_context(VideoFaceTracker())
                          if reference_path is not None else None)
        if reference_path is not None:
            scorers = replace(scorers, au_readers=(
                stack.enter_context(BlendshapeReader(video_mode=True)),
                stack.enter_context(BlendshapeReader(video_mode=True))))
        pairs = zip_longest(_frames(generated_path, max_frames),
                            _frames(reference_path, max_frames))
        for index, (image, reference_image) in enumerate(pairs):
            if image is None:
                tally.notes.append("the reference is longer; its extra frames were ignored")
                break
            tally.frames += 1
            face = _largest_face(generated_mesh, image)
            tally.generated_tracks.append(None if face is None else face.points)
            if reference_image is not None:
                _compare_frames(tally, scorers, image, face, reference_image, reference_mesh)
            elif reference_path is not None and tally.compared == index:  # first frame past it
                tally.notes.append(f"the reference has only {index} frames; the rest of the "
                                   "generated video was not compared")
            if scorers.detector is not None and index % sample_every == 0:
                _sample_face(tally, scorers, image)
    if tally.frames == 0:
        raise InputError(f"no frames could be read from {generated_path}")
    return _report(tally, generated_path, reference_path, source_path, target_emotion)


def _au_error_summary(errors: list[np.ndarray]) -> dict[str, Any]:
    """AED from the read-out: mean over frames per AU, and over AUs (estimated ones only)."""
    table = np.array(errors, dtype=float).reshape(-1, len(READOUT_AUS))
    with np.errstate(invalid="ignore"):
        per_au = {str(au): float(np.nanmean(table[:, i])) for i, au in enumerate(READOUT_AUS)
                  if np.isfinite(table[:, i]).any()}
    return {"aed_au": float(np.mean(list(per_au.values()))) if per_au else None,
            "aed_au_per_au": per_au or None}


def _report(tally: _Tally, generated: Path, reference: Path | None, source: Path | None,
            target_emotion: str | None) -> EvalReport:
    frames_with_face = sum(track is not None for track in tally.generated_tracks)
    if frames_with_face < tally.frames:
        tally.notes.append(f"{tally.frames - frames_with_face} of {tally.frames} generated "
                           "frames had no face mesh")
    if reference is not None and not tally.pose:
        tally.notes.append("apd/aed not measured: no frame had a face in both videos")
    if (source or target_emotion) and tally.sampled == 0:
        tally.notes.append("identity/emotion not measured: dlib found no face in sampled frames")
    identity = _mean(tally.identity)
    emotions = np.asarray(tally.emotions)
    return EvalReport(
        generated=generated, reference=reference, source_image=source,
        frames=tally.frames, frames_compared=tally.compared, frames_with_face=frames_with_face,
        psnr_db=_mean(tally.psnr), ssim=_mean(tally.ssim), lpips=_mean(tally.lpips),
        apd_degrees=_mean(tally.pose), aed_iod=_mean(tally.expression),
        **_au_error_summary(tally.au_errors),
        jitter_iod=landmark_jitter(tally.generated_tracks),
        reference_jitter_iod=landmark_jitter(tally.reference_tracks) if reference else None,
        identity_distance=identity,
        identity_distance_max=max(tally.identity) if tally.identity else None,
        identity_preserved=None if identity is None else identity < MAX_SOURCE_DISTANCE,
        target_emotion=target_emotion,
        emotion_accuracy=float(np.mean([EMOTIONS[i] == target_emotion
                                        for i in emotions.argmax(axis=1)]))
        if len(emotions) else None,
        emotion_probabilities=dict(zip(EMOTIONS, map(float, emotions.mean(axis=0)), strict=True))
        if len(emotions) else None,
        frames_sampled=tally.sampled,
        notes=tuple(tally.notes),
    )
