"""Blockwise and dense paths agree; the blockwise path never holds the full logit matrix."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from contrastlab import kernels, losses

from .cases import CASE_IDS, CASES, assert_close, run, views

TIGHT = 1e-12


@pytest.mark.parametrize("backward", ["fused", "recompute"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_blockwise_equals_dense(case, backward) -> None:
    # 2B = 12 rows: block sizes that divide it, do not divide it, and exceed it
    z1, z2 = views(batch=6, seed=30)
    dense, (d1, d2) = run(
        losses.KernelInfoNCE(case.make(), normalize=case.normalize, path="dense"), z1, z2
    )
    for block in (1, 4, 5, 7, 12, 50):
        module = losses.KernelInfoNCE(
            case.make(),
            normalize=case.normalize,
            block_size=block,
            path="blockwise",
            backward=backward,
        )
        value, (b1, b2) = run(module, z1, z2)
        assert_close(value, dense, TIGHT, f"loss, block {block}")
        assert_close(b1, d1, TIGHT, f"dL/dz1, block {block}")
        assert_close(b2, d2, TIGHT, f"dL/dz2, block {block}")


@pytest.mark.parametrize("backward", ["fused", "recompute"])
def test_blockwise_equals_dense_float32_odd_batch(backward) -> None:
    z1, z2 = views(batch=13, dim=8, seed=31)
    z1, z2 = z1.astype("float32"), z2.astype("float32")
    kernel = kernels.Laplacian(0.5)
    dense, (d1, d2) = run(losses.KernelInfoNCE(kernel, path="dense"), z1, z2, dtype=torch.float32)
    for block in (3, 8, 11, 26):
        module = losses.KernelInfoNCE(kernel, block_size=block, path="blockwise", backward=backward)
        value, (b1, b2) = run(module, z1, z2, dtype=torch.float32)
        assert_close(value, dense, 1e-5, f"loss, block {block}")
        assert_close(b1, d1, 1e-5, f"dL/dz1, block {block}")
        assert_close(b2, d2, 1e-5, f"dL/dz2, block {block}")


GRADCHECK_KERNELS = {
    "cosine": lambda: kernels.Cosine(0.5),
    "inner_product": lambda: kernels.InnerProduct(0.7),
    "gaussian": lambda: kernels.Gaussian(0.8),
    "laplacian": lambda: kernels.Laplacian(0.5),
    "exponential": lambda: kernels.Exponential(gamma=0.5, t=0.5),
    "student_t": lambda: kernels.StudentT(nu=3.0, s=0.5),
    "cauchy": lambda: kernels.Cauchy(1.0),
    "kernel_sum": lambda: kernels.KernelSum([kernels.Gaussian(0.4), kernels.Laplacian(0.5)]),
    "concat_kernel_parts": lambda: kernels.Concat(
        [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], [2, 2], normalize="parts"
    ),
    "concat_loss": lambda: kernels.Concat(
        [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], [2, 2], mode="loss"
    ),
}
GRADCHECK_PATHS = {
    "dense": dict(path="dense"),
    "blockwise_fused": dict(path="blockwise", block_size=2, backward="fused"),
    "blockwise_recompute": dict(path="blockwise", block_size=4, backward="recompute"),
}


@pytest.mark.parametrize("path", list(GRADCHECK_PATHS))
@pytest.mark.parametrize("name", list(GRADCHECK_KERNELS))
def test_gradcheck(name, path) -> None:
    gen = torch.Generator().manual_seed(32)
    z1 = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    z2 = z1.detach() + 0.5 * torch.randn(3, 4, dtype=torch.float64, generator=gen)
    z2.requires_grad_(True)
    module = losses.KernelInfoNCE(GRADCHECK_KERNELS[name](), **GRADCHECK_PATHS[path])
    assert torch.autograd.gradcheck(module, (z1, z2), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("path", list(GRADCHECK_PATHS))
def test_gradcheck_loss_sum(path) -> None:
    gen = torch.Generator().manual_seed(33)
    z1 = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    z2 = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    module = losses.LossSum(
        [(kernels.Exponential(gamma=1.0, t=0.3), 0.4), (kernels.Cauchy(1.0), 0.6)],
        **GRADCHECK_PATHS[path],
    )
    assert torch.autograd.gradcheck(module, (z1, z2), eps=1e-6, atol=1e-7, rtol=1e-5)


class _LargestTensor(TorchDispatchMode):
    """Records the largest tensor any ATen op produces (forward and backward) while active."""

    def __init__(self) -> None:
        super().__init__()
        self.numel = 0
        self.op = ""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and leaf.numel() > self.numel:
                self.numel, self.op = leaf.numel(), str(func)
        return out


MEMORY_KERNELS = {
    "cosine": lambda: kernels.Cosine(0.2),
    "laplacian": lambda: kernels.Laplacian(0.5),
    "exponential": lambda: kernels.Exponential(gamma=0.5, t=0.5),
    "student_t": lambda: kernels.StudentT(nu=5.0, s=0.2),
    "kernel_sum": lambda: kernels.KernelSum([kernels.Gaussian(0.4), kernels.Laplacian(0.5)]),
    "concat_loss": lambda: kernels.Concat(
        [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], [8, 8], mode="loss"
    ),
}


@pytest.mark.parametrize("backward", ["fused", "recompute"])
@pytest.mark.parametrize("name", list(MEMORY_KERNELS))
def test_blockwise_never_materialises_the_full_logit_matrix(name, backward) -> None:
    # 2B = 512 rows, blocks of 32 anchor rows: no tensor may approach 512 x 512 elements,
    # in forward or backward (the dense path, checked first, does produce one).
    batch, block = 256, 32
    gen = torch.Generator().manual_seed(34)
    z1 = torch.randn(batch, 16, generator=gen, requires_grad=True)
    z2 = torch.randn(batch, 16, generator=gen, requires_grad=True)
    full = (2 * batch) ** 2
    with _LargestTensor() as dense:
        losses.KernelInfoNCE(MEMORY_KERNELS[name](), path="dense")(z1, z2).backward()
    assert dense.numel >= full
    module = losses.KernelInfoNCE(
        MEMORY_KERNELS[name](), path="blockwise", block_size=block, backward=backward
    )
    with _LargestTensor() as blockwise:
        module(z1, z2).backward()
    assert blockwise.numel <= 2 * block * 2 * batch, (blockwise.numel, blockwise.op)


def test_blockwise_clip_never_materialises_the_full_logit_matrix() -> None:
    batch, block = 512, 32
    gen = torch.Generator().manual_seed(35)
    a = torch.randn(batch, 16, generator=gen, requires_grad=True)
    b = torch.randn(batch, 16, generator=gen, requires_grad=True)
    module = losses.KernelCLIPLoss(kernels.Laplacian(0.5), path="blockwise", block_size=block)
    with _LargestTensor() as blockwise:
        module(a, b).backward()
    assert blockwise.numel <= 2 * block * batch, (blockwise.numel, blockwise.op)
