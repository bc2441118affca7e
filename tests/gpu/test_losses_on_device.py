"""Every kernel's loss and gradients on the device against the float64 reference written from
the formulas (``tests/losses/reference.py``), in float32 and from bfloat16 embeddings made
under autocast, on the dense and the blockwise path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab.losses import KernelInfoNCE
from losses.cases import CASES, DIM, assert_close, views

PATHS = ("dense", "blockwise")


def _loss_and_grads(case, z1: np.ndarray, z2: np.ndarray, device, path: str, dtype):
    loss_fn = KernelInfoNCE(case.make(), normalize=case.normalize, path=path)
    leaves = [torch.tensor(z, dtype=dtype, device=device, requires_grad=True) for z in (z1, z2)]
    loss = loss_fn(*leaves)
    loss.backward()
    assert loss.device.type == device.type
    return loss.item(), [leaf.grad.double().cpu().numpy() for leaf in leaves]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_float32_loss_and_gradients_match_float64_reference(case, path, device) -> None:
    from losses import reference as ref

    z1, z2 = views(batch=24, dim=DIM, seed=3)
    expected, g1, g2, _ = ref.infonce(z1, z2, case.make_ref(), case.normalize)
    value, (d1, d2) = _loss_and_grads(case, z1, z2, device, path, torch.float32)
    assert_close(value, expected, 2e-5, f"{case.name} loss on {device}")
    assert_close(d1, g1, 2e-4, f"{case.name} dL/dz1 on {device}")
    assert_close(d2, g2, 2e-4, f"{case.name} dL/dz2 on {device}")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bfloat16_embeddings_under_autocast_are_computed_in_float32(case, path, device) -> None:
    """Embeddings a layer makes under bf16 autocast enter the loss as bf16; the engine works in
    float32, so the loss equals the float64 reference on those same (rounded) embeddings to
    float32 accuracy, far inside bf16's 4e-3 rounding."""
    from losses import reference as ref

    torch.manual_seed(0)
    layer = torch.nn.Linear(DIM, DIM).to(device)
    x1, x2 = torch.randn(24, DIM, device=device), torch.randn(24, DIM, device=device)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        z1, z2 = layer(x1), layer(x2 + 0.1 * x1)
        assert z1.dtype == torch.bfloat16
        loss = KernelInfoNCE(case.make(), normalize=case.normalize, path=path)(z1, z2)
    assert loss.dtype == torch.float32
    a, b = (z.detach().double().cpu().numpy() for z in (z1, z2))
    expected = ref.infonce(a, b, case.make_ref(), case.normalize)[0]
    assert_close(loss.item(), expected, 2e-5, f"{case.name} under autocast on {device}")
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
