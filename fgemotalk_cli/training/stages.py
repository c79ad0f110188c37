"""Stage 1, the video network (E, extractors, Dic, G against a discriminator), and the
pieces every stage trainer shares (mixed precision, guarded optimiser steps, DDP sync).

Stage 1 [paper eq. 5-11]: S and D are two frames of one clip; the network renders S', S_app,
S_exp, S_pose and S_rec; the generator minimises
    100 L_app(S_app, S) + 100 L_exp(S_exp, D) + 10 (L_per(S', D) + L_per(S_rec, S))
    + L1(S', D) + sum over the five images of the non-saturating GAN term [paper eq. 10:
    the five terms are summed, not averaged],
and the discriminator softplus(-D(real)) + softplus(D(fake)) [LIA], reals being S and D
[ours; LIA uses D only]. Adam with LIA's lazy-regularisation scaling [LIA].
[ours] L_app and L_exp are the L1 distance (mean absolute difference) between the backbone's
features of the generated and the real image (``backbones.build_feature_losses``); the paper
names the backbones but not the distance.
[ours] The discriminator runs on each B-sized chunk separately (S, D; or each of the five
generated kinds), so its minibatch-stddev groups never mix kinds of image.
"""

from __future__ import annotations

import math
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fgemotalk_cli.errors import CheckpointError, ConfigError
from fgemotalk_cli.training.backbones import build_feature_losses
from fgemotalk_cli.training.config import LossWeights, TrainConfig
from fgemotalk_cli.training.data import PairSampler, fixed_batch
from fgemotalk_cli.training.distributed import Distributed, all_reduce_mean, any_rank, wrap
from fgemotalk_cli.training.engine import StepResult
from models.discriminator import Discriminator
from models.fgemotalk import FGEmoTalk, TrainingImages
from models.losses import (
    discriminator_loss,
    generator_adversarial_loss,
    l1_loss,
    r1_penalty,
)


def lazy_adam(parameters: list[nn.Parameter], config: TrainConfig,
              reg_every: int | None) -> torch.optim.Adam:
    """Adam; with ``reg_every``, LIA's scaling lr x r and betas ** r, r = k / (k + 1) [LIA]."""
    optimizer = config.optimizer
    ratio = 1.0 if reg_every is None else reg_every / (reg_every + 1)
    betas = (optimizer.betas[0] ** ratio, optimizer.betas[1] ** ratio)
    return torch.optim.Adam(parameters, lr=optimizer.lr * ratio, betas=betas, eps=optimizer.eps)


class StageBase:
    """Mixed precision, DDP gradient sync and the guarded optimiser step."""

    name = "stage"

    def __init__(self, config: TrainConfig, model: FGEmoTalk, dist: Distributed) -> None:
        self.config = config
        self.model = model
        self.dist = dist
        self.device = dist.device
        self.discriminator: nn.Module | None = None
        cuda = dist.device.type == "cuda"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.amp) \
            if cuda else None

    def autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast("cuda", dtype=self.amp_dtype)

    def new_scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None

    @staticmethod
    def sync_context(module: nn.Module, last_micro_step: bool):
        """Skip DDP's all-reduce on all but the last accumulation micro-step (nanoGPT)."""
        no_sync = getattr(module, "no_sync", None)
        if last_micro_step or no_sync is None:
            return nullcontext()
        return no_sync()

    @staticmethod
    def backward(loss: torch.Tensor, scaler: torch.amp.GradScaler | None) -> None:
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def guarded_step(self, optimizer: torch.optim.Optimizer, parameters: list[nn.Parameter],
                     scaler: torch.amp.GradScaler | None,
                     loss: torch.Tensor) -> tuple[bool, torch.Tensor]:
        """Step unless the loss or gradient norm is non-finite on any rank.

        Returns (stepped, global gradient norm); the norm is logged as an early sign of
        trouble. With fp16 the GradScaler already skips overflowing steps and lowers its scale, so
        only a non-finite loss counts as a bad step there.
        """
        if scaler is not None:
            scaler.unscale_(optimizer)
        clip = self.config.optimizer.grad_clip
        norm = torch.nn.utils.clip_grad_norm_(parameters, clip if clip else math.inf)
        bad = not bool(torch.isfinite(loss)) or (scaler is None and not bool(torch.isfinite(norm)))
        if any_rank(bad, self.dist):
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.update()
            return False, norm.detach()
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        return True, norm.detach()

    def reduced(self, sums: dict[str, torch.Tensor]) -> dict[str, float]:
        """Scalars averaged over ranks, so logs describe the global batch."""
        names = sorted(sums)
        values = all_reduce_mean(torch.stack([sums[n].float() for n in names]), self.dist)
        return dict(zip(names, values.tolist()))

    def dump_gradients(self, step: int, label: str, named: list[tuple[str, nn.Parameter]]) -> None:
        """Debug: save this rank-0 view of the (all-reduced) gradients of one step."""
        if self.config.gradient_dump_step != step + 1 or not self.dist.is_main:
            return
        gradients = {name: p.grad.detach().cpu().clone() for name, p in named
                     if p.grad is not None}
        path = Path(self.config.run_dir) / f"gradients_step{step + 1}_{label}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(gradients, path)

    def sample_grid(self) -> torch.Tensor | None:
        return None


class Stage1Trainer(StageBase):
    """Stage 1: the whole video network against the discriminator [paper, LIA]."""

    name = "stage1"
    discriminator: Discriminator

    def __init__(self, config: TrainConfig, model: FGEmoTalk, dist: Distributed, train_clips,
                 eval_clips, log, discriminator_state: dict | None = None) -> None:
        super().__init__(config, model, dist)
        # Frozen parts must not require grad: DDP fails on trainable parameters it never sees.
        self.video_parameters = model.set_trainable("stage1")
        self.discriminator = Discriminator(model.config, config.discriminator_stddev_group)
        if discriminator_state is not None:
            self.discriminator.load_state_dict(discriminator_state)
        self.discriminator.to(self.device)
        self.generator = wrap(model, dist)
        self.critic = wrap(self.discriminator, dist)
        self.g_optimizer = lazy_adam(self.video_parameters, config, config.optimizer.g_reg_every)
        self.d_optimizer = lazy_adam(list(self.discriminator.parameters()), config,
                                     config.optimizer.d_reg_every)
        self.g_scaler, self.d_scaler = self.new_scaler(), self.new_scaler()
        self.losses, self.fallback, notes = build_feature_losses(config.loss, model.encoder,
                                                                 self.device)
        for note in notes:
            log(note)
        self.sampler = PairSampler(train_clips)
        self.eval_data = {k: v.to(self.device) for k, v in fixed_batch(
            PairSampler(eval_clips), config.seed, config.data.eval_samples).items()}

    # -- one optimiser step -------------------------------------------------------------------
    def generator_terms(self, images: TrainingImages, source: torch.Tensor,
                        driving: torch.Tensor) -> dict[str, torch.Tensor]:
        # The plain discriminator, not DDP: its parameters are frozen during the G step.
        return generator_terms(images, source, driving, self.losses, self.config.loss.weights,
                               self.discriminator)

    def train_step(self, micro: list[dict[str, torch.Tensor]], step: int) -> StepResult:
        weights = self.config.loss.weights
        count = len(micro)
        sums: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=self.device))
        fakes = []
        self.discriminator.requires_grad_(False)
        self.g_optimizer.zero_grad(set_to_none=True)
        for index, batch in enumerate(micro):
            source, driving = batch["source"], batch["driving"]
            with self.sync_context(self.generator, index == count - 1):
                with self.autocast():
                    images = self.generator(source, driving)
                    terms = self.generator_terms(images, source, driving)
                    total = sum(getattr(weights, k) * v.float() for k, v in terms.items())
                self.backward(total / count, self.g_scaler)
            fakes.append(torch.cat(images.all()).detach())
            for key, value in terms.items():
                sums[key] += value.detach().float() / count
            sums["generator"] += total.detach() / count
        self.dump_gradients(step, "generator", list(self.model.named_parameters()))
        generator_ok, sums["generator_grad_norm"] = self.guarded_step(
            self.g_optimizer, self.video_parameters, self.g_scaler, sums["generator"])

        self.discriminator.requires_grad_(True)
        self.d_optimizer.zero_grad(set_to_none=True)
        for index, batch in enumerate(micro):
            real = torch.cat((batch["source"], batch["driving"]))
            chunk = batch["source"].shape[0]
            with self.sync_context(self.critic, index == count - 1):
                with self.autocast():
                    loss = discriminator_loss(self.critic(real, chunk=chunk),
                                              self.critic(fakes[index], chunk=chunk))
                self.backward(loss / count, self.d_scaler)
            sums["discriminator"] += loss.detach().float() / count
        self.dump_gradients(step, "discriminator", list(self.discriminator.named_parameters()))
        discriminator_ok, sums["discriminator_grad_norm"] = self.guarded_step(
            self.d_optimizer, list(self.discriminator.parameters()), self.d_scaler,
            sums["discriminator"])
        if discriminator_ok and self.config.optimizer.r1_weight > 0 \
                and step % self.config.optimizer.d_reg_every == 0:
            sums["r1"] = self._r1_step(micro)
        return StepResult(self.reduced(sums), skipped=not (generator_ok and discriminator_ok))

    def _r1_step(self, micro: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """Lazy R1 every d_reg_every steps, scaled by that interval [StyleGAN2, opt-in]."""
        regularity = self.config.optimizer
        self.d_optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        for index, batch in enumerate(micro):
            real = torch.cat((batch["source"], batch["driving"])).requires_grad_(True)
            with self.sync_context(self.critic, index == len(micro) - 1):
                # float32: the penalty's second derivative is fragile
                logits = self.critic(real, chunk=batch["source"].shape[0])
                penalty = r1_penalty(logits, real)
                scaled = regularity.r1_weight / 2 * penalty * regularity.d_reg_every
                # The 0 x logits term keeps every D parameter in the graph for DDP.
                ((scaled + 0 * logits[0].sum()) / len(micro)).backward()
            total += penalty.detach() / len(micro)
        self.guarded_step(self.d_optimizer, list(self.discriminator.parameters()), None, total)
        return total

    # -- evaluation ---------------------------------------------------------------------------
    @torch.no_grad()
    def _render_eval(self) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        source, driving = self.eval_data["source"], self.eval_data["driving"]
        chunk = max(1, self.config.schedule.batch_size // self.config.schedule.grad_accumulation)
        outputs = []
        with self.autocast():
            for first in range(0, source.shape[0], chunk):
                images = self.model.generate_training_images(source[first:first + chunk],
                                                             driving[first:first + chunk])
                outputs.append([image.float() for image in images.all()])
        return source, driving, [torch.cat(column) for column in zip(*outputs)]

    def evaluate(self) -> dict[str, float]:
        """Held-out reconstruction L1: S' against D and S_rec against S."""
        source, driving, images = self._render_eval()
        return {"heldout_l1": float((images[0] - driving).abs().mean()),
                "heldout_rec_l1": float((images[4] - source).abs().mean())}

    def sample_grid(self) -> torch.Tensor:
        """Rows of S | D | S' | S_app | S_exp | S_pose | S_rec for four held-out pairs."""
        source, driving, images = self._render_eval()
        rows = [torch.cat([t[i] for t in (source, driving, *images)], dim=2)
                for i in range(min(4, source.shape[0]))]
        return (torch.cat(rows, dim=1).clamp(-1, 1) + 1) / 2

    # -- checkpoint state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"optimizers": {"generator": self.g_optimizer.state_dict(),
                                                "discriminator": self.d_optimizer.state_dict()}}
        if self.g_scaler is not None and self.d_scaler is not None:
            state["scalers"] = {"generator": self.g_scaler.state_dict(),
                                "discriminator": self.d_scaler.state_dict()}
        if self.fallback is not None:
            state["fallback_encoder"] = {k: v.detach().cpu() for k, v in
                                         self.fallback.encoder.state_dict().items()}
        return state

    def load_state_dict(self, extra: dict[str, Any]) -> None:
        optimizers = extra["optimizers"]
        self.g_optimizer.load_state_dict(optimizers["generator"])
        self.d_optimizer.load_state_dict(optimizers["discriminator"])
        if self.g_scaler is not None and self.d_scaler is not None and "scalers" in extra:
            self.g_scaler.load_state_dict(extra["scalers"]["generator"])
            self.d_scaler.load_state_dict(extra["scalers"]["discriminator"])
        if self.fallback is not None:
            if extra.get("fallback_encoder") is None:
                raise CheckpointError("this checkpoint was trained without the frozen-encoder "
                                      "fallback; the config now asks for it (cannot resume "
                                      "exactly)")
            self.fallback.encoder.load_state_dict(extra["fallback_encoder"])


def generator_terms(images: TrainingImages, source: torch.Tensor, driving: torch.Tensor,
                    losses: dict[str, nn.Module | None], weights: LossWeights,
                    discriminator: nn.Module | None) -> dict[str, torch.Tensor]:
    """The unweighted stage-1 generator terms [paper eq. 6-10].

    ``losses`` holds the feature losses per role (None: off); a zero weight in ``weights``
    skips L1 or the GAN term. "adversarial" is
    the sum over S', S_app, S_exp, S_pose and S_rec of softplus(-D(image)) [paper eq. 10],
    D run on all five at once with one stddev chunk per kind [ours].
    """
    terms: dict[str, torch.Tensor] = {}
    if losses["appearance"] is not None:
        terms["appearance"] = losses["appearance"](images.appearance_only, source)
    if losses["expression"] is not None:
        terms["expression"] = losses["expression"](images.expression_only, driving)
    if losses["perceptual"] is not None:
        terms["perceptual"] = (losses["perceptual"](images.driven, driving)
                               + losses["perceptual"](images.reconstruction, source))
    if weights.l1:
        terms["l1"] = l1_loss(images.driven, driving)
    if weights.adversarial:
        if discriminator is None:
            raise ConfigError("loss.weights.adversarial > 0 needs a discriminator")
        generated = images.all()
        batch = generated[0].shape[0]
        logits = discriminator(torch.cat(generated), chunk=batch).split(batch)
        kinds = [generator_adversarial_loss(kind) for kind in logits]
        terms["adversarial"] = sum(kinds[1:], kinds[0])
    return terms

