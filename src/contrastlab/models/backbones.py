"""Backbones: torchvision ResNets (optional CIFAR stem), a small convnet, an MLP or linear map.

Each builder returns an ``nn.Module`` mapping a batch to features ``(B, feature_dim)``; the module
carries its width as ``feature_dim``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from contrastlab.errors import InputError

BACKBONES = ("resnet18", "resnet34", "resnet50", "small_cnn", "mlp", "linear")


def build_backbone(
    name: str,
    sample_shape: Sequence[int],
    *,
    cifar_stem: bool = False,
    widths: Sequence[int] | None = None,
) -> nn.Module:
    """Build a backbone for samples of shape ``(C, H, W)`` (images) or ``(D,)`` (vectors).

    Args:
        name: one of :data:`BACKBONES`.
        sample_shape: shape of one input sample.
        cifar_stem: ResNets only: 3 x 3 stride-1 first convolution and no max-pool, the usual
            change for 32 x 32 images.
        widths: channel widths of ``small_cnn`` or hidden widths of ``mlp`` (defaults below).

    Raises:
        InputError: unknown name, or a backbone that does not fit the data's shape.
    """
    is_image = len(sample_shape) == 3
    if name in ("resnet18", "resnet34", "resnet50", "small_cnn") and not is_image:
        raise InputError(
            f"backbone {name} needs images, but the data are vectors of shape {tuple(sample_shape)}"
        )
    if name in ("mlp", "linear") and is_image:
        sample_shape = (int(torch.tensor(sample_shape).prod()),)
    if name.startswith("resnet"):
        return resnet(name, in_channels=sample_shape[0], cifar_stem=cifar_stem)
    if name == "small_cnn":
        return SmallConvNet(
            sample_shape[0], widths=tuple(widths or (32, 64, 128)), image_size=sample_shape[-1]
        )
    if name == "mlp":
        return MLP(sample_shape[0], hidden=tuple(widths or (512, 512)))
    if name == "linear":
        return LinearMap(sample_shape[0], out_dim=(widths or [128])[-1])
    raise InputError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")


def resnet(name: str, in_channels: int = 3, cifar_stem: bool = False) -> nn.Module:
    """A torchvision ResNet without its classifier (random initialisation, nothing downloaded)."""
    import torchvision

    model = getattr(torchvision.models, name)(weights=None)
    if cifar_stem or in_channels != 3:
        kernel, stride, padding = (3, 1, 1) if cifar_stem else (7, 2, 3)
        model.conv1 = nn.Conv2d(in_channels, 64, kernel, stride, padding, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    if cifar_stem:
        model.maxpool = nn.Identity()
    model.feature_dim = model.fc.in_features
    model.fc = nn.Identity()
    return model


class SmallConvNet(nn.Module):
    """Conv-BN-ReLU blocks for 8 x 8 to 64 x 64 images, then global average pooling.

    Block 1 runs at full resolution on images of at most 16 pixels and with stride 2 above
    (keeps 28 x 28 cheap); each later block starts with a 2 x 2 max-pool while the side is above 2.

    Args:
        in_channels: input channels.
        widths: output channels of each block; ``feature_dim`` is the last one.
        image_size: side of the input images.
    """

    def __init__(
        self, in_channels: int = 1, widths: Sequence[int] = (32, 64, 128), image_size: int = 8
    ) -> None:
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.blocks = nn.ModuleList()
        channels = in_channels
        for index, width in enumerate(self.widths):
            stride = 2 if index == 0 and image_size > 16 else 1
            self.blocks.append(
                nn.Sequential(
                    nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                )
            )
            channels = width
        self.feature_dim = channels

    def forward(self, x: Tensor) -> Tensor:
        for index, block in enumerate(self.blocks):
            if index > 0 and x.shape[-1] > 2:
                x = nn.functional.max_pool2d(x, 2)
            x = block(x)
        return x.mean(dim=(2, 3))


class MLP(nn.Module):
    """Linear-BN-ReLU layers for vectors (or flattened images)."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (512, 512)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_dim
        for size in hidden:
            layers += [
                nn.Linear(width, size, bias=False),
                nn.BatchNorm1d(size),
                nn.ReLU(inplace=True),
            ]
            width = size
        self.net = nn.Sequential(*layers)
        self.feature_dim = width

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class LinearMap(nn.Module):
    """One linear map ``x -> W x + b`` (the GMM experiments' function class)."""

    def __init__(self, in_dim: int, out_dim: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, out_dim))
        self.feature_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
