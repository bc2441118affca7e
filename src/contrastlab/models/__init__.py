"""Backbones and projector heads, the model that joins them, and small named encoders."""

from __future__ import annotations

from torch import Tensor, nn

from contrastlab.models.backbones import (
    BACKBONES,
    MLP,
    LinearMap,
    SmallConvNet,
    build_backbone,
    resnet,
)
from contrastlab.models.encoders import build_encoder, capacity_parameters
from contrastlab.models.heads import ProjectionHead


class ContrastiveModel(nn.Module):
    """A backbone followed by a projector: ``forward(x) -> (features h, embedding z)``.

    Evaluation (kNN, linear probe, ``contrastlab embed``) uses the backbone features ``h``; the
    loss sees the projector's ``z``.
    """

    def __init__(self, backbone: nn.Module, projector: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = projector

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.backbone(x)
        return h, self.projector(h)


__all__ = [
    "BACKBONES",
    "MLP",
    "ContrastiveModel",
    "LinearMap",
    "ProjectionHead",
    "SmallConvNet",
    "build_backbone",
    "build_encoder",
    "capacity_parameters",
    "resnet",
]
