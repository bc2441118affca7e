"""Identities between kernels that `losses.md` and the kernel docstrings state."""

from __future__ import annotations

import numpy as np
import pytest

from contrastlab import kernels, losses

from . import reference as ref
from .cases import assert_close, run, views

TIGHT = 1e-12


@pytest.mark.parametrize("path", ["dense", "blockwise"])
@pytest.mark.parametrize("t", [0.1, 0.4, 1.3])
def test_gaussian_t_equals_cosine_half_t(t, path) -> None:
    z1, z2 = views(seed=20)
    gauss, (g1, g2) = run(
        losses.KernelInfoNCE(kernels.Gaussian(t), path=path, block_size=4), z1, z2
    )
    cos, (c1, c2) = run(
        losses.KernelInfoNCE(kernels.Cosine(t / 2), path=path, block_size=4), z1, z2
    )
    assert_close(gauss, cos, TIGHT, "loss")
    assert_close(g1, c1, TIGHT, "dL/dz1")
    assert_close(g2, c2, TIGHT, "dL/dz2")


@pytest.mark.parametrize("s", [0.3, 1.0, 4.0])
def test_student_t_nu1_equals_cauchy(s) -> None:
    z1, z2 = views(seed=21)
    st, (s1, s2) = run(losses.KernelInfoNCE(kernels.StudentT(nu=1.0, s=s)), z1, z2)
    ca, (c1, c2) = run(losses.KernelInfoNCE(kernels.Cauchy(s)), z1, z2)
    assert_close(st, ca, TIGHT, "loss")
    assert_close(s1, c1, TIGHT, "dL/dz1")
    assert_close(s2, c2, TIGHT, "dL/dz2")


def test_student_t_tends_to_gaussian_2s_as_nu_grows() -> None:
    # -(nu+1)/2 log1p(d^2/(nu s)) = -d^2/(2s) + O(1/nu): the gap shrinks about 10x per decade.
    z1, z2 = views(seed=22, noise=0.5)
    s = 0.7
    limit, (l1, l2) = run(losses.KernelInfoNCE(kernels.Gaussian(2 * s), normalize=False), z1, z2)
    assert_close(limit, ref.infonce(z1, z2, ref.RefGaussian(2 * s), normalize=False)[0], 1e-10)
    gaps = []
    for nu in (1e2, 1e3, 1e4, 1e5):
        value, (g1, g2) = run(losses.KernelInfoNCE(kernels.StudentT(nu=nu, s=s)), z1, z2)
        gaps.append(abs(value - limit))
        grad_gap = max(np.abs(g1 - l1).max(), np.abs(g2 - l2).max())
        assert grad_gap < 30.0 / nu * max(np.abs(l1).max(), np.abs(l2).max())
    ratios = np.array(gaps[:-1]) / np.array(gaps[1:])
    assert np.all((ratios > 5) & (ratios < 20)), f"gaps {gaps} do not shrink like 1/nu"
    assert gaps[-1] < 1e-4 * abs(limit)


def test_exponential_gamma2_is_gaussian_and_gamma1_is_laplacian() -> None:
    z1, z2 = views(seed=23)
    for exp_kernel, other in [
        (kernels.Exponential(gamma=2.0, t=0.3), kernels.Gaussian(0.3)),
        (kernels.Exponential(gamma=1.0, t=0.3), kernels.Laplacian(0.3)),
    ]:
        a, (a1, a2) = run(losses.KernelInfoNCE(exp_kernel), z1, z2)
        b, (b1, b2) = run(losses.KernelInfoNCE(other), z1, z2)
        assert_close(a, b, TIGHT, f"{exp_kernel} loss")
        assert_close(a1, b1, 1e-10, f"{exp_kernel} dL/dz1")
        assert_close(a2, b2, 1e-10, f"{exp_kernel} dL/dz2")


def test_kernel_sum_differs_from_loss_sum() -> None:
    # Simple Sum inside one softmax (the paper) versus a sum of two losses (the official code).
    z1, z2 = views(seed=24)
    gauss, lap = kernels.Gaussian(0.4), kernels.Laplacian(0.5)
    one_softmax, (k1, _) = run(losses.KernelInfoNCE(kernels.KernelSum([gauss, lap])), z1, z2)
    two_losses, (s1, _) = run(losses.LossSum([(gauss, 1.0), (lap, 1.0)]), z1, z2)
    ref_k = ref.infonce(z1, z2, ref.RefKernelSum([ref.RefGaussian(0.4), ref.RefLaplacian(0.5)]))
    ref_s = ref.loss_sum(z1, z2, [(ref.RefGaussian(0.4), 1.0), (ref.RefLaplacian(0.5), 1.0)])
    assert_close(one_softmax, ref_k[0], 1e-10)
    assert_close(two_losses, ref_s[0], 1e-10)
    assert abs(one_softmax - two_losses) > 0.1 * abs(two_losses)
    assert np.abs(k1 - s1).max() > 0.1 * np.abs(s1).max()
    # and not merely by a factor: half-weight LossSum differs too
    halves, _ = run(losses.LossSum([(gauss, 0.5), (lap, 0.5)]), z1, z2)
    assert abs(one_softmax - halves) > 1e-2 * abs(halves)


@pytest.mark.parametrize("mode", ["kernel", "loss"])
def test_concat_whole_differs_from_parts(mode) -> None:
    z1, z2 = views(seed=25)
    parts = [kernels.Laplacian(0.5), kernels.Gaussian(0.4)]
    ref_parts = [ref.RefLaplacian(0.5), ref.RefGaussian(0.4)]
    values = {}
    for normalize in ("whole", "parts"):
        kernel = kernels.Concat(parts, split=[3, 5], mode=mode, normalize=normalize)
        values[normalize], _ = run(losses.KernelInfoNCE(kernel), z1, z2)
        expected = ref.infonce(z1, z2, ref.RefConcat(ref_parts, [3, 5], mode, normalize))[0]
        assert_close(values[normalize], expected, 1e-10, normalize)
    assert abs(values["whole"] - values["parts"]) > 1e-2 * abs(values["parts"])


def test_concat_kernel_mode_differs_from_loss_mode() -> None:
    z1, z2 = views(seed=26)
    parts = [kernels.Laplacian(0.5), kernels.Gaussian(0.4)]
    in_one, _ = run(losses.KernelInfoNCE(kernels.Concat(parts, [4, 4], mode="kernel")), z1, z2)
    summed, _ = run(losses.KernelInfoNCE(kernels.Concat(parts, [4, 4], mode="loss")), z1, z2)
    assert abs(in_one - summed) > 1e-2 * abs(summed)
