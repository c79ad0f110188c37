"""The weight-free ``warp`` engine: a portrait, landmarks and AU geometry in, frames out.

No learned generator weights. Per source, :func:`~.render.prepare_source` precomputes the mesh
and maps (a :class:`~.render.WarpSource`); per video, a :class:`~.motion.MotionTransfer` holds
the driver's reference frame and its own One Euro filters, so raw (unsmoothed) driver
landmarks are what it should be given. The lower-level calls, for scripts and tests:

    source = prepare_source(portrait_rgb, detect_source_face(portrait_rgb))
    smiling = edit_source(source, {12: 4, 6: 2})
    transfer = MotionTransfer(source.geometry, driver_reference_landmarks, au_mode="add")
    target = transfer.target_points(landmarks, t, {12: 4})
    frame = render_warp(source, target, MouthPatch(driver_frame, landmarks.points))

Nothing here touches files or video: the pipelines stream frames through :class:`WarpEngine`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from fgemotalk_cli.choices import AUMode, GazeMode, PoseMode
from fgemotalk_cli.engines.base import Control, DriverSample, SpeechSample
from fgemotalk_cli.engines.warp.au_geometry import SUPPORTED_WARP_AUS
from fgemotalk_cli.engines.warp.calibration import (
    CALIBRATED_AUS,
    CalibrationMode,
    FaceCalibrator,
)
from fgemotalk_cli.engines.warp.driven import DrivenLayers, render_driven
from fgemotalk_cli.engines.warp.iris import IrisLayer
from fgemotalk_cli.engines.warp.layers import SourceLayers
from fgemotalk_cli.engines.warp.motion import (
    MAX_PITCH_DEGREES,
    MAX_YAW_DEGREES,
    DriverMotion,
    MotionTransfer,
    pivot_shift,
    place,
)
from fgemotalk_cli.engines.warp.mouth import DriverTeeth, MouthPatch
from fgemotalk_cli.engines.warp.ratio_images import DriverReference
from fgemotalk_cli.engines.warp.render import WarpSource, prepare_source, render_warp
from fgemotalk_cli.engines.warp.render_workers import RenderWorkers, default_worker_count
from fgemotalk_cli.engines.warp.shots import ShotFrame
from fgemotalk_cli.errors import WeightsError
from fgemotalk_cli.expression.blendshapes import BlendshapeReader
from fgemotalk_cli.expression.readout import au_intensities
from fgemotalk_cli.faces.landmarks import FaceLandmarks, rotation_from_angles
from fgemotalk_cli.futures import on_thread
from fgemotalk_cli.speech.visemes import MouthShape

#: Blink closure 0..1 maps onto AU45 at full intensity.
BLINK_AU = 45

#: The render worker processes of the job running in this context (None: render here).
_active_workers: ContextVar[RenderWorkers | None] = ContextVar("fgemotalk_render_workers",
                                                                default=None)


def render_in_order(render: Callable[..., np.ndarray],
                     jobs: Iterable[tuple[object, ...]]) -> list[np.ndarray]:
    """``render(*job)`` for each job, results in job order: in the job's render worker
    processes when it has them (:meth:`WarpEngine.render_workers`), else here, one by one.

    Each job goes to a worker as soon as ``jobs`` yields it, so a generator that computes the
    jobs (the sequential motion transfer) overlaps with the rendering of the jobs before."""
    return _frames(render_soon(render, jobs))


def render_soon(render: Callable[..., np.ndarray],
                jobs: Iterable[tuple[object, ...]]) -> list[Future[np.ndarray]]:
    """:func:`render_in_order` without waiting for the frames: their futures, in job order
    (already done where the job has no workers: then each renders here, now)."""
    workers = _active_workers.get()
    if workers is None:
        return [_finished(render(*job)) for job in jobs]
    return workers.submit_renders(render, jobs)


def _finished(frame: np.ndarray) -> Future[np.ndarray]:
    future: Future[np.ndarray] = Future()
    future.set_result(frame)
    return future


def _frames(futures: list[Future[np.ndarray]]) -> list[np.ndarray]:
    return [future.result() for future in futures]


def _layers_aside(source: WarpSource) -> Future[SourceLayers] | None:
    """The source's head-motion layers building on a thread, where a job renders in workers
    and they are not built yet (see :func:`_build_layers_here`); else None."""
    if _active_workers.get() is None or "layers" in vars(source):
        return None
    return on_thread(lambda: source.layers, name="fgemotalk-layers")


def _build_layers_here(state: WarpState) -> None:
    """Build the source's head-motion layers (:attr:`WarpSource.layers`, built on the first
    frame that moves the head) in this process before render workers get the source: their
    person segmentation is a MediaPipe model, which cannot run in a forked worker, and this
    way it runs once, not once per worker. Layers building aside are waited for."""
    if _active_workers.get() is None:
        return
    building, state.layers_building = state.layers_building, None
    if building is not None:  # built on the source before calibration: its AU tables differ
        vars(state.source).setdefault("layers", building.result())
    state.source.layers  # noqa: B018  (a cached property: reading it builds it)


def edit_shot_frame(shot: WarpSource, image: np.ndarray | None, points: np.ndarray | None,
                    au_intensities: Mapping[int, float]) -> np.ndarray:
    """A video frame with AU edits, its source built from its shot's where it renders (see
    :class:`~.shots.ShotFrame`: the shot's source is sent to a render worker once)."""
    return edit_source(ShotFrame(shot, image, points).source(), au_intensities)


def target_from_controls(source: WarpSource, au_intensities: Mapping[int, float],
                         mouth: MouthShape | None = None,
                         head_degrees: tuple[float, float, float] = (0.0, 0.0, 0.0),
                         ) -> np.ndarray:
    """(478, 3) target points (x, y, depth) for an AU vector, speech mouth shape and head turn
    (yaw, pitch, roll in degrees, as :func:`fgemotalk_cli.faces.landmarks.rotation_from_angles`)."""
    geometry = source.geometry
    face = geometry.face + geometry.offsets(au_intensities, mouth)
    if not any(head_degrees):
        return geometry.frame.to_image(face)
    turn = rotation_from_angles(*head_degrees)
    # The turn is about the head's own axes, so it reads the same whatever the source pose.
    rotation = geometry.frame.rotation @ turn @ geometry.frame.rotation.T
    still = DriverMotion.still()
    shift = pivot_shift(geometry, rotation)
    return place(geometry, face, DriverMotion(still.expression, rotation, shift, 1.0))


def edit_source(source: WarpSource, au_intensities: Mapping[int, float],
                mouth: MouthShape | None = None,
                head_degrees: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """The source portrait with AU edits (and optionally a mouth shape and head turn)."""
    return render_warp(source, target_from_controls(source, au_intensities, mouth, head_degrees))


@dataclass
class WarpState:
    """One job's state: the prepared source, then the driver's reference and motion transfer."""

    source: WarpSource
    reference: FaceLandmarks | None = None
    transfer: MotionTransfer | None = None
    notes: tuple[str, ...] = ()
    source_aus: dict[int, float] | None = None  # the source's own AU read-out
    layers: DrivenLayers | None = None  # what reenacted frames add to the warp (driven.py)
    detail_reference: DriverReference | None = None  # the driver's neutral frame, for detail
    #: The source's closed-loop AU calibration, solving each AU when first asked for (None:
    #: not started yet, or a state built outside :meth:`WarpEngine.prepare`: general table).
    calibrator: FaceCalibrator | None = None
    calibrate: bool = False  # whether this state calibrates the AUs it is asked for
    layers_building: Future[SourceLayers] | None = None  # see WarpEngine.build_layers_aside
    driver_teeth: DriverTeeth | None = None  # the driver video's teeth decisions


class WarpEngine:
    """The :class:`~fgemotalk_cli.engines.base.Engine` of the warp method. Stateless itself:
    per-source and per-video state live in :class:`WarpState`, so one engine serves any
    number of jobs."""

    name = "warp"
    supported_aus: tuple[int, ...] = SUPPORTED_WARP_AUS
    controls: frozenset[Control] = frozenset({"transcript", "language", "head_motion", "blinks",
                                              "pose", "gaze", "expression_detail"})

    def __init__(self, pose: PoseMode = "driver", pose_scale: float = 1.0,
                 calibrate: CalibrationMode = "auto", gaze: GazeMode = "driver",
                 expression_detail: bool = False) -> None:
        self.pose = pose
        self.gaze = gaze  # reenact: the driver's gaze or the source's (engines/warp/gaze.py)
        #: reenact: the driver's expression detail as ratio images (engines/warp/ratio_images.py)
        self.expression_detail = expression_detail
        self.pose_scale = pose_scale
        #: Closed-loop AU calibration per source (:mod:`.calibration`): ``auto`` solves each
        #: AU a job asks for when it is first asked for, ``full`` every AU at prepare time,
        #: ``off`` keeps the general table.
        self.calibrate = calibrate
        self._reader: BlendshapeReader | None = None
        self._reader_loading: Future[BlendshapeReader] | None = None

    def load_readout_aside(self, aus: Iterable[int]) -> None:
        """Start loading the AU read-out model (about 0.1 s) on a thread of its own when a job
        will calibrate ``aus``: it loads while the job finds and prepares its source. Call it
        after the job's render workers are forked (it is a thread)."""
        if (self.calibrate == "off" or self._reader is not None
                or self._reader_loading is not None or not set(aus) & set(CALIBRATED_AUS)):
            return
        # A missing model is raised where the model is needed (``_readout``).
        self._reader_loading = on_thread(BlendshapeReader, name="fgemotalk-readout")

    def _readout(self) -> BlendshapeReader:
        """The AU read-out model, loaded here unless it is loading (or loaded) already."""
        if self._reader is None:
            loading, self._reader_loading = self._reader_loading, None
            self._reader = (BlendshapeReader(video_mode=False) if loading is None
                            else loading.result())
        return self._reader

    def prepare(self, source_rgb: np.ndarray, landmarks: FaceLandmarks) -> WarpState:
        state = WarpState(source=prepare_source(source_rgb, landmarks),
                          calibrate=self.calibrate != "off")
        if self.calibrate == "full":
            self._calibrate(state, [dict.fromkeys(CALIBRATED_AUS, 0.0)])
        return state

    @contextmanager
    def render_workers(self, count: int | None = None) -> Iterator[None]:
        """Render the frames of the job run inside the block in worker processes
        (:mod:`.render_workers`), one per core by default; with one core, here. Open it before
        the job starts threads of its own: the workers are forked then."""
        count = default_worker_count() if count is None else count
        if count < 2:
            yield
            return
        with RenderWorkers(count, kept_types=(WarpSource, DrivenLayers)) as workers:
            token = _active_workers.set(workers.start())
            try:
                yield
            finally:
                _active_workers.reset(token)

    def run_aside(self, function: Callable[..., object], *arguments: object) -> Future | None:
        """``function(*arguments)`` in one of the job's render workers while the job goes on
        (a module-level function, picklable arguments); None when the job has no workers
        (the caller runs it itself). A worker is its own process: work that holds the GIL
        there (the speech analysis) no longer slows the job's own start."""
        workers = _active_workers.get()
        return None if workers is None else workers.submit(function, *arguments)

    def _calibrate(self, state: WarpState, aus: Sequence[Mapping[int, float]]) -> None:
        """Solve the calibration of the AUs in ``aus`` not solved yet on this state's source
        and let its geometry (and motion transfer) follow the new tables."""
        wanted = {int(au) for vector in aus for au in vector}
        if not state.calibrate or not wanted:
            return
        if state.calibrator is None:
            try:
                reader = self._readout()
            except WeightsError as missing:
                # Without the read-out model the general table still holds for faces in general.
                state.calibrate = False
                state.notes += (f"AU calibration skipped: {missing}",)
                return
            state.calibrator = FaceCalibrator(state.source, reader)
            if state.source_aus is None:
                state.source_aus = state.calibrator.source_aus
        tables = state.calibrator.solve(wanted)
        state.notes = tuple(dict.fromkeys((*state.notes, *state.calibrator.notes)))
        headroom = state.calibrator.headroom
        if not tables and headroom == state.source.geometry.headroom:
            return
        geometry = state.source.geometry.with_response(tables).with_headroom(headroom)
        state.source = replace(state.source, geometry=geometry)
        if state.transfer is not None:
            state.transfer.geometry = geometry

    def build_layers_aside(self, state: WarpState) -> None:
        """Start building the source's head-motion layers (a person segmentation and the
        background plate) on a thread, for a job whose head will move: its start (the AU
        calibration, the speech analysis) goes on meanwhile; the first frames wait for it."""
        if state.layers_building is None:
            state.layers_building = _layers_aside(state.source)

    def calibrate_for(self, state: WarpState, aus: Iterable[int]) -> None:
        """Solve the calibration of ``aus`` on this state's source now rather than on the
        first frame that asks for them (``speak`` does it while its speech is analysed)."""
        self._calibrate(state, [dict.fromkeys(aus, 0.0)])

    def calibrated_shot(self, source: WarpSource, aus: Iterable[int]) -> WarpSource:
        """A video shot's first source with its geometry following its own tables for ``aus``
        (``edit-au`` on a video: solved once per shot; the shot's frames share its geometry,
        :class:`~fgemotalk_cli.engines.warp.shots.ShotSources`)."""
        state = WarpState(source=source, calibrate=self.calibrate != "off")
        self.calibrate_for(state, CALIBRATED_AUS if self.calibrate == "full" else aus)
        return state.source

    def _read_aus(self, image: np.ndarray) -> dict[int, float] | None:
        """The AU read-out of one image (None: no face)."""
        face = self._readout().read(image)
        return None if face is None else au_intensities(face.scores)

    def set_reference(self, state: WarpState, reference: DriverSample) -> None:
        state.reference = reference.landmarks
        state.transfer = None
        state.layers = None
        state.driver_teeth = None
        # The driver's neutral frame is kept only when its expression detail is transferred.
        state.detail_reference = (None if reference.landmarks is None or not self.expression_detail
                                  else DriverReference.from_frame(reference.image,
                                                                  reference.landmarks.points))

    def reenact(self, state: WarpState, samples: list[DriverSample],
                aus: list[dict[int, float]], au_mode: AUMode) -> list[np.ndarray]:
        return _frames(self.reenact_soon(state, samples, aus, au_mode))

    def reenact_soon(self, state: WarpState, samples: list[DriverSample],
                     aus: list[dict[int, float]], au_mode: AUMode) -> list[Future[np.ndarray]]:
        """:meth:`reenact` without waiting for the frames (see :func:`render_soon`)."""
        self.build_layers_aside(state)  # while the AUs asked for calibrate here
        self._calibrate(state, aus)
        if state.transfer is None:
            if state.reference is None:
                raise RuntimeError("set_reference must be called before reenact")
            state.transfer = MotionTransfer(state.source.geometry, state.reference, au_mode,
                                            pose=self.pose, pose_scale=self.pose_scale,
                                            gaze=self.gaze)
        transfer = state.transfer
        if state.layers is None:
            state.layers = DrivenLayers(
                irises=IrisLayer.from_source(state.source) if self.gaze == "driver" else None,
                detail_reference=state.detail_reference if self.expression_detail else None)
        layers = state.layers
        if au_mode == "replace" and state.source_aus is None and any(aus):
            # `replace` removes the source's own AUs too (read once; calibration reads it).
            state.source_aus = self._read_aus(state.source.image) or {}
        transfer.source_aus = {au: v for au, v in (state.source_aus or {}).items()
                               if np.isfinite(v)}

        whole_frame = layers.detail_reference is not None
        if state.driver_teeth is None:
            state.driver_teeth = DriverTeeth()
        driver_teeth = state.driver_teeth

        def jobs() -> Iterator[tuple[WarpSource, np.ndarray, MouthPatch | None, DrivenLayers]]:
            for sample, vector in zip(samples, aus):
                target = transfer.target_points(sample.landmarks, sample.time_seconds, vector)
                # The driver's own mouth interior (teeth, tongue) replaces the synthetic one.
                # Expression detail reads the whole driver frame; the mouth only its own part.
                patch = (None if sample.landmarks is None
                         else MouthPatch(sample.image, sample.landmarks.points) if whole_frame
                         else MouthPatch.around_mouth(sample.image, sample.landmarks.points))
                yield state.source, target, driver_teeth.steadied(patch, target), layers

        _build_layers_here(state)  # the driver moves the head
        # Each frame renders while the next one's target is computed.
        return render_soon(render_driven, jobs())

    def motion_warnings(self, state: WarpState) -> list[str]:
        """What the motion transfer had to change, once per video (for the run's summary)."""
        transfer = state.transfer
        if transfer is None or not transfer.limited_frames:
            return []
        return [f"the head turn was eased in {transfer.limited_frames} frames (the driver "
                f"turned up to {transfer.largest_turn_degrees:.0f} degrees from its reference; "
                f"turns are limited smoothly towards {MAX_YAW_DEGREES:.0f} degrees of yaw and "
                f"{MAX_PITCH_DEGREES:.0f} of pitch, about what one photo holds)"]

    def attach_audio(self, state: WarpState, wave: np.ndarray, sample_rate: int, fps: Fraction,
                     n_frames: int) -> None:
        """Speech reaches the warp engine as mouth controls per frame, not as audio."""

    def speak(self, state: WarpState, samples: list[SpeechSample],
              aus: list[dict[int, float]]) -> list[np.ndarray]:
        return _frames(self.speak_soon(state, samples, aus))

    def speak_soon(self, state: WarpState, samples: list[SpeechSample],
                   aus: list[dict[int, float]]) -> list[Future[np.ndarray]]:
        """:meth:`speak` without waiting for the frames (see :func:`render_soon`)."""
        self._calibrate(state, aus)  # the requested AUs; the blinks below are eye closures
        jobs = []
        for sample, vector in zip(samples, aus):
            vector = dict(vector)
            vector[BLINK_AU] = max(vector.get(BLINK_AU, 0.0), 5.0 * sample.blink)
            jobs.append((state.source, vector, sample.mouth, sample.head_degrees))
        if any(any(sample.head_degrees) for sample in samples):
            _build_layers_here(state)
        return render_soon(edit_source, jobs)

    def edit(self, state: WarpState, aus: list[dict[int, float]],
             au_mode: AUMode) -> list[np.ndarray]:
        """A still photo has no neutral reference, so `add` and `replace` both add the AU
        displacements to the photo's own expression (``edit_au_mode`` is not a control here)."""
        self._calibrate(state, aus)
        return render_in_order(edit_source, [(state.source, vector) for vector in aus])

    def edit_frames(self, frames: Sequence[ShotFrame],
                    aus: Sequence[dict[int, float]]) -> list[np.ndarray]:
        """One edit per video frame (each in its shot, whose AUs were calibrated when it was
        prepared: :meth:`calibrated_shot`), rendered together."""
        return _frames(self.edit_frames_soon(frames, aus))

    def edit_frames_soon(self, frames: Sequence[ShotFrame],
                         aus: Sequence[dict[int, float]]) -> list[Future[np.ndarray]]:
        """:meth:`edit_frames` without waiting for the frames (see :func:`render_soon`)."""
        return render_soon(edit_shot_frame, [(frame.shot_source(), frame.image, frame.points,
                                              vector) for frame, vector in zip(frames, aus)])
