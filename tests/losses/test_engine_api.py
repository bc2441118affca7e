"""``losses.softmax_contrastive_loss`` used directly, and what each ``EngineOptions`` path offers.

The engine is public: a logit function of the user's own (no ``Kernel``), with or without a
self pair to exclude and with extra parameters, must give the loss of ``losses.md`` on every
path. The dense path is plain autograd (so it also differentiates twice); the automatic block
size splits a large batch into several blocks with the same numbers as the dense path.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from contrastlab import kernels, losses

from . import reference as ref
from .cases import assert_close, views

F64_RTOL = 1e-10
OPTIONS = {
    "dense": losses.EngineOptions(path="dense"),
    "blockwise_fused": losses.EngineOptions(path="blockwise", block_size=5, backward="fused"),
    "blockwise_recompute": losses.EngineOptions(
        path="blockwise", block_size=5, backward="recompute"
    ),
    "auto": losses.EngineOptions(),
}
T = 1.5


def _inner_product(a: torch.Tensor, c: torch.Tensor, *scale: torch.Tensor) -> torch.Tensor:
    logits = a @ c.T / T
    return logits * scale[0] if scale else logits


@pytest.mark.parametrize("name", list(OPTIONS))
def test_two_view_loss_from_a_plain_logit_function(name) -> None:
    z1, z2 = views(batch=7, seed=80)
    z = torch.tensor(np.concatenate([z1, z2]), requires_grad=True)
    rows = z.shape[0]
    positive = (torch.arange(rows) + 7) % rows
    loss = losses.softmax_contrastive_loss(
        z, z, positive, torch.arange(rows), _inner_product, (), OPTIONS[name]
    )
    loss.backward()
    expected, e1, e2, _ = ref.infonce(z1, z2, ref.RefInnerProduct(T))
    assert_close(loss.item(), expected, F64_RTOL, "loss")
    assert_close(z.grad.numpy(), np.concatenate([e1, e2]), F64_RTOL, "dL/dz")


@pytest.mark.parametrize("name", list(OPTIONS))
def test_two_modality_loss_with_a_parameter(name) -> None:
    # no self pair (CLIP's candidates include the positive) and a learnable scale as a parameter
    a_np, b_np = views(batch=6, seed=81, noise=1.0)
    a = torch.tensor(a_np, requires_grad=True)
    b = torch.tensor(b_np, requires_grad=True)
    scale = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    positive = torch.arange(6)
    one_way = [
        losses.softmax_contrastive_loss(
            x, y, positive, None, _inner_product, (scale,), OPTIONS[name]
        )
        for x, y in ((a, b), (b, a))
    ]
    loss = 0.5 * (one_way[0] + one_way[1])
    loss.backward()
    expected, ea, eb = ref.clip(a_np, b_np, ref.RefInnerProduct(T), scale=1.7)
    assert_close(loss.item(), expected, F64_RTOL, "loss")
    assert_close(a.grad.numpy(), ea, F64_RTOL, "dL/da")
    assert_close(b.grad.numpy(), eb, F64_RTOL, "dL/db")
    # d L / d scale = (d L / d log scale) / scale
    slope = ref.clip_log_scale_slope(a_np, b_np, ref.RefInnerProduct(T), scale=1.7) / 1.7
    assert scale.grad.item() == pytest.approx(slope, rel=F64_RTOL)


def test_dense_path_differentiates_twice() -> None:
    # plain autograd: second derivatives (gradient penalties, Hessian-vector products) work
    gen = torch.Generator().manual_seed(82)
    z1 = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    z2 = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    for kernel in (kernels.Laplacian(0.5), kernels.InnerProduct(2.0)):
        module = losses.KernelInfoNCE(kernel, path="dense")
        assert torch.autograd.gradgradcheck(module, (z1, z2), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_automatic_blocks_of_a_large_batch_equal_the_dense_path() -> None:
    # 2B = 3200 rows: the automatic block size (a memory budget of float32 logits) is below
    # 3200, so the default options run several blocks, the last one shorter
    gen = torch.Generator().manual_seed(83)
    z1 = torch.randn(1600, 8, generator=gen)
    z2 = z1 + 0.5 * torch.randn(1600, 8, generator=gen)
    results = []
    for path in ("auto", "dense"):
        leaves = [z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)]
        loss = losses.KernelInfoNCE(kernels.Cosine(0.2), path=path)(*leaves)
        loss.backward()
        results.append((loss.item(), [leaf.grad.numpy() for leaf in leaves]))
    (auto, auto_grads), (dense, dense_grads) = results
    assert math.isfinite(auto)
    assert_close(auto, dense, 1e-5, "loss")
    for got, want in zip(auto_grads, dense_grads):
        assert_close(got, want, 1e-5, "gradient")
