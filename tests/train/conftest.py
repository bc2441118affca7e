"""Shared helpers for the training tests: tiny settings, single-threaded torch, and the
documented learning-rate schedule with a recorder of the rates optimisers really apply."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_pre_hook

# Small enough that a digits epoch takes a fraction of a second on one core; no time plan
# (nothing measured before training: the optimiser-step and loss hooks below see only the run).
TINY = [
    "train.time_budget=null",
    "model.widths=[8, 16]",
    "model.projector_hidden=32",
    "model.projector_dim=16",
    "train.progress=false",
    "train.threads=1",
]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny tensors: on a shared two-core machine OpenMP threads mostly wait on each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference_lr(step: int, total: int, warmup: int, base: float, min_ratio: float) -> float:
    """The documented schedule, written independently of ``train.optim``: ``base * (s + 1) / W``
    for the first ``W = warmup`` steps, then ``min + (base - min) * (1 + cos(pi * p)) / 2`` with
    ``p = (s - W) / (T - W)``, ``T = total`` and ``min = min_ratio * base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / (total - warmup)
    floor = min_ratio * base
    return floor + (base - floor) * (1 + math.cos(math.pi * progress)) / 2


@contextmanager
def applied_steps() -> Iterator[list[dict[str, Any]]]:
    """Every optimiser step taken inside the block, seen just before it is applied: each
    parameter group's hyper-parameters (``lr``, ``momentum``, ``weight_decay``, ...) under
    ``groups``, the optimiser's parameter count under ``size`` and the global norm of the
    gradients it is about to use under ``grad_norm``."""
    seen: list[dict[str, Any]] = []

    def record(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        norms = torch.stack([torch.linalg.vector_norm(g.double()) for g in grads])
        seen.append(
            {
                "groups": [
                    {k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups
                ],
                "size": sum(p.numel() for g in optimizer.param_groups for p in g["params"]),
                "grad_norm": float(torch.linalg.vector_norm(norms)),
            }
        )

    handle = register_optimizer_step_pre_hook(record)
    try:
        yield seen
    finally:
        handle.remove()


@contextmanager
def applied_rates() -> Iterator[list[list[float]]]:
    """The learning rate of each parameter group at every optimiser step inside the block."""
    rates: list[list[float]] = []
    with applied_steps() as seen:
        yield rates
    rates.extend([float(g["lr"]) for g in step["groups"]] for step in seen)


@contextmanager
def loss_values() -> Iterator[list[float]]:
    """The value of every contrastive loss (``KernelInfoNCE`` or ``LossSum``) computed in the
    block, outermost calls only."""
    from contrastlab.losses import KernelInfoNCE, LossSum

    seen: list[float] = []
    depth = [0]

    def enter(module: torch.nn.Module, args: object) -> None:
        if isinstance(module, (KernelInfoNCE, LossSum)):
            depth[0] += 1

    def leave(module: torch.nn.Module, args: object, output: torch.Tensor) -> None:
        if isinstance(module, (KernelInfoNCE, LossSum)):
            depth[0] -= 1
            if depth[0] == 0:
                seen.append(float(output.detach()))

    handles = [register_module_forward_pre_hook(enter), register_module_forward_hook(leave)]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()
