"""KernelInfoNCE and LossSum against the float64 NumPy references of `losses.md`.

Every kernel and mixture, on the dense path and on the blockwise path with both backward
strategies: loss and gradients wrt ``z1`` and ``z2`` to 1e-10 in float64 and 1e-5 (relative) in
float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab import kernels, losses

from . import reference as ref
from .cases import CASE_IDS, CASES, assert_close, run, views

PATHS = {
    "dense": dict(path="dense"),
    "blockwise_fused": dict(path="blockwise", block_size=5, backward="fused"),
    "blockwise_recompute": dict(path="blockwise", block_size=5, backward="recompute"),
    "auto": dict(),
}
F64_RTOL = 1e-10
F32_RTOL = 1e-5


@pytest.mark.parametrize("path", list(PATHS), ids=list(PATHS))
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float64_matches_reference(case, path) -> None:
    z1, z2 = views(seed=10)
    expected, e1, e2, _ = ref.infonce(z1, z2, case.make_ref(), case.normalize)
    module = losses.KernelInfoNCE(case.make(), normalize=case.normalize, **PATHS[path])
    value, (g1, g2) = run(module, z1, z2)
    assert_close(value, expected, F64_RTOL, "loss")
    assert_close(g1, e1, F64_RTOL, "dL/dz1")
    assert_close(g2, e2, F64_RTOL, "dL/dz2")


@pytest.mark.parametrize("path", ["dense", "blockwise_fused", "blockwise_recompute"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float32_matches_reference(case, path) -> None:
    z1, z2 = views(batch=16, dim=8, seed=11)
    # the reference sees exactly the float32 inputs, computed in float64
    z1, z2 = z1.astype(np.float32), z2.astype(np.float32)
    expected, e1, e2, _ = ref.infonce(
        z1.astype(np.float64), z2.astype(np.float64), case.make_ref(), case.normalize
    )
    module = losses.KernelInfoNCE(case.make(), normalize=case.normalize, **PATHS[path])
    value, (g1, g2) = run(module, z1, z2, dtype=torch.float32)
    assert_close(value, expected, F32_RTOL, "loss")
    assert_close(g1, e1, F32_RTOL, "dL/dz1")
    assert_close(g2, e2, F32_RTOL, "dL/dz2")


@pytest.mark.parametrize("path", ["dense", "blockwise_fused", "blockwise_recompute"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_loss_sum_matches_reference(path, dtype) -> None:
    z1, z2 = views(seed=12)
    z1, z2 = (z1, z2) if dtype == torch.float64 else (z1.astype(np.float32), z2.astype(np.float32))
    rtol = F64_RTOL if dtype == torch.float64 else F32_RTOL
    module = losses.LossSum(
        [(kernels.Exponential(gamma=1.0, t=0.1), 0.5), (kernels.Gaussian(t=0.1), 0.5)],
        **PATHS[path],
    )
    expected, e1, e2 = ref.loss_sum(
        z1.astype(np.float64),
        z2.astype(np.float64),
        [(ref.RefExponential(1.0, 0.1), 0.5), (ref.RefGaussian(0.1), 0.5)],
    )
    value, (g1, g2) = run(module, z1, z2, dtype=dtype)
    assert_close(value, expected, rtol, "loss")
    assert_close(g1, e1, rtol, "dL/dz1")
    assert_close(g2, e2, rtol, "dL/dz2")


def test_loss_sum_mixed_normalisations_and_weights() -> None:
    # each term keeps its own kernel's normalisation: L2 for Laplacian, none for Cauchy
    z1, z2 = views(seed=13)
    terms = [(kernels.Laplacian(0.3), 0.25), (kernels.Cauchy(2.0), 1.5)]
    expected, e1, e2 = ref.loss_sum(
        z1, z2, [(ref.RefLaplacian(0.3), 0.25), (ref.RefCauchy(2.0), 1.5)]
    )
    value, (g1, g2) = run(losses.LossSum(terms, path="dense"), z1, z2)
    assert_close(value, expected, F64_RTOL, "loss")
    assert_close(g1, e1, F64_RTOL, "dL/dz1")
    assert_close(g2, e2, F64_RTOL, "dL/dz2")


@pytest.mark.parametrize(
    ("name", "reference_kernel"),
    [
        ("cosine", ref.RefCosine(0.2)),  # documented defaults of kernels.py
        ("laplacian", ref.RefLaplacian(0.5)),
        ("student_t", ref.RefStudentT(5.0, 0.2)),
        ("cauchy", ref.RefCauchy(1.0)),
    ],
)
def test_kernel_given_by_name(name, reference_kernel) -> None:
    z1, z2 = views(seed=14)
    expected, e1, _, _ = ref.infonce(z1, z2, reference_kernel)
    value, (g1, _) = run(losses.KernelInfoNCE(name), z1, z2)
    assert_close(value, expected, F64_RTOL, "loss")
    assert_close(g1, e1, F64_RTOL, "dL/dz1")


def test_default_kernel_is_cosine_t02() -> None:
    z1, z2 = views(seed=15)
    expected = ref.infonce(z1, z2, ref.RefCosine(0.2))[0]
    value, _ = run(losses.KernelInfoNCE(), z1, z2)
    assert_close(value, expected, F64_RTOL, "loss")


def test_loss_is_symmetric_in_the_views_and_invariant_to_row_order() -> None:
    z1, z2 = views(seed=16)
    module = losses.KernelInfoNCE(kernels.Laplacian(0.5), path="dense")
    base, _ = run(module, z1, z2)
    swapped, _ = run(module, z2, z1)
    perm = np.random.default_rng(0).permutation(len(z1))
    permuted, _ = run(module, z1[perm], z2[perm])
    assert swapped == pytest.approx(base, rel=1e-12)
    assert permuted == pytest.approx(base, rel=1e-12)


def test_collapsed_positive_pairs_have_finite_gradients() -> None:
    # z1 == z2: every positive pair is at distance 0; the eps rule keeps d's gradient finite.
    z1, _ = views(seed=17)
    for kernel, reference_kernel in [
        (kernels.Laplacian(0.5), ref.RefLaplacian(0.5)),
        (kernels.Exponential(gamma=0.5, t=0.5), ref.RefExponential(0.5, 0.5)),
    ]:
        for path in ("dense", "blockwise_fused", "blockwise_recompute"):
            value, (g1, g2) = run(losses.KernelInfoNCE(kernel, **PATHS[path]), z1, z1.copy())
            expected, e1, e2, _ = ref.infonce(z1, z1.copy(), reference_kernel)
            assert np.isfinite(g1).all() and np.isfinite(g2).all()
            assert_close(value, expected, F64_RTOL, f"{kernel} {path} loss")
            assert_close(g1, e1, F64_RTOL, f"{kernel} {path} dL/dz1")
            assert_close(g2, e2, F64_RTOL, f"{kernel} {path} dL/dz2")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("path", ["dense", "blockwise_fused", "blockwise_recompute"])
@pytest.mark.parametrize(
    ("kernel", "reference_kernel"),
    [
        # logits up to 1/t = 200: exp overflows float32 unless the softmax is taken in log space
        (kernels.Cosine(0.005), ref.RefCosine(0.005)),
        # logits down to -4/t = -4000: exp underflows to 0 for every candidate
        (kernels.Gaussian(0.001), ref.RefGaussian(0.001)),
        (kernels.Laplacian(0.002), ref.RefLaplacian(0.002)),
    ],
    ids=["cosine_t0.005", "gaussian_t0.001", "laplacian_t0.002"],
)
def test_extreme_temperatures_stay_exact(kernel, reference_kernel, path, dtype) -> None:
    z1, z2 = views(seed=18, noise=1.5)  # positives not much nearer: a non-trivial softmax
    if dtype == torch.float32:
        z1, z2 = z1.astype(np.float32), z2.astype(np.float32)
    expected, e1, e2, _ = ref.infonce(
        z1.astype(np.float64), z2.astype(np.float64), reference_kernel
    )
    value, (g1, g2) = run(losses.KernelInfoNCE(kernel, **PATHS[path]), z1, z2, dtype=dtype)
    # float32 logits of size ~1/t carry an absolute rounding error ~2^-24 / t (about 1e-5 here),
    # which moves the loss and the softmax weights by as much: float32 is compared at 1e-3.
    rtol = F64_RTOL if dtype == torch.float64 else 1e-3
    assert np.isfinite(value) and np.isfinite(g1).all() and np.isfinite(g2).all()
    assert_close(value, expected, rtol, "loss")
    assert_close(g1, e1, rtol, "dL/dz1")
    assert_close(g2, e2, rtol, "dL/dz2")


@pytest.mark.parametrize("path", ["dense", "blockwise_fused", "blockwise_recompute"])
def test_no_grad_and_non_contiguous_inputs(path) -> None:
    # evaluation without autograd, and inputs that are strided views, give the same numbers
    z1, z2 = views(seed=19)
    expected = ref.infonce(z1, z2, ref.RefLaplacian(0.5))[0]
    module = losses.KernelInfoNCE(kernels.Laplacian(0.5), **PATHS[path])
    with torch.no_grad():
        value = module(torch.tensor(z1), torch.tensor(z2))
    assert not value.requires_grad
    assert_close(value.item(), expected, F64_RTOL, "no_grad loss")
    wide1 = torch.tensor(np.ascontiguousarray(z1.T)).T  # column-major view of z1
    wide2 = torch.tensor(np.repeat(z2, 2, axis=1))[:, ::2]  # every other column
    assert not wide1.is_contiguous() and not wide2.is_contiguous()
    assert_close(module(wide1, wide2).item(), expected, F64_RTOL, "strided inputs")


def test_gather_requested_without_a_process_group_is_the_local_loss() -> None:
    # gather_distributed=True outside torch.distributed: nothing to gather, same numbers
    z1, z2 = views(seed=27)
    expected, e1, e2, _ = ref.infonce(z1, z2, ref.RefCosine(0.2))
    for flag in (True, False, None):
        value, (g1, g2) = run(losses.KernelInfoNCE(gather_distributed=flag), z1, z2)
        assert_close(value, expected, F64_RTOL, f"gather_distributed={flag}")
        assert_close(g1, e1, F64_RTOL, f"gather_distributed={flag} dL/dz1")
        assert_close(g2, e2, F64_RTOL, f"gather_distributed={flag} dL/dz2")
