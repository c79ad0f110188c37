"""Stages 2 and 3: an encoder learns the expression code of a frozen video network.

Stage 2 [paper]: the AU encoder maps a labelled frame's AU intensities to a code that is
supervised by E_exp(x_D) of that frame [ours: L1 (or MSE) distance]. [ours] The target is
E_exp(x_D) minus the subject's neutral code (the mean code of its frames with every AU at 0),
so AU(a) is an expression offset and "add" does not add the neutral face twice; the mean of
the subjects' neutral codes becomes the AU encoder's ``neutral_code`` (for "replace").
Frames are filtered by label consistency and drawn per-AU balanced (``au_sampling``).
Stage 3 [paper]: the audio encoder maps the speech around a frame to a code aligned with
E_exp(x_D) of that frame by InfoNCE [ours: symmetric, temperature 0.07]. [ours] Codes are
gathered over ranks, so the negatives are the whole global batch, which holds several frames
of each clip (the same speaker at other times); plus ``audio_regression_weight`` x L1 to the
target code, since InfoNCE ignores the codes' scale that ``speak`` renders. Wav2Vec2 stays
frozen; its features are computed once per clip through the inference path
(``extract_features``) and cached in the run folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fgemotalk_cli.errors import ConfigError
from fgemotalk_cli.training.config import TrainConfig
from fgemotalk_cli.training.data import (
    AudioFrameSampler,
    AUFrameSampler,
    fixed_batch,
    load_image_tensor,
)
from fgemotalk_cli.training.distributed import Distributed, all_gather_with_grad, barrier, wrap
from fgemotalk_cli.training.engine import StepResult
from fgemotalk_cli.training.stages import StageBase, lazy_adam
from models.audio_encoder import AudioEncoder
from models.fgemotalk import FGEmoTalk
from models.losses import info_nce

#: Terms of an objective: "loss" (logged, checked for finiteness) and any parts to log.
Terms = dict[str, torch.Tensor]


class FrozenTargetStage(StageBase):
    """Shared by stages 2 and 3: everything frozen but one encoder; target E_exp(E(x))."""

    name: Literal["stage2", "stage3"]

    def __init__(self, config: TrainConfig, model: FGEmoTalk, dist: Distributed,
                 discriminator_state: dict | None) -> None:
        super().__init__(config, model, dist)
        self.trainable_parameters = model.set_trainable(self.name)
        self.optimizer = lazy_adam(self.trainable_parameters, config, None)
        self.scaler = self.new_scaler()
        if discriminator_state is not None:
            # Carried through unchanged so a later stage-1 fine-tune still has its critic.
            from models.discriminator import Discriminator

            self.discriminator = Discriminator(model.config, config.discriminator_stddev_group)
            self.discriminator.load_state_dict(discriminator_state)

    @torch.no_grad()
    def target_codes(self, images: torch.Tensor) -> torch.Tensor:
        """E_exp(x) of the frozen stage-1 network: the code the encoder must produce."""
        with self.autocast():
            return self.model.expression_extractor(self.model.encoder(images).latent).float()

    def target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The code the encoder must produce for this batch: E_exp(x) by default."""
        return self.target_codes(batch["image"])

    def objective(self, codes: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, Terms]:
        """(what to back-propagate, terms to log); the two differ when ranks share a loss."""
        raise NotImplementedError

    def optimise(self, micro: list[dict[str, torch.Tensor]], wrapped: nn.Module,
                 inputs_key: str) -> StepResult:
        sums: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=self.device))
        self.optimizer.zero_grad(set_to_none=True)
        for index, batch in enumerate(micro):
            target = self.target(batch)
            with self.sync_context(wrapped, index == len(micro) - 1):
                with self.autocast():
                    codes = wrapped(batch[inputs_key])
                backward, terms = self.objective(codes.float(), target)
                self.backward(backward / len(micro), self.scaler)
            for name, value in terms.items():
                sums[name] += value.detach() / len(micro)
        stepped, sums["grad_norm"] = self.guarded_step(
            self.optimizer, self.trainable_parameters, self.scaler, sums["loss"])
        return StepResult(self.reduced(sums), skipped=not stepped)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"optimizers": {"encoder": self.optimizer.state_dict()}}
        if self.scaler is not None:
            state["scalers"] = {"encoder": self.scaler.state_dict()}
        return state

    def load_state_dict(self, extra: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(extra["optimizers"]["encoder"])
        if self.scaler is not None and "scalers" in extra:
            self.scaler.load_state_dict(extra["scalers"]["encoder"])


class Stage2Trainer(FrozenTargetStage):
    """AU encoder on DISFA-format labels; the video network is frozen [paper]."""

    name = "stage2"

    def __init__(self, config: TrainConfig, model: FGEmoTalk, dist: Distributed, train_clips,
                 eval_clips, log: Callable[[str], None] | None = None,
                 discriminator_state: dict | None = None) -> None:
        super().__init__(config, model, dist, discriminator_state)
        self.au_encoder = wrap(model.au_encoder, dist)
        sampling = config.data.au_sampling
        self.sampler = AUFrameSampler(train_clips, model.au_list, sampling)
        eval_sampler = AUFrameSampler(eval_clips, model.au_list, sampling)
        if log is not None and dist.is_main:
            log(f"stage 2: {len(self.sampler.index)} training frames "
                f"({self.sampler.dropped} dropped as inconsistently labelled), "
                f"{sampling.balance} sampling")
        # [ours] Each subject's neutral code, from the frozen network; the neutral frames are
        # the same on every rank, so every rank computes the same codes.
        self.train_neutral = self.neutral_codes(self.sampler)
        self.eval_neutral = self.neutral_codes(eval_sampler)
        with torch.no_grad():
            model.au_encoder.neutral_code.copy_(self.train_neutral.mean(dim=0))
        self.eval_data = {k: v.to(self.device) for k, v in fixed_batch(
            eval_sampler, config.seed, config.data.eval_samples).items()}

    @torch.no_grad()
    def neutral_codes(self, sampler: AUFrameSampler, batch: int = 32) -> torch.Tensor:
        """(subjects, k_exp): the mean E_exp of each subject's neutral frames [ours]."""
        codes = []
        limit = self.config.data.au_sampling.neutral_frames
        for clip_index, clip in enumerate(sampler.clips):
            frames = sampler.neutral_frames(clip_index, limit)
            parts = []
            for first in range(0, len(frames), batch):
                images = torch.stack([load_image_tensor(clip.frame_path(int(f)))
                                      for f in frames[first:first + batch]])
                parts.append(self.target_codes(images.to(self.device)))
            codes.append(torch.cat(parts).mean(dim=0))
        return torch.stack(codes)

    def target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """E_exp(x_D) minus the subject's neutral code [ours]."""
        return self.target_codes(batch["image"]) - self.train_neutral[batch["subject"]]

    def distance(self, codes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.config.loss.au_distance == "mse":
            return F.mse_loss(codes, target)
        return F.l1_loss(codes, target)

    def objective(self, codes: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, Terms]:
        loss = self.distance(codes, target)
        return loss, {"loss": loss}

    def train_step(self, micro: list[dict[str, torch.Tensor]], step: int) -> StepResult:
        result = self.optimise(micro, self.au_encoder, "aus")
        self.dump_gradients(step, "au_encoder", list(self.model.au_encoder.named_parameters()))
        return result

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        data = self.eval_data
        target = self.target_codes(data["image"]) - self.eval_neutral[data["subject"]]
        codes = self.model.au_encoder(data["aus"]).float()
        return {"heldout_au_loss": float(self.distance(codes, target)),
                "heldout_au_cosine": float(F.cosine_similarity(codes, target, dim=1).mean())}


def audio_objective(codes: torch.Tensor, target: torch.Tensor, dist: Distributed,
                    temperature: float, regression_weight: float) -> tuple[torch.Tensor, Terms]:
    """Stage 3's loss on this rank's (codes, target): InfoNCE over the global batch + L1 [ours].

    InfoNCE [paper] runs on the codes and targets of every rank (gathered; gradients flow into
    the local codes only), so each rank's loss is the global one; it is scaled by the world
    size for ``backward`` because DDP averages the ranks' gradients. The regression term
    ``regression_weight`` x L1(codes, target) is local (its DDP average is the global mean).
    Returns (what to back-propagate, {"loss", "infonce", "regression"} as logged).
    """
    contrastive = info_nce(all_gather_with_grad(codes, dist),
                           all_gather_with_grad(target, dist), temperature)
    regression = F.l1_loss(codes, target)
    backward = dist.world_size * contrastive + regression_weight * regression
    terms = {"loss": contrastive + regression_weight * regression, "infonce": contrastive,
             "regression": regression}
    return backward, terms


class AudioWindowHead(nn.Module):
    """The trainable part of the audio encoder, on cached feature windows (what DDP wraps)."""

    def __init__(self, audio_encoder: AudioEncoder) -> None:
        super().__init__()
        self.audio_encoder = audio_encoder

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.audio_encoder.codes_from_windows(windows)


class Stage3Trainer(FrozenTargetStage):
    """Audio encoder by InfoNCE against the frozen E_exp(x_D) [paper]."""

    name = "stage3"

    def __init__(self, config: TrainConfig, model: FGEmoTalk, dist: Distributed, train_clips,
                 eval_clips, log, discriminator_state: dict | None = None) -> None:
        audio = model.config.audio
        audio_encoder = model.audio_encoder
        if audio_encoder is None or audio is None:
            raise ConfigError("stage 3 needs the model's audio encoder (set the audio section)")
        if not audio.freeze_backbone:
            raise ConfigError("stage 3 trains on cached features of a frozen Wav2Vec2: set "
                              "audio.freeze_backbone: true")
        audio_encoder.to(dist.device)
        # The head only: Wav2Vec2 stays frozen (its features are cached below).
        super().__init__(config, model, dist, discriminator_state)
        self.audio_encoder = audio_encoder
        self.head = wrap(AudioWindowHead(audio_encoder), dist)
        train_clips = AudioFrameSampler.speaking(train_clips)
        eval_clips = AudioFrameSampler.speaking(eval_clips)
        files = cache_audio_features(audio_encoder, train_clips + eval_clips,
                                     Path(config.run_dir), dist, log)
        window = audio.window_features
        self.sampler = AudioFrameSampler(train_clips, files[:len(train_clips)],
                                         audio.feature_rate, window,
                                         config.data.audio_frames_per_clip)
        self.eval_data = {k: v.to(self.device) for k, v in fixed_batch(
            AudioFrameSampler(eval_clips, files[len(train_clips):], audio.feature_rate, window,
                              config.data.audio_frames_per_clip),
            config.seed, config.data.eval_samples).items()}

    def objective(self, codes: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, Terms]:
        loss = self.config.loss
        return audio_objective(codes, target, self.dist, loss.infonce_temperature,
                               loss.audio_regression_weight)

    def train_step(self, micro: list[dict[str, torch.Tensor]], step: int) -> StepResult:
        result = self.optimise(micro, self.head, "windows")
        self.dump_gradients(step, "audio_encoder",
                            list(self.audio_encoder.named_parameters()))
        return result

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        target = self.target_codes(self.eval_data["image"])
        codes = self.audio_encoder.codes_from_windows(self.eval_data["windows"]).float()
        similarity = F.normalize(codes, dim=1) @ F.normalize(target, dim=1).t()
        matches = similarity.argmax(dim=1) == torch.arange(len(codes), device=codes.device)
        return {"heldout_infonce": float(info_nce(codes, target,
                                                  self.config.loss.infonce_temperature)),
                "heldout_regression": float(F.l1_loss(codes, target)),
                "heldout_top1": float(matches.float().mean())}


def cache_audio_features(audio_encoder: AudioEncoder, clips: list, run_dir: Path,
                         dist: Distributed, log) -> list[Path]:
    """Wav2Vec2 features (T, hidden) per clip as float16 .npy, computed once and shared.

    The file name carries a fingerprint of the backbone's weights, so other weights never
    reuse stale features. Ranks split the clips between them, then wait for each other.
    """
    import soundfile

    folder = run_dir / "audio_features"
    folder.mkdir(parents=True, exist_ok=True)
    fingerprint = _fingerprint(audio_encoder.backbone)
    files = [folder / f"{_clip_key(clip.folder)}_{fingerprint}.npy" for clip in clips]
    todo = [i for i, path in enumerate(files) if not path.is_file()]
    if todo and dist.is_main:
        log(f"stage 3: computing Wav2Vec2 features for {len(todo)} clips (cached in {folder})")
    for i in todo[dist.rank::dist.world_size]:
        wave, _ = soundfile.read(str(clips[i].folder / "audio.wav"), dtype="float32")
        with torch.no_grad():
            features = audio_encoder.extract_features(torch.from_numpy(wave))
        temporary = files[i].with_name(f".{files[i].stem}.{os.getpid()}.tmp.npy")
        np.save(temporary, features.float().cpu().numpy().astype(np.float16))
        os.replace(temporary, files[i])
    barrier(dist)
    return files


def _clip_key(folder: Path) -> str:
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]
    return f"{folder.name[:60]}_{digest}"


def _fingerprint(module: nn.Module) -> str:
    summary = [(name, round(float(p.double().sum()), 6), tuple(p.shape))
               for name, p in module.state_dict().items() if torch.is_floating_point(p)]
    return hashlib.sha1(json.dumps(summary).encode()).hexdigest()[:12]
