"""Projector heads: Linear-BN-ReLU-...-Linear, ending on the sphere or in a BatchNorm.

Sphere kernels (``kernel.normalization == "l2"``) L2-normalise the output; the loss does that
itself (``Kernel.prepare``), so the head ends in a plain ``Linear``. Student-t kernels
(``normalization == "none"``) use the embedding as it is; t-SimCLR ends the projector in
``BatchNorm1d(affine=False)`` so the scale of the embedding is fixed without a sphere.
"""

from __future__ import annotations

from torch import Tensor, nn


class ProjectionHead(nn.Module):
    """``layers`` linear maps, with BatchNorm and ReLU between them.

    Args:
        in_dim: backbone feature width.
        hidden_dim: width of the hidden layers.
        out_dim: embedding width.
        layers: number of linear maps (1 is a single linear projector).
        batchnorm_end: end with ``BatchNorm1d(out_dim, affine=False)`` (Student-t kernels).
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int = 2048,
        out_dim: int = 128,
        layers: int = 2,
        batchnorm_end: bool = False,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"projector needs at least one layer, got {layers}")
        modules: list[nn.Module] = []
        width = in_dim
        for _ in range(layers - 1):
            modules += [
                nn.Linear(width, hidden_dim, bias=False),
                nn.BatchNorm1d(hidden_dim),
                nn.ReLU(inplace=True),
            ]
            width = hidden_dim
        modules.append(nn.Linear(width, out_dim))
        if batchnorm_end:
            modules.append(nn.BatchNorm1d(out_dim, affine=False))
        self.net = nn.Sequential(*modules)
        self.out_dim = out_dim

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)
