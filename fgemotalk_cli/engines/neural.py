"""The `neural` engine: the FG-EmoTalk network (models/) behind the engine interface.

Frames are cropped square around the face at the model's size, run through the network in
batches under ``torch.inference_mode`` (autocast on CUDA), and pasted back into the full frame
with a feathered edge. The source is encoded once per job; only E(D) runs per driver frame.
Driver crops use one fixed box, taken from the reference frame, so head motion inside the box
reaches the pose code (the paper trains with free motion in a fixed box).

``speak`` [ours; the paper drives only the expression by audio]: the same blinks and head
motion the warp engine's speak gets (``SpeechSample.blink`` and ``head_degrees``, so
``--head-motion`` and ``--still`` act alike on both engines) reach the network as code
offsets measured once per job on the source itself: the warp engine renders the source
turned +-5 degrees about each axis and with closed eyes (AU45), the network encodes those
renders, and the code differences per degree (pose) and per full blink (expression) are
added to the source's pose and the audio's expression codes frame by frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fgemotalk_cli.choices import AUMode
from fgemotalk_cli.engines.base import Control, DriverSample, SpeechSample
from fgemotalk_cli.engines.warp.engine import BLINK_AU, edit_source
from fgemotalk_cli.engines.warp.render import prepare_source
from fgemotalk_cli.errors import CheckpointError, NoFaceError
from fgemotalk_cli.faces.crop import FaceCrop, crop_face, paste_back
from fgemotalk_cli.faces.landmarks import FaceLandmarks
from fgemotalk_cli.options import RunOptions, select_device

# models/ imports torch (the optional [neural] extra), so it is imported inside the methods that
# need it: the warp engine must run where torch is not installed.
if TYPE_CHECKING:
    import torch

#: Crop scale around the landmarks' box: the face plus hair and chin, as in talking-head data.
CROP_SCALE = 1.8
#: Head turn of the pose probes, degrees each way (speak's head motion stays within +-6).
PROBE_DEGREES = 5.0


@dataclass(frozen=True)
class SpeechMotionCodes:
    """How speak's procedural motion moves this source's codes [ours].

    pose_per_degree: (3, k_pose), the change of E_pose per degree of yaw, pitch and roll;
    blink: (1, k_exp), the change of E_exp from open to fully closed eyes.
    """

    pose_per_degree: torch.Tensor
    blink: torch.Tensor


@dataclass
class NeuralState:
    """Per-job cache: the source frame, its crop, E(S) and, later, reference and audio codes."""

    frame: np.ndarray
    crop: FaceCrop
    source: Any  # models.fgemotalk.SourceState
    landmarks: FaceLandmarks | None = None
    speech_motion: SpeechMotionCodes | None = None
    reference_crop: FaceCrop | None = None
    reference_motion: Any = None  # models.fgemotalk.Motion
    audio_codes: torch.Tensor | None = None


class NeuralEngine:
    name = "neural"
    # Speech drives the mouth through the audio encoder, so transcript and language are unused.
    controls: frozenset[Control] = frozenset({"edit_au_mode"})

    def __init__(self, model: Any, device: str, paste_back: bool = True) -> None:
        self.model = model
        self.device = device
        self.paste_back = paste_back
        self.size = model.config.size
        self.supported_aus: tuple[int, ...] = tuple(model.au_list)
        self.source_encodings = 0  # how many times E(S) ran (once per job, by design)
        #: Frames per network call. A GPU wants the whole batch; on a CPU one frame at a time
        #: is faster (bench/neural.py: batch 8 costs ~1.4x per frame of batch 1 in the
        #: generator and ~1.6x in the motion encoder on two cores, the activations no longer
        #: fitting the caches), so a CPU batch only groups decoding and encoding.
        self.frames_per_call: int | None = None if device.startswith("cuda") else 1

    @classmethod
    def from_checkpoint(cls, path: Path | None, options: RunOptions) -> NeuralEngine:
        from models.checkpoint import load_checkpoint

        if path is None or not Path(path).is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        device = select_device(options.device)
        model, _ = load_checkpoint(path, device=device)
        return cls(model, device, paste_back=options.paste_back)

    # -- tensors <-> images --------------------------------------------------------------
    def _batch(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        import torch

        array = np.stack(crops).astype(np.float32) / 127.5 - 1.0
        return torch.from_numpy(array).permute(0, 3, 1, 2).to(self.device)

    @staticmethod
    def _images(batch: torch.Tensor) -> list[np.ndarray]:
        array = ((batch.float().clamp(-1, 1) + 1) * 127.5).round().byte()
        return list(array.permute(0, 2, 3, 1).cpu().numpy())

    def _intensities(self, aus: Sequence[Mapping[int, float]]) -> torch.Tensor:
        import torch

        from models.checkpoint import check_aus

        for vector in aus:
            check_aus(vector.keys(), self.supported_aus)
        rows = [[float(vector.get(au, 0.0)) for au in self.supported_aus] for vector in aus]
        return torch.tensor(rows, dtype=torch.float32, device=self.device)

    def _run(self, function: Any, *args: Any) -> Any:
        """Inference mode always; autocast (bf16 where supported, else fp16) on CUDA."""
        import torch

        with torch.inference_mode():
            if self.device.startswith("cuda"):
                dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
                with torch.autocast("cuda", dtype=dtype):
                    return function(*args)
            return function(*args)

    def _run_in_chunks(self, step: Any, count: int) -> torch.Tensor:
        """``step(part)`` for consecutive slices of ``count`` frames (all at once on a GPU),
        concatenated in order."""
        import torch

        chunk = self.frames_per_call or count
        return torch.cat([self._run(step, slice(start, min(start + chunk, count)))
                          for start in range(0, count, chunk)])

    def _finish(self, state: NeuralState, rendered: torch.Tensor) -> list[np.ndarray]:
        crops = self._images(rendered)
        if not self.paste_back:
            return crops
        return [paste_back(state.frame, state.crop, crop) for crop in crops]

    # -- the engine interface --------------------------------------------------------------
    def prepare(self, source_rgb: np.ndarray, landmarks: FaceLandmarks) -> NeuralState:
        crop = crop_face(source_rgb, landmarks, size=self.size, scale=CROP_SCALE)
        source = self._run(self.model.encode_source, self._batch([crop.image]))
        self.source_encodings += 1
        return NeuralState(frame=source_rgb, crop=crop, source=source, landmarks=landmarks)

    def set_reference(self, state: NeuralState, reference: DriverSample) -> None:
        if reference.landmarks is None:
            raise NoFaceError("the neural engine's reference driver frame shows no face")
        state.reference_crop = crop_face(reference.image, reference.landmarks, size=self.size,
                                         scale=CROP_SCALE)
        state.reference_motion = self._run(self.model.motion,
                                           self._batch([state.reference_crop.image]))

    def reenact(self, state: NeuralState, samples: list[DriverSample],
                aus: list[dict[int, float]], au_mode: AUMode) -> list[np.ndarray]:
        import cv2

        if state.reference_crop is None:
            raise RuntimeError("set_reference must be called before reenact")
        matrix, size = state.reference_crop.matrix, self.size
        crops = [cv2.warpAffine(s.image, matrix, (size, size), flags=cv2.INTER_AREA,
                                borderMode=cv2.BORDER_REPLICATE) for s in samples]
        intensities = self._intensities(aus)

        driving = self._batch(crops)

        def step(part: slice) -> torch.Tensor:
            motion = self.model.relative_motion(self.model.motion(driving[part]),
                                                state.reference_motion, state.source)
            # add: an all-zero AU vector leaves the driver's expression as it is [ours].
            expression = self.model.apply_au(motion.expression, intensities[part], au_mode)
            return self.model.render(state.source, motion.pose, expression)

        return self._finish(state, self._run_in_chunks(step, len(crops)))

    def attach_audio(self, state: NeuralState, wave: np.ndarray, sample_rate: int, fps: Fraction,
                     n_frames: int) -> None:
        import torch

        samples = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).to(self.device)
        state.audio_codes = self._run(self.model.audio_codes, samples, fps, n_frames)

    def speech_motion(self, state: NeuralState) -> SpeechMotionCodes:
        """Measure (once per job) the code offsets of head turns and blinks [ours]."""
        import cv2

        if state.speech_motion is not None:
            return state.speech_motion
        if state.landmarks is None:
            raise RuntimeError("speak's head motion and blinks need the source's landmarks")
        source = prepare_source(state.frame, state.landmarks)
        turns = []
        for axis in range(3):
            for sign in (1.0, -1.0):
                degrees = [0.0, 0.0, 0.0]
                degrees[axis] = sign * PROBE_DEGREES
                yaw, pitch, roll = degrees
                turns.append(edit_source(source, {}, head_degrees=(yaw, pitch, roll)))
        probes = [*turns, edit_source(source, {}), edit_source(source, {BLINK_AU: 5.0})]
        size = self.size
        crops = [cv2.warpAffine(probe, state.crop.matrix, (size, size), flags=cv2.INTER_AREA,
                                borderMode=cv2.BORDER_REPLICATE) for probe in probes]
        motion = self._run(self.model.motion, self._batch(crops))
        pose = motion.pose.float()
        state.speech_motion = SpeechMotionCodes(
            pose_per_degree=(pose[0:6:2] - pose[1:6:2]) / (2 * PROBE_DEGREES),
            blink=(motion.expression[7:8] - motion.expression[6:7]).float(),
        )
        return state.speech_motion

    def speak(self, state: NeuralState, samples: list[SpeechSample],
              aus: list[dict[int, float]]) -> list[np.ndarray]:
        """Expression from the audio encoder plus the AU offset; the source's pose plus the
        speech's head motion, and its blinks (both as measured code offsets) [paper; ours]."""
        import torch

        audio_codes = state.audio_codes
        if audio_codes is None:
            raise RuntimeError("attach_audio must be called before speak")
        indices = torch.tensor([s.wave_index for s in samples], device=self.device)
        intensities = self._intensities(aus)
        head = torch.tensor([s.head_degrees for s in samples], dtype=torch.float32,
                            device=self.device)
        blinks = torch.tensor([[s.blink] for s in samples], dtype=torch.float32,
                              device=self.device)
        # A still head with open eyes renders the source's pose exactly (--still).
        moving = bool(head.abs().sum() > 0 or blinks.abs().sum() > 0)
        offsets = self.speech_motion(state) if moving else None

        def step(part: slice) -> torch.Tensor:
            expression = audio_codes[indices[part]]
            pose = state.source.pose.expand(expression.shape[0], -1)
            if offsets is not None:
                pose = pose + (head[part] @ offsets.pose_per_degree).to(pose.dtype)
                expression = expression + (blinks[part] * offsets.blink).to(expression.dtype)
            expression = self.model.apply_au(expression, intensities[part], "add")
            return self.model.render(state.source, pose, expression)

        return self._finish(state, self._run_in_chunks(step, len(samples)))

    def edit(self, state: NeuralState, aus: list[dict[int, float]],
             au_mode: AUMode) -> list[np.ndarray]:
        """The source's own pose and expression, with the AU offset added or replacing it.

        add: an all-zero AU vector renders the source's own codes, bit for bit [ours].
        """
        intensities = self._intensities(aus)

        def step(part: slice) -> torch.Tensor:
            rows = intensities[part]
            count = rows.shape[0]
            expression = state.source.expression.expand(count, -1)
            expression = self.model.apply_au(expression, rows, au_mode)
            return self.model.render(state.source, state.source.pose.expand(count, -1),
                                     expression)

        return self._finish(state, self._run_in_chunks(step, intensities.shape[0]))
