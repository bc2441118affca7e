"""Distributed helpers: start-up from ``torchrun``'s environment, the per-rank batch shard.

``torchrun --nproc_per_node=N -m contrastlab train ...`` sets ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` joins the process group (NCCL
on GPUs, gloo on the CPU). The loss gathers embeddings across ranks itself
(``contrastlab.losses``), DDP averages gradients, and only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Runtime:
    """Where this process runs: its rank among ``world_size`` processes and its device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> Runtime:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1) and pick the device.

    Args:
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:K``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    target = torch.device(device)
    if target.type == "cuda" and target.index is None:
        target = torch.device("cuda", local_rank if world_size > 1 else 0)
    if target.type == "cuda":
        torch.cuda.set_device(target)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if target.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return Runtime(rank=rank, world_size=world_size, device=target)


def barrier(runtime: Runtime) -> None:
    """Wait for every rank (no-op in one process)."""
    if runtime.distributed:
        dist.barrier()


def agree(runtime: Runtime, *flags: bool) -> tuple[bool, ...]:
    """Each flag true on every rank when it is true on any (one all-reduce; as given in one
    process), so all ranks take the same branch: stop at the same step, together."""
    if not runtime.distributed:
        return tuple(flags)
    values = torch.tensor([float(f) for f in flags], device=runtime.device)
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in values.tolist())


def cleanup(runtime: Runtime) -> None:
    """Leave the process group."""
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def epoch_batches(
    num_samples: int, global_batch: int, epoch: int, seed: int, runtime: Runtime
) -> list[torch.Tensor]:
    """This rank's sample indices for each step of ``epoch``.

    One permutation per epoch, drawn from ``seed`` and ``epoch`` alone (so a resumed run sees the
    same order), cut into full global batches (the last partial batch is dropped); rank ``r`` takes
    the ``r``-th contiguous share of each. One process with the same global batch sees exactly the
    union of the ranks' shares, in the same order.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(num_samples, generator=generator)
    local = global_batch // runtime.world_size
    steps = num_samples // global_batch
    return [
        order[
            s * global_batch + runtime.rank * local : s * global_batch + (runtime.rank + 1) * local
        ]
        for s in range(steps)
    ]
