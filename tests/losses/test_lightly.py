"""The cosine kernel agrees with lightly's published NT-Xent loss (a reference implementation)."""

from __future__ import annotations

import lightly.loss as lightly_loss
import numpy as np
import pytest
import torch

from contrastlab import kernels, losses


def _loss_and_grads(module: torch.nn.Module, z1: np.ndarray, z2: np.ndarray):
    a = torch.tensor(z1, requires_grad=True)
    b = torch.tensor(z2, requires_grad=True)
    loss = module(a, b)
    loss.backward()
    return loss.item(), a.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("path", ["dense", "blockwise"])
@pytest.mark.parametrize(("batch", "dim", "t"), [(8, 16, 0.5), (32, 64, 0.1), (5, 3, 0.2)])
def test_cosine_matches_lightly_ntxent(batch, dim, t, path) -> None:
    rng = np.random.default_rng(batch)
    z1 = rng.normal(size=(batch, dim)).astype(np.float32)
    z2 = (z1 + 0.5 * rng.normal(size=(batch, dim))).astype(np.float32)
    ours = losses.KernelInfoNCE(kernels.Cosine(t), path=path, block_size=7)
    theirs = lightly_loss.NTXentLoss(temperature=t)
    value, g1, g2 = _loss_and_grads(ours, z1, z2)
    expected, e1, e2 = _loss_and_grads(theirs, z1, z2)
    assert value == pytest.approx(expected, rel=1e-5)
    scale = max(np.abs(e1).max(), np.abs(e2).max())
    np.testing.assert_allclose(g1, e1, rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(g2, e2, rtol=1e-4, atol=1e-5 * scale)
