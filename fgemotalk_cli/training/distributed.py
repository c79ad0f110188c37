"""One process or many: DDP set up from torchrun's environment, as nanoGPT does.

``torchrun --nproc_per_node=N`` sets RANK, LOCAL_RANK and WORLD_SIZE; without them this is a
single process. CUDA ranks use NCCL and one GPU each (cuda:LOCAL_RANK); CPU ranks use gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch

from fgemotalk_cli.errors import ConfigError


@dataclass(frozen=True)
class Distributed:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_request: str = "auto") -> Distributed:
    """Join the process group when launched by torchrun; pick this rank's device."""
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = device_request.startswith("cuda") or (
        device_request == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise ConfigError(f"device {device_request} was asked for but CUDA is not available")
    if use_cuda:
        if world_size > 1 or device_request in ("auto", "cuda"):
            device = torch.device("cuda", local_rank)
        else:
            device = torch.device(device_request)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not torch.distributed.is_initialized():
        # A generous timeout: rank 0 may spend minutes on evaluation or a large checkpoint.
        torch.distributed.init_process_group(
            backend="nccl" if use_cuda else "gloo", timeout=timedelta(minutes=30),
            device_id=device if use_cuda else None,
        )
    return Distributed(rank, local_rank, world_size, device)


def teardown() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def all_reduce_mean(values: torch.Tensor, dist: Distributed) -> torch.Tensor:
    """Average a tensor over ranks (a copy; the input is left as it is)."""
    result = values.detach().clone()
    if dist.enabled:
        torch.distributed.all_reduce(result, op=torch.distributed.ReduceOp.SUM)
        result /= dist.world_size
    return result


def any_rank(flag: bool, dist: Distributed) -> bool:
    """True when ``flag`` is true on at least one rank (every rank gets the same answer)."""
    if not dist.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=dist.device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(dist: Distributed) -> None:
    if dist.enabled:
        torch.distributed.barrier()


def wrap(module: torch.nn.Module, dist: Distributed) -> torch.nn.Module:
    """DDP around ``module`` when distributed (it must already be on this rank's device)."""
    if not dist.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [dist.device.index] if dist.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=False)


def all_gather_with_grad(tensor: torch.Tensor, dist: Distributed) -> torch.Tensor:
    """Every rank's ``tensor`` concatenated in rank order; only the local part keeps its graph.

    For a loss over the whole global batch (InfoNCE's negatives): each rank back-propagates
    into its own samples only, so the summed gradients over ranks are the gradient of the
    global loss. DDP averages over ranks, so scale such a loss by the world size before
    ``backward``. The tensors must have the same shape on every rank.
    """
    if not dist.enabled:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.world_size)]
    torch.distributed.all_gather(parts, tensor.detach().contiguous())
    parts[dist.rank] = tensor
    return torch.cat(parts)
