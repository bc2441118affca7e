"""Backbones and projector heads: shapes, stems, the Student-t BatchNorm end."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from contrastlab.errors import InputError
from contrastlab.models import ContrastiveModel, ProjectionHead, build_backbone


@pytest.mark.parametrize("side", [8, 28, 32])
def test_small_cnn_any_small_size(side: int) -> None:
    net = build_backbone("small_cnn", (1, side, side), widths=(8, 16, 24))
    assert net.feature_dim == 24
    assert net(torch.randn(3, 1, side, side)).shape == (3, 24)


def test_resnet_cifar_stem_and_channels() -> None:
    net = build_backbone("resnet18", (1, 16, 16), cifar_stem=True)
    assert (
        net.conv1.kernel_size == (3, 3)
        and net.conv1.stride == (1, 1)
        and net.conv1.in_channels == 1
    )
    assert isinstance(net.maxpool, nn.Identity) and net.feature_dim == 512
    assert net.eval()(torch.randn(2, 1, 16, 16)).shape == (2, 512)
    plain = build_backbone("resnet50", (3, 32, 32))
    assert plain.conv1.kernel_size == (7, 7) and plain.feature_dim == 2048


def test_vector_backbones_and_mismatches() -> None:
    mlp = build_backbone("mlp", (10,), widths=(32, 16))
    assert mlp(torch.randn(4, 10)).shape == (4, 16)
    linear = build_backbone("linear", (10,), widths=(3,))
    x = torch.randn(5, 10)
    layer = linear.net[1]
    torch.testing.assert_close(linear(x), x @ layer.weight.T + layer.bias)
    with pytest.raises(InputError, match="needs images"):
        build_backbone("small_cnn", (10,))
    with pytest.raises(InputError, match="unknown backbone"):
        build_backbone("vit_h", (3, 32, 32))


def test_projection_heads() -> None:
    sphere = ProjectionHead(16, hidden_dim=32, out_dim=8, layers=3)
    linears = [m for m in sphere.net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 32), (32, 32), (32, 8)]
    assert isinstance(sphere.net[-1], nn.Linear)
    student = ProjectionHead(16, hidden_dim=32, out_dim=8, batchnorm_end=True)
    end = student.net[-1]
    assert isinstance(end, nn.BatchNorm1d) and not end.affine
    z = student.train()(torch.randn(64, 16))
    torch.testing.assert_close(z.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    model = ContrastiveModel(build_backbone("mlp", (16,), widths=(12,)), ProjectionHead(12, 20, 6))
    h, z = model(torch.randn(5, 16))
    assert h.shape == (5, 12) and z.shape == (5, 6)
