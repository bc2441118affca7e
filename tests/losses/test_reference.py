"""The NumPy references' hand-derived gradients agree with central finite differences.

These tests check the test oracle itself (no code under test is involved), so a wrong analytic
gradient in ``reference.py`` cannot make the comparisons with the loss engine pass or fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from . import reference as ref
from .cases import CASE_IDS, CASES, views

FD_RTOL = 1e-6


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_infonce_reference_gradient_matches_finite_differences(case) -> None:
    z1, z2 = views(batch=3, seed=1)
    kernel = case.make_ref()
    _, g1, g2, _ = ref.infonce(z1, z2, kernel, case.normalize)
    fd1 = ref.numeric_gradient(lambda x: ref.infonce(x, z2, kernel, case.normalize)[0], z1)
    fd2 = ref.numeric_gradient(lambda x: ref.infonce(z1, x, kernel, case.normalize)[0], z2)
    scale = max(np.abs(fd1).max(), np.abs(fd2).max())
    np.testing.assert_allclose(g1, fd1, rtol=FD_RTOL, atol=FD_RTOL * scale)
    np.testing.assert_allclose(g2, fd2, rtol=FD_RTOL, atol=FD_RTOL * scale)


def test_infonce_reference_matches_explicit_sum_for_cosine() -> None:
    # NT-Xent written out pair by pair, with exp/log and no shared code with reference.infonce.
    z1, z2 = views(batch=4, seed=2)
    t = 0.3
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n, batch = len(z), len(z1)
    total = 0.0
    for i in range(n):
        pos = (i + batch) % n
        denom = sum(np.exp(z[i] @ z[j] / t) for j in range(n) if j != i)
        total += -np.log(np.exp(z[i] @ z[pos] / t) / denom)
    assert ref.infonce(z1, z2, ref.RefCosine(t))[0] == pytest.approx(total / n, rel=1e-13)


def test_loss_sum_reference_gradient_matches_finite_differences() -> None:
    z1, z2 = views(batch=3, seed=3)
    terms = [(ref.RefExponential(1.0, 0.3), 0.4), (ref.RefGaussian(0.2), 0.6)]
    _, g1, _ = ref.loss_sum(z1, z2, terms)
    fd1 = ref.numeric_gradient(lambda x: ref.loss_sum(x, z2, terms)[0], z1)
    np.testing.assert_allclose(g1, fd1, rtol=FD_RTOL, atol=FD_RTOL * np.abs(fd1).max())


@pytest.mark.parametrize(
    "kernel",
    [ref.RefCosine(0.2), ref.RefLaplacian(0.5), ref.RefCauchy(1.0)],
    ids=["cosine", "laplacian", "cauchy"],
)
def test_clip_reference_gradient_matches_finite_differences(kernel) -> None:
    a, b = views(batch=4, seed=4)
    _, ga, gb = ref.clip(a, b, kernel)
    fda = ref.numeric_gradient(lambda x: ref.clip(x, b, kernel)[0], a)
    fdb = ref.numeric_gradient(lambda x: ref.clip(a, x, kernel)[0], b)
    np.testing.assert_allclose(ga, fda, rtol=FD_RTOL, atol=FD_RTOL * np.abs(fda).max())
    np.testing.assert_allclose(gb, fdb, rtol=FD_RTOL, atol=FD_RTOL * np.abs(fdb).max())


@pytest.mark.parametrize(
    "kernel",
    [
        ref.RefCosine(0.2),
        ref.RefInnerProduct(1.5),
        ref.RefLaplacian(0.5),
        ref.RefConcat([ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [4, 4], "loss"),
    ],
    ids=["cosine", "inner_product", "laplacian", "concat_loss"],
)
def test_clip_reference_log_scale_slope_matches_finite_differences(kernel) -> None:
    a, b = views(batch=4, seed=6)
    step, scale = 1e-5, 2.5
    slope = ref.clip_log_scale_slope(a, b, kernel, scale=scale)
    up = ref.clip(a, b, kernel, scale=scale * np.exp(step))[0]
    down = ref.clip(a, b, kernel, scale=scale * np.exp(-step))[0]
    assert slope == pytest.approx((up - down) / (2 * step), rel=FD_RTOL)


def test_soft_target_reference_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(size=(5, 3))
    p = rng.random((5, 5))
    np.fill_diagonal(p, 0.0)
    p /= p.sum(axis=1, keepdims=True)
    kernel = ref.RefCauchy(1.0)
    _, g = ref.soft_target(z, p, kernel)
    fd = ref.numeric_gradient(lambda x: ref.soft_target(x, p, kernel)[0], z)
    np.testing.assert_allclose(g, fd, rtol=FD_RTOL, atol=FD_RTOL * np.abs(fd).max())
