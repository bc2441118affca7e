"""Gathering embeddings across processes with gradients that flow back to every rank."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; backward sums each rank's gradient for this rank's rows.

    Every rank's loss depends on every rank's rows, so the gradient of this rank's rows is the
    sum over ranks of their losses' gradients (an all-reduce, then this rank's slice). With
    DDP averaging parameter gradients over W ranks, training then follows exactly the gradient
    of the mean of the rank losses, which equals the single-process loss on the global batch.
    """

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:  # type: ignore[override]
        world_size = dist.get_world_size()
        parts = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rank = dist.get_rank()
        ctx.rows = tensor.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.rows
        return grad[start : start + ctx.rows]


def gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` (same shape on every rank) from all ranks, rank order, with autograd.

    Returns ``tensor`` itself when not running distributed.
    """
    _, world_size = world()
    if world_size == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


@torch.no_grad()
def gather_keys(keys: Tensor) -> Tensor:
    """All ranks' ``keys`` (same shape on every rank) concatenated in rank order, no gradient.

    MoCo's keys are constants, so they are gathered without autograd before they enter the
    queue: every rank then enqueues the same global batch of keys and holds the same queue.
    Returns ``keys`` detached when not running distributed.
    """
    _, world_size = world()
    keys = keys.detach()
    if world_size == 1:
        return keys
    parts = [torch.empty_like(keys) for _ in range(world_size)]
    dist.all_gather(parts, keys.contiguous())
    return torch.cat(parts, dim=0)
