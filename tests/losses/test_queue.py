"""``losses.QueueInfoNCE``: MoCo's loss against a queue of keys, checked against float64 NumPy.

The reference (``reference.queue_infonce``) is written from the formula with a loop over rows;
its own gradient is checked by finite differences here.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from contrastlab import kernels, losses

from . import reference as ref
from .cases import CASE_IDS, CASES, LogitsOnly, assert_close

TIGHT = 1e-10
FLOAT32 = 1e-5
PATHS = {
    "dense": dict(path="dense"),
    "fused_chunk3": dict(path="blockwise", block_size=3),
    "recompute_chunk3": dict(path="blockwise", block_size=3, backward="recompute"),
    "fused_auto": dict(path="auto"),
}


def _inputs(batch: int = 5, size: int = 7, dim: int = 8, seed: int = 0):
    """Keys near their queries, a queue of unrelated earlier keys (float64 NumPy)."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(batch, dim))
    k = q + 0.4 * rng.normal(size=(batch, dim))
    queue = rng.normal(size=(size, dim))
    return q, k, queue


def _run(module, q, k, queue, dtype=torch.float64):
    """Loss and ``dL/dq`` of ``module`` on new leaves; k and queue also ask for gradients."""
    leaves = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in (q, k, queue)]
    loss = module(*leaves)
    loss.backward()
    return loss, leaves


def test_reference_gradient_matches_finite_differences() -> None:
    q, k, queue = _inputs(batch=3, size=4, dim=5)
    for kernel in (ref.RefCosine(0.3), ref.RefStudentT(3.0, 0.5), ref.RefLaplacian(0.5)):
        _, grad = ref.queue_infonce(q, k, queue, kernel)
        numeric = ref.numeric_gradient(
            lambda x, kernel=kernel: ref.queue_infonce(x, k, queue, kernel)[0], q
        )
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_float64_reference_for_every_kernel(case, path) -> None:
    q, k, queue = _inputs()
    module = losses.QueueInfoNCE(case.make(), normalize=case.normalize, **PATHS[path])
    loss, (gq, _, _) = _run(module, q, k, queue)
    expected, grad = ref.queue_infonce(q, k, queue, case.make_ref(), case.normalize)
    assert_close(loss.item(), expected, TIGHT, "loss")
    assert_close(gq.grad.numpy(), grad, TIGHT, "dL/dq")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float32_matches_the_reference_to_float32_rounding(case) -> None:
    q, k, queue = _inputs(seed=3)
    module = losses.QueueInfoNCE(case.make(), normalize=case.normalize, block_size=4)
    loss, (gq, _, _) = _run(module, q, k, queue, dtype=torch.float32)
    assert loss.dtype == torch.float32
    expected, grad = ref.queue_infonce(q, k, queue, case.make_ref(), case.normalize)
    assert_close(loss.item(), expected, FLOAT32, "loss")
    assert_close(gq.grad.numpy(), grad, 1e-4, "dL/dq")


def test_cosine_is_moco_cross_entropy_with_the_positive_in_column_zero() -> None:
    # MoCo's own formulation: logits [q.k, q.Q^T] / t, label 0, on unit vectors
    q, k, queue = (torch.tensor(a) for a in _inputs(batch=6, size=9))
    value = losses.QueueInfoNCE(kernels.Cosine(0.07), block_size=2)(q, k, queue)
    qn, kn, un = (torch.nn.functional.normalize(t, dim=1) for t in (q, k, queue))
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ un.T], dim=1) / 0.07
    moco = torch.nn.functional.cross_entropy(logits, torch.zeros(6, dtype=torch.long))
    assert value.item() == pytest.approx(moco.item(), rel=1e-12)


@pytest.mark.parametrize(
    "kernel",
    [kernels.Cosine(0.2), kernels.StudentT(nu=3.0, s=0.5), LogitsOnly(kernels.Laplacian(0.5))],
    ids=["cosine", "student_t", "logits_only"],
)
def test_blockwise_equals_dense_for_many_chunk_sizes(kernel) -> None:
    q, k, queue = _inputs(batch=33, size=100, dim=16, seed=5)
    dense, (gq_dense, _, _) = _run(losses.QueueInfoNCE(kernel, path="dense"), q, k, queue)
    for chunk, backward in itertools.product((1, 7, 64, 100, 1000), ("fused", "recompute")):
        module = losses.QueueInfoNCE(kernel, block_size=chunk, backward=backward)
        value, (gq, _, _) = _run(module, q, k, queue)
        what = f"chunk {chunk}, {backward}"
        assert_close(value.item(), dense.item(), TIGHT, f"loss, {what}")
        assert_close(gq.grad.numpy(), gq_dense.grad.numpy(), TIGHT, f"dL/dq, {what}")


@pytest.mark.parametrize("path", ["dense", "fused_chunk3", "recompute_chunk3"])
@pytest.mark.parametrize(
    "kernel",
    [
        kernels.Cosine(0.3),
        kernels.StudentT(nu=2.0, s=0.7),
        kernels.KernelSum([kernels.Gaussian(0.4), kernels.Laplacian(0.5)]),
    ],
    ids=["cosine", "student_t", "kernel_sum"],
)
def test_gradcheck(kernel, path) -> None:
    q, k, queue = (torch.tensor(a) for a in _inputs(batch=4, size=6, dim=5, seed=2))
    module = losses.QueueInfoNCE(kernel, **PATHS[path])
    leaf = q.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: module(x, k, queue), (leaf,))


@pytest.mark.parametrize("path", list(PATHS))
def test_gradient_reaches_the_queries_only(path) -> None:
    q, k, queue = _inputs()
    module = losses.QueueInfoNCE(kernels.Laplacian(0.5), **PATHS[path])
    _, (gq, gk, gqueue) = _run(module, q, k, queue)
    assert gq.grad is not None and float(gq.grad.abs().sum()) > 0
    assert gk.grad is None, "the keys are constants: no gradient may reach them"
    assert gqueue.grad is None, "the queue is constant: no gradient may reach it"


@pytest.mark.parametrize("path", list(PATHS))
def test_other_keys_of_the_batch_are_not_negatives(path) -> None:
    q, k, queue = (torch.tensor(a) for a in _inputs(batch=6, size=5))
    module = losses.QueueInfoNCE(kernels.Cosine(0.2), **PATHS[path])
    whole = module(q, k, queue).item()
    one_by_one = np.mean([module(q[i : i + 1], k[i : i + 1], queue).item() for i in range(6)])
    assert whole == pytest.approx(one_by_one, rel=1e-12)
    # moving another row's key towards q_0 leaves row 0's term alone
    moved = k.clone()
    moved[1] = q[0]
    rows_after = [module(q[i : i + 1], moved[i : i + 1], queue).item() for i in range(6)]
    assert module(q, moved, queue).item() == pytest.approx(np.mean(rows_after), rel=1e-12)


@pytest.mark.parametrize("path", list(PATHS))
def test_empty_queue_gives_zero_loss_and_zero_gradient(path) -> None:
    # only the positive is a candidate: -l + log(exp(l)) = 0 for every kernel
    q, k, queue = _inputs(size=0)
    for kernel in (kernels.Cosine(0.2), kernels.StudentT(nu=5.0, s=0.2)):
        loss, (gq, _, _) = _run(losses.QueueInfoNCE(kernel, **PATHS[path]), q, k, queue)
        assert loss.item() == pytest.approx(0.0, abs=1e-12)
        assert float(gq.grad.abs().max()) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("path", list(PATHS))
def test_symmetric_pairs_each_view_with_the_other_views_keys(path) -> None:
    q1, k1, queue = _inputs(batch=4, seed=7)
    q2, k2, _ = _inputs(batch=4, seed=8)
    module = losses.QueueInfoNCE(kernels.Gaussian(0.4), symmetric=True, **PATHS[path])
    loss, (gq, _, _) = _run(module, np.vstack([q1, q2]), np.vstack([k1, k2]), queue)
    a, ga = ref.queue_infonce(q1, k2, queue, ref.RefGaussian(0.4))
    b, gb = ref.queue_infonce(q2, k1, queue, ref.RefGaussian(0.4))
    assert_close(loss.item(), (a + b) / 2, TIGHT, "loss")
    assert_close(gq.grad.numpy(), np.vstack([ga, gb]) / 2, TIGHT, "dL/dq")


class _RecordingKernel(kernels.Kernel):
    """Cosine logits; remembers the shape of every logit block it is asked for."""

    def __init__(self) -> None:
        self.inner = kernels.Cosine(0.2)
        self.shapes: list[tuple[int, int]] = []

    def logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self.shapes.append((a.shape[0], b.shape[0]))
        return self.inner.logits(a, b)


@pytest.mark.parametrize("backward, passes", [("fused", 1), ("recompute", 2)])
def test_blockwise_never_builds_a_batch_by_queue_matrix(backward, passes) -> None:
    # B = 256, K = 65,536: the automatic chunk keeps each logit block at the memory budget
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(256, 4, generator=generator, requires_grad=True)
    k, queue = torch.randn(256, 4, generator=generator), torch.randn(65536, 4, generator=generator)
    kernel = _RecordingKernel()
    losses.QueueInfoNCE(kernel, backward=backward)(q, k, queue).backward()
    widest = max(cols for _, cols in kernel.shapes)
    budget = losses.EngineOptions().rows_per_block(65536, 256)
    assert widest <= budget < 65536
    negatives = [cols for rows, cols in kernel.shapes if rows == 256 and cols != 256]
    assert sum(negatives) == passes * 65536  # passes over the queue, in budget-sized chunks


def test_half_precision_and_autocast_are_computed_in_float32() -> None:
    q, k, queue = (torch.tensor(a, dtype=torch.float32) for a in _inputs(batch=8, size=20))
    module = losses.QueueInfoNCE(kernels.StudentT(nu=5.0, s=0.2), block_size=6)
    full = module(q, k, queue).item()
    half = module(q.half(), k.half(), queue.half())
    assert half.dtype == torch.float32
    exact = module(q.half().float(), k.half().float(), queue.half().float()).item()
    assert half.item() == pytest.approx(exact, rel=1e-6)
    leaf = q.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = module(leaf, k, queue)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(full, rel=1e-6)
    value.backward()
    assert leaf.grad is not None and leaf.grad.dtype == torch.float32


def _bad_inputs():
    q, k, queue = (torch.tensor(a) for a in _inputs())
    nan_queue = queue.clone()
    nan_queue[2, 3] = float("nan")
    return {
        "q not a tensor": ((q.numpy(), k, queue), TypeError, "q must be a torch.Tensor"),
        "queue not 2-D": ((q, k, queue[0]), ValueError, "queue must be 2-D"),
        "q k shapes": ((q, k[:3], queue), ValueError, r"same shape, got \(5, 8\) and \(3, 8\)"),
        "queue width": ((q, k, queue[:, :4]), ValueError, "queue has dimension 4"),
        "integer keys": ((q, k.long(), queue), TypeError, "floating-point"),
        "no rows": ((q[:0], k[:0], queue), ValueError, "at least one row"),
        "nan in queue": ((q, k, nan_queue), ValueError, "queue has 1 non-finite"),
    }


@pytest.mark.parametrize("name", list(_bad_inputs()))
def test_bad_inputs_raise_clear_errors(name) -> None:
    args, error, message = _bad_inputs()[name]
    with pytest.raises(error, match=message):
        losses.QueueInfoNCE()(*args)


def test_bad_options_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="path must be"):
        losses.QueueInfoNCE(path="sparse")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="block_size"):
        losses.QueueInfoNCE(block_size=0)
    with pytest.raises(TypeError, match="symmetric"):
        losses.QueueInfoNCE(symmetric="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="normalize=False"):
        losses.QueueInfoNCE(kernels.Cosine(0.2), normalize=False)
    q, k, queue = (torch.tensor(a) for a in _inputs(batch=5))
    with pytest.raises(ValueError, match="even row count"):
        losses.QueueInfoNCE(symmetric=True)(q, k, queue)


# ----------------------------------------------------------------------------- two gloo ranks

WORLD = 2


def _gloo_worker(rank: int, port: int, folder: str) -> None:
    """Two MoCo steps on this rank's rows: loss, gradient, then its gathered keys enqueued."""
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=timedelta(seconds=60))
    try:
        data = np.load(Path(folder) / "inputs.npz")
        queue = losses.KeyQueue(capacity=10, dim=data["q"].shape[-1]).double()
        queue.enqueue(torch.tensor(data["start"]))
        module = losses.QueueInfoNCE(kernels.StudentT(nu=3.0, s=0.5), block_size=3)
        out: dict[str, torch.Tensor] = {}
        for step in range(2):
            rows = slice(rank * 4, (rank + 1) * 4)
            q = torch.tensor(data["q"][step, rows], requires_grad=True)
            k = torch.tensor(data["k"][step, rows])
            loss = module(q, k, queue.negatives())
            loss.backward()
            queue.enqueue(losses.gather_keys(k))
            out[f"loss{step}"], out[f"grad{step}"] = loss.detach(), q.grad
        out["queue"] = queue.negatives().clone()
        torch.save(out, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_ranks_equal_one_process_on_the_gathered_keys(tmp_path) -> None:
    rng = np.random.default_rng(11)
    q = rng.normal(size=(2, WORLD * 4, 6))
    k = q + 0.3 * rng.normal(size=q.shape)
    start = rng.normal(size=(3, 6))
    np.savez(tmp_path / "inputs.npz", q=q, k=k, start=start)
    context = mp.spawn(_gloo_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=False)
    deadline = time.monotonic() + 90
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the gloo processes did not finish within 90 s")
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    # one process on the whole batch: the queue holds the start keys, then all ranks' keys
    queue = start
    for step in range(2):
        loss, grad = ref.queue_infonce(q[step], k[step], queue, ref.RefStudentT(3.0, 0.5))
        rank_losses = [r[f"loss{step}"].item() for r in ranks]
        assert_close(np.mean(rank_losses), loss, TIGHT, f"step {step}: mean of rank losses")
        # each rank's mean is over its own rows: its gradient is W times the global one
        gathered = np.vstack([r[f"grad{step}"].numpy() for r in ranks])
        assert_close(gathered, WORLD * grad, TIGHT, f"step {step}: gradients")
        queue = np.vstack([queue, k[step]])[-10:]
    for r in ranks:
        # 3 + 8 = 11 keys into 10 slots: the oldest start key was overwritten first
        assert sorted(map(tuple, r["queue"].numpy())) == sorted(map(tuple, queue))


@pytest.mark.parametrize("path", list(PATHS))
def test_a_queued_copy_of_a_query_keeps_distances_finite(path) -> None:
    # |a|^2 + |c|^2 - 2 a.c of equal float32 rows of norm ~1000 rounds below zero; the distance
    # is clamped at 0 before the root, so the loss and its gradient stay finite
    generator = torch.Generator().manual_seed(4)
    q = (300 * torch.randn(16, 8, generator=generator)).requires_grad_(True)
    k = q.detach() + torch.randn(16, 8, generator=generator)
    queue = torch.cat([q.detach(), 300 * torch.randn(16, 8, generator=generator)])
    module = losses.QueueInfoNCE(kernels.Laplacian(50.0), normalize=False, **PATHS[path])
    loss = module(q, k, queue)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(q.grad).all()


@pytest.mark.parametrize(
    "make, ref_kernel",
    [
        (lambda: kernels.Laplacian(0.5), ref.RefLaplacian(0.5)),
        (lambda: kernels.StudentT(3.0, 0.5), ref.RefStudentT(3.0, 0.5)),
    ],
    ids=["laplacian", "student_t"],
)
@pytest.mark.parametrize("options", list(PATHS.values()), ids=list(PATHS))
def test_a_key_almost_equal_to_its_query_keeps_a_float32_gradient(make, ref_kernel, options):
    """MoCo's positive: a query and its own key from a key encoder that has barely moved (no
    augmentation, the first steps). ``|q|^2 + |k|^2 - 2 q.k`` in float32 then keeps no digit of
    a squared distance of 1e-8, and the Laplacian's gradient ``(q - k) / ||q - k||`` (a unit
    vector whatever the distance) came out of rounding noise; the pair's distance taken from
    its difference keeps it. The queue is far from the queries, as in a real queue."""
    rng = np.random.default_rng(3)
    q = rng.normal(size=(16, 8))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    k = q + 1e-4 * rng.normal(size=q.shape)
    queue = rng.normal(size=(12, 8))
    module = losses.QueueInfoNCE(make(), **options)
    loss, (gq, _, _) = _run(module, q, k, queue, dtype=torch.float32)
    want_loss, want_grad = ref.queue_infonce(q, k, queue, ref_kernel)
    assert loss.item() == pytest.approx(want_loss, rel=1e-4)
    np.testing.assert_allclose(gq.grad.numpy(), want_grad, rtol=1e-3, atol=1e-4)
