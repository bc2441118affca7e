"""Optimisers (SGD, LARS, AdamW), weight-decay groups and the warm-up + cosine schedule."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from contrastlab.errors import InputError


def parameter_groups(modules: Iterable[nn.Module], weight_decay: float) -> list[dict]:
    """Two groups: weights with decay; biases and normalisation parameters (any 1-D tensor) without.

    The second group is also excluded from LARS's trust-ratio adaptation (``lars_exclude``), as in
    SimCLR.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for module in modules:
        for parameter in module.parameters():
            if parameter.requires_grad:
                (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay, "lars_exclude": False},
        {"params": no_decay, "weight_decay": 0.0, "lars_exclude": True},
    ]


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (You et al. 2017), SimCLR's optimiser.

    For each parameter ``w`` with gradient ``g`` (weight decay added: ``g <- g + wd * w``), unless
    its group sets ``lars_exclude``: ``g <- g * eta * ||w|| / ||g||`` when both norms are positive.
    Then ``v <- momentum * v + g`` and ``w <- w - lr * v``.

    Args:
        params: parameters or groups (groups may set ``weight_decay`` and ``lars_exclude``).
        lr: learning rate.
        momentum: momentum factor.
        weight_decay: default weight decay.
        eta: trust coefficient (1e-3 in SimCLR).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 1e-3,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "eta": eta,
            "lars_exclude": False,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[no-untyped-def]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad: Tensor = p.grad
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                if not group["lars_exclude"]:
                    w_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(grad)
                    trust = torch.where(
                        (w_norm > 0) & (g_norm > 0),
                        group["eta"] * w_norm / g_norm,
                        torch.ones_like(w_norm),
                    )
                    grad = grad.mul(trust)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = grad.clone()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
                p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss


def build_optimizer(
    name: str, groups: list[dict], lr: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """``sgd``, ``lars`` or ``adamw`` over ``groups`` (from :func:`parameter_groups`)."""
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum)
    plain = [{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups]
    if name == "sgd":
        return torch.optim.SGD(plain, lr=lr, momentum=momentum)
    if name == "adamw":
        return torch.optim.AdamW(plain, lr=lr)
    raise InputError(f"unknown optimiser {name!r}; choose from sgd, lars, adamw")


def warmup_cosine(
    step: int, total_steps: int, warmup_steps: int, base_lr: float, min_ratio: float = 0.0
) -> float:
    """Learning rate at ``step``: linear from ``base_lr / warmup_steps`` up to ``base_lr`` over
    ``warmup_steps``, then ``min + (base - min) * (1 + cos(pi * progress)) / 2`` down to
    ``min = min_ratio * base_lr`` at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    floor = min_ratio * base_lr
    return floor + (base_lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
