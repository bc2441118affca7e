"""What only a GPU can show: the blockwise path's memory in the CUDA allocator against the dense
path, NCCL, and compiled CUDA kernels of the loss engine and RLD (all skipped without CUDA)."""

from __future__ import annotations

import dataclasses
import os
import socket

import numpy as np
import pytest
import torch

from contrastlab import analysis, kernels, losses

from .conftest import CUDA_ONLY

pytestmark = CUDA_ONLY


def _peak_mb(loss_fn, z1: torch.Tensor, z2: torch.Tensor) -> tuple[float, float]:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated()
    loss = loss_fn(z1, z2)
    loss.backward()
    torch.cuda.synchronize()
    value = loss.item()
    z1.grad = z2.grad = None
    return (torch.cuda.max_memory_allocated() - start) / 2**20, value


@pytest.mark.parametrize("batch", [4096, 16384])
@pytest.mark.parametrize("kernel", [kernels.Cosine(0.2), kernels.Laplacian(0.5)], ids=repr)
def test_blockwise_uses_a_fraction_of_the_dense_memory(batch, kernel) -> None:
    torch.manual_seed(0)
    z1 = torch.randn(batch, 128, device="cuda", requires_grad=True)
    z2 = torch.randn(batch, 128, device="cuda", requires_grad=True)
    dense_mb, dense = _peak_mb(losses.KernelInfoNCE(kernel, path="dense"), z1, z2)
    block_mb, block = _peak_mb(losses.KernelInfoNCE(kernel, path="blockwise"), z1, z2)
    logits_mb = (2 * batch) ** 2 * 4 / 2**20
    assert dense_mb >= logits_mb  # the dense path holds at least one 2B x 2B matrix
    assert block_mb <= dense_mb / 8, (block_mb, dense_mb)
    assert block == pytest.approx(dense, rel=1e-5)


def test_compiled_engine_on_cuda_equals_eager(monkeypatch) -> None:
    torch.manual_seed(0)
    z1 = torch.randn(1024, 64, device="cuda", requires_grad=True)
    z2 = torch.randn(1024, 64, device="cuda", requires_grad=True)
    results = []
    for flag in (False, True):
        loss_fn = losses.KernelInfoNCE(kernels.StudentT(nu=5, s=0.2), path="blockwise")
        loss_fn.options = dataclasses.replace(loss_fn.options, compile=flag)
        loss = loss_fn(z1, z2)
        loss.backward()
        results.append((loss.item(), z1.grad.clone()))
        z1.grad = z2.grad = None
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-5)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=1e-4, atol=1e-7)


def test_compiled_rld_on_cuda_equals_eager_float64_cpu() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 3000)
    X = (rng.normal(size=(5, 32))[y] + rng.normal(size=(3000, 32))).astype(np.float32)
    exact = analysis.rld_profile(X, y, (1.0, 0.1), precision="float64")
    fused = analysis.rld_profile(X, y, (1.0, 0.1), precision="float32", compile=True, device="cuda")
    np.testing.assert_allclose(fused.values, exact.values, atol=1e-5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nccl_single_rank_loss_equals_the_plain_loss(monkeypatch) -> None:
    import torch.distributed as dist

    if not dist.is_nccl_available():
        pytest.skip("this torch build has no NCCL")
    monkeypatch.setitem(os.environ, "MASTER_ADDR", "127.0.0.1")
    monkeypatch.setitem(os.environ, "MASTER_PORT", str(_free_port()))
    torch.manual_seed(0)
    z1 = torch.randn(256, 32, device="cuda", requires_grad=True)
    z2 = torch.randn(256, 32, device="cuda", requires_grad=True)
    loss_fn = losses.KernelInfoNCE(kernels.Gaussian(0.4))
    plain = loss_fn(z1, z2)
    (g_plain,) = torch.autograd.grad(plain, z1)
    dist.init_process_group("nccl", rank=0, world_size=1)
    try:
        gathered = losses.KernelInfoNCE(kernels.Gaussian(0.4), gather_distributed=True)(z1, z2)
        (g_gathered,) = torch.autograd.grad(gathered, z1)
    finally:
        dist.destroy_process_group()
    assert gathered.item() == pytest.approx(plain.item(), rel=1e-6)
    torch.testing.assert_close(g_gathered, g_plain)
