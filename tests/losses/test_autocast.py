"""Under CPU autocast to bfloat16 the loss is computed in float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab import kernels, losses

KERNELS = {
    "cosine": kernels.Cosine(0.1),
    "laplacian": kernels.Laplacian(0.3),
    "student_t": kernels.StudentT(nu=5.0, s=0.2),
    "kernel_sum": kernels.KernelSum([kernels.Gaussian(0.2), kernels.Laplacian(0.3)]),
}


def _views(batch: int = 32, dim: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(50)
    z1 = rng.normal(size=(batch, dim))
    z2 = z1 + 0.5 * rng.normal(size=(batch, dim))
    return torch.tensor(z1, dtype=torch.float32), torch.tensor(z2, dtype=torch.float32)


@pytest.mark.parametrize("path", ["dense", "blockwise"])
@pytest.mark.parametrize("name", list(KERNELS))
def test_float32_inputs_under_autocast_give_the_float32_loss(name, path) -> None:
    # inputs that are float32 tensors are not rounded: the loss matches float32 to rounding
    module = losses.KernelInfoNCE(KERNELS[name], path=path, block_size=16)
    z1, z2 = _views()
    reference = module(z1, z2)
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = module(a, b)
    assert value.dtype == torch.float32
    assert torch.isfinite(value)
    assert value.item() == pytest.approx(reference.item(), rel=1e-5)
    value.backward()
    assert a.grad.dtype == torch.float32 and torch.isfinite(a.grad).all()


@pytest.mark.parametrize("path", ["dense", "blockwise"])
@pytest.mark.parametrize("name", list(KERNELS))
def test_bfloat16_embeddings_from_a_layer_under_autocast(name, path) -> None:
    # embeddings produced by a bf16 op: only their own rounding differs from float32
    module = losses.KernelInfoNCE(KERNELS[name], path=path, block_size=16)
    x1, x2 = _views(dim=32)
    layer = torch.nn.Linear(32, 64)
    with torch.no_grad():
        full = module(layer(x1), layer(x2)).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h1, h2 = layer(x1), layer(x2)
        assert h1.dtype == torch.bfloat16
        value = module(h1, h2)
    assert value.dtype == torch.float32
    assert torch.isfinite(value)
    # the same bf16-rounded embeddings, upcast, outside autocast: float32 agreement
    exact = module(h1.detach().float(), h2.detach().float()).item()
    assert value.item() == pytest.approx(exact, rel=1e-5)
    # and loosely close to the loss of the float32 layer
    assert value.item() == pytest.approx(full, rel=5e-2)
    value.backward()
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()


def test_clip_under_autocast_is_float32() -> None:
    module = losses.KernelCLIPLoss(kernels.Cosine(0.1))
    a, b = _views()
    reference = module(a, b).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = module(a, b)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(reference, rel=1e-5)
