"""Small encoders of named capacity: ``"linear"`` or ``"mlp-WxL"`` (the ``clusters`` grid).

``"linear"`` is the affine map ``x -> W x + b``; ``"mlp-WxL"`` has L hidden Linear-ReLU layers of
width W, then a linear output layer. The name is the function class's complexity axis.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from contrastlab.errors import InputError

__all__ = ["build_encoder", "capacity_parameters"]

_MLP = re.compile(r"^mlp-(\d+)x(\d+)$")


def build_encoder(capacity: str, in_dim: int, out_dim: int, seed: int = 0) -> nn.Module:
    """An encoder of the named function class, initialised from ``seed``.

    ``"linear"``: ``x -> W x + b``; ``"mlp-WxL"``: L hidden Linear-ReLU layers of width W and a
    linear output layer.
    """
    torch.manual_seed(seed)
    if capacity == "linear":
        return nn.Linear(in_dim, out_dim)
    match = _MLP.match(str(capacity))
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise InputError(
            f"capacity: expected 'linear' or 'mlp-WxL' (e.g. mlp-64x2), got {capacity!r}"
        )
    width, depth = int(match.group(1)), int(match.group(2))
    layers: list[nn.Module] = []
    size = in_dim
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU()]
        size = width
    layers.append(nn.Linear(size, out_dim))
    return nn.Sequential(*layers)


def capacity_parameters(capacity: str, in_dim: int, out_dim: int) -> int:
    """Number of trainable parameters of the named encoder."""
    return sum(p.numel() for p in build_encoder(capacity, in_dim, out_dim).parameters())
