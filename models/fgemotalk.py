"""FGEmoTalk: the whole network, in the order of the paper's figure.

    x_S = E(S), x_D = E(D)                                        [paper eq. 1]
    x_S^app = E_app(x_S), x_D^pose = E_pose(x_D), x_D^exp = E_exp(x_D)   [paper eq. 2]
    y = x_S^app + Dic(x_D^exp, x_D^pose)                          [paper eq. 3]
    S' = G(x_S_facial, y)                                         [paper eq. 4]

plus the five training images of eq. 5, the AU encoder and the audio encoder.
The source is encoded once (``encode_source``) and reused for every frame [ours].
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import torch
from torch import nn

from models.au_encoder import AUEncoder
from models.audio_encoder import AudioEncoder
from models.config import AudioConfig, ModelConfig
from models.dictionary import MotionDictionary
from models.encoder import Encoder, EncoderOutput
from models.errors import CheckpointError
from models.extractors import AppearanceExtractor, ExpressionExtractor, PoseExtractor
from models.generator import Generator

AUMode = Literal["add", "replace"]


@dataclass(frozen=True)
class SourceState:
    """Everything the generator needs from the source image, computed once [ours].

    appearance: x_S^app (B, latent_dim); features: E(S)'s maps 8 .. size (x_S_facial);
    pose, expression: the source's own codes E_pose(x_S), E_exp(x_S) (relative motion, S_rec).
    """

    appearance: torch.Tensor
    features: tuple[torch.Tensor, ...]
    pose: torch.Tensor
    expression: torch.Tensor

    @property
    def batch(self) -> int:
        return self.appearance.shape[0]


@dataclass(frozen=True)
class Motion:
    """Pose (B, k_pose) and expression (B, k_exp) magnitudes of a batch of frames."""

    pose: torch.Tensor
    expression: torch.Tensor


@dataclass(frozen=True)
class TrainingImages:
    """The five generated images of paper eq. 5, each (B, 3, size, size)."""

    driven: torch.Tensor  # S': app(S) + Dic(exp(D), pose(D)), target D
    appearance_only: torch.Tensor  # S_app: app(S), target S (appearance loss)
    expression_only: torch.Tensor  # S_exp: app(S) + Dic(exp(D)), target D (expression loss)
    pose_only: torch.Tensor  # S_pose: app(S) + Dic(pose(D))
    reconstruction: torch.Tensor  # S_rec: app(S) + Dic(exp(S), pose(S)), target S

    def all(self) -> tuple[torch.Tensor, ...]:
        """(S', S_app, S_exp, S_pose, S_rec), the paper's order."""
        return (self.driven, self.appearance_only, self.expression_only, self.pose_only,
                self.reconstruction)


class FGEmoTalk(nn.Module):
    """The FG-EmoTalk network [paper]: E, E_app, E_pose, E_exp, Dic, G, AU and audio encoders.

    The discriminator is a training-only part (``models.discriminator``). ``audio_encoder``
    exists only when ``config.audio`` is set (stage 3); ``enable_audio`` adds it later.
    ``training_stages`` records which stages the weights have been trained through; the
    checkpoint module reads and writes it.
    """

    def __init__(self, config: ModelConfig, load_pretrained_audio: bool = True) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.appearance_extractor = AppearanceExtractor(config)
        self.pose_extractor = PoseExtractor(config)
        self.expression_extractor = ExpressionExtractor(config)
        self.dictionary = MotionDictionary(config)
        self.generator = Generator(config)
        self.au_encoder = AUEncoder(config)
        self.audio_encoder = (
            AudioEncoder(config.audio, config.k_exp, load_pretrained_audio)
            if config.audio is not None else None
        )
        self.training_stages: tuple[str, ...] = ()

    # -- parts ------------------------------------------------------------------------------
    def part_names(self) -> list[str]:
        """Names of the sub-networks saved in a checkpoint, in data-flow order."""
        return [name for name, _ in self.named_children()]

    def video_parameters(self) -> list[nn.Parameter]:
        """Parameters trained in stage 1: E, E_app, E_pose, E_exp, Dic, G [paper]."""
        parts = (self.encoder, self.appearance_extractor, self.pose_extractor,
                 self.expression_extractor, self.dictionary, self.generator)
        return [p for part in parts for p in part.parameters()]

    def set_trainable(self, stage: Literal["stage1", "stage2", "stage3"]) -> list[nn.Parameter]:
        """Freeze everything but what ``stage`` trains and return those parameters [paper].

        stage1: E, E_app, E_pose, E_exp, Dic, G; stage2: the AU encoder; stage3: the audio
        encoder (its Wav2Vec2 backbone only if ``audio.freeze_backbone`` is False). Frozen
        parts get ``requires_grad=False``, which DDP needs (unused trainable parameters fail).
        """
        self.requires_grad_(False)
        if stage == "stage1":
            for parameter in self.video_parameters():
                parameter.requires_grad_(True)
        elif stage == "stage2":
            self.au_encoder.requires_grad_(True)
        elif stage == "stage3":
            if self.audio_encoder is None:
                raise CheckpointError("stage 3 needs an audio encoder: call enable_audio first")
            self.audio_encoder.requires_grad_(True)
            if self.audio_encoder.audio.freeze_backbone:
                self.audio_encoder.backbone.requires_grad_(False)
        else:
            raise ValueError(f"stage must be 'stage1', 'stage2' or 'stage3', got {stage!r}")
        return [parameter for parameter in self.parameters() if parameter.requires_grad]

    def enable_audio(self, audio: AudioConfig, load_pretrained: bool = True) -> None:
        """Add (or replace) the audio encoder before stage 3 training."""
        self.config = self.config.with_audio(audio)
        device = next(self.parameters()).device
        self.audio_encoder = AudioEncoder(audio, self.config.k_exp, load_pretrained).to(device)

    @property
    def au_list(self) -> tuple[int, ...]:
        return self.config.au_list

    # -- encoding ---------------------------------------------------------------------------
    def encode_source(self, image: torch.Tensor) -> SourceState:
        """S (B, 3, size, size) in [-1, 1] -> SourceState [paper eq. 1-2; cached, ours]."""
        encoded = self.encoder(image)
        return SourceState(
            appearance=self.appearance_extractor(encoded),
            features=encoded.features,
            pose=self.pose_extractor(encoded.latent),
            expression=self.expression_extractor(encoded.latent),
        )

    def motion(self, driving: torch.Tensor) -> Motion:
        """D (B, 3, size, size) -> Motion(E_pose(x_D), E_exp(x_D)) [paper eq. 1-2]."""
        latent = self.encoder(driving).latent
        return Motion(
            pose=self.pose_extractor(latent), expression=self.expression_extractor(latent)
        )

    @staticmethod
    def relative_motion(driving: Motion, reference: Motion, source: SourceState) -> Motion:
        """m_D(t) - m_D(ref) + m_S per part, for driving by video [LIA demo].

        ``reference`` is the motion of the chosen reference frame (batch 1 or B); the source's
        own codes replace it, so a driver frame that looks like the reference reproduces S.
        """
        return Motion(
            pose=driving.pose - reference.pose + source.pose,
            expression=driving.expression - reference.expression + source.expression,
        )

    def au_code(self, intensities: torch.Tensor) -> torch.Tensor:
        """AU(a): intensities (B, n_aus) in [0, 5], checkpoint AU order -> offset (B, k_exp).

        [paper] the AU encoder's code; [ours] an offset from the neutral code, 0 at a = 0.
        """
        return self.au_encoder(intensities)

    def apply_au(
        self, expression: torch.Tensor, intensities: torch.Tensor, mode: AUMode = "add",
    ) -> torch.Tensor:
        """Edit an expression code with an AU vector [paper: add, replace; ours: offsets].

        add: E_exp(x_D) + AU(a), AU(a) being an offset from the neutral code, so an all-zero
        vector returns ``expression`` itself (bit for bit) [paper, ours: offset];
        replace: the absolute code neutral_code + AU(a) [paper, ours: neutral_code].
        ``intensities`` (B or 1, n_aus).
        """
        if mode == "replace":
            return self.au_encoder.absolute(intensities).expand_as(expression)
        if mode == "add":
            if not bool((intensities != 0).any()):
                return expression
            return expression + self.au_code(intensities)
        raise ValueError(f"AU mode must be 'add' or 'replace', got {mode!r}")

    def audio_codes(self, wave: torch.Tensor, fps: float | Fraction, n_frames: int) -> torch.Tensor:
        """16 kHz mono wave (samples,) -> expression codes (n_frames, k_exp) at ``fps`` [paper]."""
        if self.audio_encoder is None:
            raise CheckpointError(
                "this model has no audio encoder: train stage 3 (audio) to drive it by speech"
            )
        return self.audio_encoder(wave, fps, n_frames)

    # -- synthesis --------------------------------------------------------------------------
    def latent(
        self, source: SourceState, pose: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """y = x_S^app + Dic(expression, pose); a part left as None contributes nothing."""
        appearance = source.appearance
        if pose is None and expression is None:
            return appearance
        displacement = self.dictionary(expression, pose).to(appearance.dtype)
        if appearance.shape[0] != displacement.shape[0]:
            appearance = appearance.expand(displacement.shape[0], -1)
        return appearance + displacement

    def render(
        self, source: SourceState, pose: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """G(x_S_facial, y) -> images (B, 3, size, size) [paper eq. 4].

        Pose-only or expression-only rendering leaves the other code as None (eq. 5); to keep
        the source's own expression while following a driver's pose, pass
        ``expression=source.expression``. A source of batch 1 is broadcast over the codes.
        """
        return self.generator(source.features, self.latent(source, pose, expression))

    def generate_training_images(
        self, source: torch.Tensor, driving: torch.Tensor,
    ) -> TrainingImages:
        """S, D (two frames of one clip, (B, 3, size, size)) -> the five images of eq. 5.

        E runs once on S and D together and G once on all five latents (batch 5B).
        """
        batch = source.shape[0]
        encoded = self.encoder(torch.cat((source, driving)))
        source_encoded = EncoderOutput(
            latent=encoded.latent[:batch],
            features=tuple(level[:batch] for level in encoded.features),
            map_4x4=encoded.map_4x4[:batch],
        )
        appearance = self.appearance_extractor(source_encoded)
        pose_source, pose_driving = self.pose_extractor(encoded.latent).split(batch)
        expression_source, expression_driving = self.expression_extractor(
            encoded.latent).split(batch)

        no_pose, no_expression = torch.zeros_like(pose_driving), torch.zeros_like(
            expression_driving)
        # Order: S', S_app, S_exp, S_pose, S_rec.
        expressions = torch.cat((expression_driving, no_expression, expression_driving,
                                 no_expression, expression_source))
        poses = torch.cat((pose_driving, no_pose, no_pose, pose_driving, pose_source))
        latents = appearance.repeat(5, 1) + self.dictionary(expressions, poses)
        repeated_features = [level.repeat(5, 1, 1, 1) for level in source_encoded.features]
        images = self.generator(repeated_features, latents).split(batch)
        return TrainingImages(*images)

    def forward(self, source: torch.Tensor, driving: torch.Tensor) -> TrainingImages:
        """Stage-1 training pass (what DDP wraps): ``generate_training_images``.

        Call ``set_trainable("stage1")`` first so the unused AU / audio encoders are frozen.
        """
        return self.generate_training_images(source, driving)
