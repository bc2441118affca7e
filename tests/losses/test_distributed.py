"""Two real gloo processes on the CPU give the single-process loss and gradients.

Each rank r holds ``(z1_r, z2_r)`` of B rows; the global batch is ``z1 = cat(z1_r)``,
``z2 = cat(z2_r)``. Rank r's loss is the mean over its 2B local anchors against all 2BW
candidates, so the mean of the rank losses is the single-process loss on the global batch. The
autograd-aware all-gather sums gradient contributions from all ranks, so rank r's gradient wrt its
own rows is W times the gradient of the global loss wrt those rows: after DDP averages over the W
ranks, parameter gradients are exactly the single-process ones.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from contrastlab import kernels, losses

from . import reference as ref
from .cases import assert_close

WORLD = 2
BATCH = 5
DIM = 8
TIGHT = 1e-10

KERNELS = {
    "cosine": (lambda: kernels.Cosine(0.2), lambda: ref.RefCosine(0.2)),
    "laplacian": (lambda: kernels.Laplacian(0.5), lambda: ref.RefLaplacian(0.5)),
    "student_t": (lambda: kernels.StudentT(nu=3.0, s=0.5), lambda: ref.RefStudentT(3.0, 0.5)),
    "kernel_sum": (
        lambda: kernels.KernelSum([kernels.Gaussian(0.4), kernels.Laplacian(0.5)]),
        lambda: ref.RefKernelSum([ref.RefGaussian(0.4), ref.RefLaplacian(0.5)]),
    ),
    "concat_loss_parts": (
        lambda: kernels.Concat(
            [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], [3, 5], mode="loss", normalize="parts"
        ),
        lambda: ref.RefConcat(
            [ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [3, 5], "loss", "parts"
        ),
    ),
}
PATHS = {
    "dense": dict(path="dense"),
    "blockwise_fused": dict(path="blockwise", block_size=3, backward="fused"),
    "blockwise_recompute": dict(path="blockwise", block_size=7, backward="recompute"),
}


def _modules() -> dict[str, torch.nn.Module]:
    """Every loss module run on each rank, by key (gather_distributed left at its default)."""
    out: dict[str, torch.nn.Module] = {}
    for kname, (make, _) in KERNELS.items():
        for pname, options in PATHS.items():
            out[f"{kname}/{pname}"] = losses.KernelInfoNCE(make(), **options)
    out["explicit_gather"] = losses.KernelInfoNCE(kernels.Cosine(0.2), gather_distributed=True)
    out["local_only"] = losses.KernelInfoNCE(kernels.Laplacian(0.5), gather_distributed=False)
    out["loss_sum"] = losses.LossSum(
        [(kernels.Exponential(gamma=1.0, t=0.3), 0.4), (kernels.Cauchy(1.0), 0.6)],
        path="blockwise",
        block_size=4,
    )
    for pname, options in PATHS.items():
        out[f"clip/{pname}"] = losses.KernelCLIPLoss(kernels.Cosine(0.2), **options)
    return out


def _worker(rank: int, port: int, folder: str) -> None:
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group(
        "gloo", rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=60)
    )
    try:
        z1_all = np.load(Path(folder) / "z1.npy")
        z2_all = np.load(Path(folder) / "z2.npy")
        rows = slice(rank * BATCH, (rank + 1) * BATCH)
        results: dict[str, torch.Tensor] = {}
        for key, module in _modules().items():
            z1 = torch.tensor(z1_all[rows], requires_grad=True)
            z2 = torch.tensor(z2_all[rows], requires_grad=True)
            loss = module(z1, z2)
            loss.backward()
            results[f"{key}|loss"] = loss.detach()
            results[f"{key}|g1"] = z1.grad
            results[f"{key}|g2"] = z2.grad
        torch.save(results, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def distributed_run(tmp_path_factory: pytest.TempPathFactory):
    """Run every module on WORLD gloo processes once; returns the inputs and per-rank results."""
    folder = tmp_path_factory.mktemp("gloo")
    rng = np.random.default_rng(60)
    z1 = rng.normal(size=(WORLD * BATCH, DIM))
    z2 = z1 + 0.4 * rng.normal(size=(WORLD * BATCH, DIM))
    np.save(folder / "z1.npy", z1)
    np.save(folder / "z2.npy", z2)
    context = mp.spawn(_worker, args=(_free_port(), str(folder)), nprocs=WORLD, join=False)
    deadline = time.monotonic() + 90
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the gloo processes did not finish within 90 s")
    results = [torch.load(folder / f"rank{r}.pt") for r in range(WORLD)]
    return z1, z2, results


def _local_anchor_indices(rank: int) -> np.ndarray:
    # rows of Z = [z1; z2] (global) that are rank r's anchors
    first = np.arange(rank * BATCH, (rank + 1) * BATCH)
    return np.concatenate([first, first + WORLD * BATCH])


def _check_against(results, key: str, per_anchor, g1, g2) -> None:
    rank_losses = [res[f"{key}|loss"].item() for res in results]
    assert_close(np.mean(rank_losses), per_anchor.mean(), TIGHT, f"{key}: mean of rank losses")
    for rank, res in enumerate(results):
        rows = slice(rank * BATCH, (rank + 1) * BATCH)
        local = per_anchor[_local_anchor_indices(rank)].mean()
        assert_close(res[f"{key}|loss"].item(), local, TIGHT, f"{key}: rank {rank} loss")
        assert_close(res[f"{key}|g1"].numpy(), WORLD * g1[rows], TIGHT, f"{key}: rank {rank} g1")
        assert_close(res[f"{key}|g2"].numpy(), WORLD * g2[rows], TIGHT, f"{key}: rank {rank} g2")


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_two_ranks_equal_one_process_on_the_global_batch(distributed_run, kernel, path) -> None:
    z1, z2, results = distributed_run
    make, make_ref = KERNELS[kernel]
    _, g1, g2, per_anchor = ref.infonce(z1, z2, make_ref())
    _check_against(results, f"{kernel}/{path}", per_anchor, g1, g2)
    # and the code itself, in one process on the concatenated batch
    a = torch.tensor(z1, requires_grad=True)
    b = torch.tensor(z2, requires_grad=True)
    single = losses.KernelInfoNCE(make(), **PATHS[path])(a, b)
    single.backward()
    rank_mean = np.mean([res[f"{kernel}/{path}|loss"].item() for res in results])
    assert_close(rank_mean, single.item(), TIGHT, "single-process loss")
    gathered_g1 = np.concatenate([res[f"{kernel}/{path}|g1"].numpy() for res in results])
    gathered_g2 = np.concatenate([res[f"{kernel}/{path}|g2"].numpy() for res in results])
    assert_close(gathered_g1 / WORLD, a.grad.numpy(), TIGHT, "single-process dL/dz1")
    assert_close(gathered_g2 / WORLD, b.grad.numpy(), TIGHT, "single-process dL/dz2")


def test_explicit_gather_flag(distributed_run) -> None:
    z1, z2, results = distributed_run
    _, g1, g2, per_anchor = ref.infonce(z1, z2, ref.RefCosine(0.2))
    _check_against(results, "explicit_gather", per_anchor, g1, g2)


def test_loss_sum_distributed(distributed_run) -> None:
    z1, z2, results = distributed_run
    terms = [(ref.RefExponential(1.0, 0.3), 0.4), (ref.RefCauchy(1.0), 0.6)]
    per_anchor = sum(w * ref.infonce(z1, z2, k)[3] for k, w in terms)
    _, g1, g2 = ref.loss_sum(z1, z2, terms)
    _check_against(results, "loss_sum", per_anchor, g1, g2)


def test_gather_disabled_uses_local_batch_only(distributed_run) -> None:
    z1, z2, results = distributed_run
    for rank, res in enumerate(results):
        rows = slice(rank * BATCH, (rank + 1) * BATCH)
        loss, g1, g2, _ = ref.infonce(z1[rows], z2[rows], ref.RefLaplacian(0.5))
        assert_close(res["local_only|loss"].item(), loss, TIGHT, f"rank {rank} loss")
        assert_close(res["local_only|g1"].numpy(), g1, TIGHT, f"rank {rank} g1")
        assert_close(res["local_only|g2"].numpy(), g2, TIGHT, f"rank {rank} g2")


@pytest.mark.parametrize("path", list(PATHS))
def test_clip_two_ranks_equal_one_process(distributed_run, path) -> None:
    # CLIP: rank r's a-anchors see all b's and its b-anchors all a's; mean of rank losses is the
    # global loss and each rank's gradient is W times the global gradient of its rows.
    z1, z2, results = distributed_run
    loss, ga, gb = ref.clip(z1, z2, ref.RefCosine(0.2))
    key = f"clip/{path}"
    rank_losses = [res[f"{key}|loss"].item() for res in results]
    assert_close(np.mean(rank_losses), loss, TIGHT, "mean of rank losses")
    for rank, res in enumerate(results):
        rows = slice(rank * BATCH, (rank + 1) * BATCH)
        assert_close(res[f"{key}|g1"].numpy(), WORLD * ga[rows], TIGHT, f"rank {rank} dL/da")
        assert_close(res[f"{key}|g2"].numpy(), WORLD * gb[rows], TIGHT, f"rank {rank} dL/db")
