"""The loop every stage shares: batches, steps, logs, evaluation, checkpoints, stopping.

A stage trainer (``stages``) owns its networks and optimisers and does one optimiser step
from a list of micro-batches; this module feeds it, seeds every step, guards against
non-finite steps, logs on rank 0 (TensorBoard + ``metrics.jsonl``), saves atomic
checkpoints and stops cleanly on SIGTERM (saving first, so a pre-empted job resumes).
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fgemotalk_cli.errors import FgError
from fgemotalk_cli.training.config import TrainConfig
from fgemotalk_cli.training.data import StepBatches, make_loader
from fgemotalk_cli.training.distributed import Distributed, any_rank

LATEST = "latest.pt"
FINAL = "final.pt"


class TrainingDiverged(FgError):
    """Too many steps in a row had non-finite losses or gradients."""


@dataclass
class StepResult:
    """What one optimiser step reports: averaged scalars, and whether it was skipped."""

    values: dict[str, float]
    skipped: bool = False


@dataclass
class Outcome:
    """How a run ended, for the caller's summary line."""

    stage: str
    first_step: int
    last_step: int
    total_steps: int
    stopped_by_signal: bool
    skipped_steps: int
    latest: Path | None = None
    final: Path | None = None
    seconds_per_step: float | None = None
    last_values: dict[str, float] = field(default_factory=dict)


def seed_step(seed: int, step: int, rank: int) -> None:
    """Seed torch for this (step, rank): exact resumes need no saved generator state."""
    state = np.random.SeedSequence([seed, step, rank]).generate_state(2, dtype=np.uint32)
    torch.manual_seed(int(state[0]) << 32 | int(state[1]))


@contextmanager
def sigterm_requests() -> Iterator[dict[str, bool]]:
    """{'stop': bool} set by SIGTERM; the loop saves and exits at the end of the step."""
    request = {"stop": False}

    def handler(signum: int, frame: object) -> None:
        request["stop"] = True

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. a notebook worker): no handler
        yield request
        return
    try:
        yield request
    finally:
        signal.signal(signal.SIGTERM, previous)


class MetricsLog:
    """Rank 0's record: TensorBoard scalars and images, and one JSON line per step."""

    def __init__(self, run_dir: Path, enabled: bool, first_step: int) -> None:
        self.enabled = enabled
        self.writer = None
        self.path = run_dir / "metrics.jsonl"
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self._truncate_after(first_step)
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a killed run logged after its last checkpoint.
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=first_step or None)

    def _truncate_after(self, step: int) -> None:
        if not self.path.is_file():
            return
        if step == 0:  # a fresh start: nothing earlier belongs to this run
            self.path.unlink()
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line and json.loads(line)["step"] <= step]
        self.path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    def record(self, kind: str, step: int, values: dict[str, float], to_board: bool) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, "step": step, **values}) + "\n")
        if to_board and self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{kind}/{name}", value, step)

    def image(self, tag: str, step: int, image: torch.Tensor) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, image.clamp(0, 1), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@contextmanager
def step_progress(total: int, completed: int, enabled: bool) -> Iterator[Any]:
    """A rich bar on stderr: steps, it/s, elapsed, ETA and the latest losses."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
        TimeRemainingColumn(), TextColumn("{task.fields[losses]}"),
        console=Console(stderr=True),
    )
    with progress:
        task = progress.add_task("train", total=total, completed=completed, rate="", losses="")

        class Bar:
            def advance(self, description: str, values: dict[str, float]) -> None:
                keys = [k for k in ("generator", "discriminator", "l1", "loss") if k in values]
                shown = " ".join(f"{k} {values[k]:.3g}" for k in keys or list(values)[:4])
                speed = progress.tasks[0].speed
                rate = f"{speed:.2f} it/s" if speed and speed >= 1 else (
                    f"{1 / speed:.1f} s/it" if speed else "")
                progress.update(task, advance=1, description=description, rate=rate,
                                losses=shown)

        yield Bar()


def rng_snapshot() -> dict[str, Any]:
    """Generator states, saved for the record (steps reseed, so resuming does not need them)."""
    snapshot: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        snapshot["cuda"] = [state for state in torch.cuda.get_rng_state_all()]
    return snapshot


def save_training_checkpoint(trainer: Any, config: TrainConfig, step: int, path: Path,
                             full: bool, skipped_steps: int) -> Path:
    """``full``: everything for an exact resume; else the weights only (final export)."""
    from models.checkpoint import save_checkpoint

    extra: dict[str, Any] = {
        "trainer": {
            "stage": config.stage_name, "step": step, "total_steps": config.schedule.steps,
            "complete": step >= config.schedule.steps, "skipped_steps": skipped_steps,
            "config": config.to_dict(),
        },
    }
    if full:
        extra.update(trainer.state_dict())
        extra["rng"] = rng_snapshot()
    return save_checkpoint(path, trainer.model, config.stage_name,
                           discriminator=trainer.discriminator, extra=extra)


def run_loop(trainer: Any, config: TrainConfig, dist: Distributed, first_step: int,
             show_progress: bool, log: Any) -> Outcome:
    """Train from ``first_step`` to ``config.schedule.steps``; returns how it ended."""
    schedule = config.schedule
    run_dir = Path(config.run_dir)
    accumulation = schedule.grad_accumulation
    dataset = StepBatches(trainer.sampler, config.seed, schedule.batch_size, accumulation,
                          dist.world_size, dist.rank, first_step, schedule.steps)
    batches = make_loader(dataset, config.data.num_workers, dist.device.type == "cuda")
    metrics = MetricsLog(run_dir, dist.is_main, first_step)
    outcome = Outcome(config.stage_name, first_step, first_step, schedule.steps, False, 0)
    in_a_row = 0
    step_seconds: list[float] = []
    try:
        if first_step == 0 and dist.is_main:
            metrics.record("eval", 0, trainer.evaluate(), to_board=True)
        with sigterm_requests() as request, \
                step_progress(schedule.steps, first_step, show_progress and dist.is_main) as bar:
            for step in range(first_step, schedule.steps):
                started = time.perf_counter()
                micro = [_to_device(next(batches), dist.device) for _ in range(accumulation)]
                seed_step(config.seed, step, dist.rank)
                result = trainer.train_step(micro, step)
                done = step + 1
                step_seconds.append(time.perf_counter() - started)
                if result.skipped:
                    in_a_row += 1
                    outcome.skipped_steps += 1
                    log(f"step {done}: non-finite loss or gradient, step skipped "
                        f"({in_a_row} in a row)")
                    if in_a_row >= schedule.max_nonfinite_steps:
                        raise TrainingDiverged(
                            f"training stopped at step {done}: {in_a_row} steps in a row had "
                            "non-finite losses or gradients; resume from the last checkpoint "
                            f"({run_dir / LATEST}) with a lower optimizer.lr or amp: off"
                        )
                else:
                    in_a_row = 0
                values = {**result.values, "step_seconds": step_seconds[-1]}
                outcome.last_values = values
                metrics.record("train", done, values,
                               to_board=done % schedule.log_every == 0 or done == schedule.steps)
                if bar is not None:
                    bar.advance(config.stage_name, result.values)
                if dist.is_main and (done % schedule.eval_every == 0 or done == schedule.steps):
                    metrics.record("eval", done, trainer.evaluate(), to_board=True)
                if dist.is_main and done % schedule.sample_every == 0:
                    grid = trainer.sample_grid()
                    if grid is not None:
                        metrics.image("samples", done, grid)
                stop = any_rank(request["stop"], dist)
                outcome.last_step = done
                if done % schedule.checkpoint_every == 0 or stop or done == schedule.steps:
                    _checkpoint(trainer, config, dist, done, outcome)
                if stop:
                    outcome.stopped_by_signal = True
                    log(f"SIGTERM: saved step {done} to {run_dir / LATEST}; resume with "
                        f"--resume {run_dir / LATEST}")
                    break
    finally:
        metrics.close()
    if step_seconds:
        # The first steps include warm-up (allocation, autotuning): leave them out if we can.
        steady = step_seconds[min(len(step_seconds) - 1, 3):]
        outcome.seconds_per_step = float(np.median(steady))
    return outcome


def _checkpoint(trainer: Any, config: TrainConfig, dist: Distributed, step: int,
                outcome: Outcome) -> None:
    if not dist.is_main:
        return
    run_dir = Path(config.run_dir)
    outcome.latest = save_training_checkpoint(trainer, config, step, run_dir / LATEST, True,
                                              outcome.skipped_steps)
    keep = config.schedule.keep_every
    if keep and step % keep == 0:
        shutil.copy2(outcome.latest, run_dir / f"step_{step:07d}.pt")
    if step >= config.schedule.steps:
        outcome.final = save_training_checkpoint(trainer, config, step, run_dir / FINAL, False,
                                                 outcome.skipped_steps)


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
