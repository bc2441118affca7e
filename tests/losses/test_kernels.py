"""The log-kernels of ``contrastlab.kernels`` against their formulas (NumPy, float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab import kernels

from . import reference as ref
from .cases import CASE_IDS, CASES, assert_close

KERNEL_CASES = [c for c in CASES if not c.name.startswith("concat_loss")]


def _rows(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim))


@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c.name for c in KERNEL_CASES])
def test_logits_of_prepared_rows(case) -> None:
    # rectangular (5 x 7) blocks of rows, prepared by the kernel's own normalisation
    x, y = _rows(5, 8, 70), _rows(7, 8, 71)
    kernel, reference_kernel = case.make(), case.make_ref()
    px = kernel.prepare(torch.tensor(x))
    py = kernel.prepare(torch.tensor(y))
    rx, _ = reference_kernel.prepare(x)
    ry, _ = reference_kernel.prepare(y)
    assert_close(px.numpy(), rx, 1e-14, "prepare")
    expected, _ = reference_kernel.logits(rx, ry)
    assert_close(kernel.logits(px, py).numpy(), expected, 1e-12, "logits")


@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c.name for c in KERNEL_CASES])
def test_pair_logits_are_the_references_diagonal(case) -> None:
    """``pair_logits(a, b)[i] = log K(a_i, b_i)``: mixtures and slices included (their weights
    and parts), against the diagonal of the float64 reference's logit matrix."""
    x, y = _rows(6, 8, 72), _rows(6, 8, 73)
    kernel, reference_kernel = case.make(), case.make_ref()
    px, py = kernel.prepare(torch.tensor(x)), kernel.prepare(torch.tensor(y))
    expected, _ = reference_kernel.logits(px.numpy(), py.numpy())
    assert_close(kernel.pair_logits(px, py).numpy(), np.diagonal(expected), 1e-12, "pairs")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_prepare_normalisation(case) -> None:
    z = _rows(6, 8, 72) * 3.0
    out = case.make().prepare(torch.tensor(z)).numpy()
    norms = np.linalg.norm(out, axis=1)
    kernel = case.make()
    kernel = getattr(kernel, "inner", kernel)  # a LogitsOnly wrapper normalises as its kernel
    if isinstance(kernel, (kernels.StudentT, kernels.Cauchy)):
        np.testing.assert_array_equal(out, z)  # t-SimCLR: no normalisation
    elif isinstance(kernel, kernels.InnerProduct):
        np.testing.assert_array_equal(out, z)  # the unnormalised inner product
    elif isinstance(kernel, kernels.Concat) and kernel.normalize == "parts":
        for lo, hi in zip(np.cumsum([0, *kernel.split[:-1]]), np.cumsum(kernel.split), strict=True):
            np.testing.assert_allclose(np.linalg.norm(out[:, lo:hi], axis=1), 1.0, rtol=1e-14)
    elif isinstance(kernel, kernels.KernelSum) and kernel.normalization == "none":
        np.testing.assert_array_equal(out, z)
    else:
        np.testing.assert_allclose(norms, 1.0, rtol=1e-14)


def test_eps_rule_at_zero_distance() -> None:
    # d = sqrt(max(|x|^2 + |y|^2 - 2 x.y, 0) + 1e-6): finite value and gradient at x == y
    x = torch.tensor(_rows(3, 4, 73), requires_grad=True)
    for kernel, at_zero in [
        (kernels.Laplacian(0.5), -np.sqrt(1e-6) / 0.5),
        (kernels.Exponential(gamma=0.5, t=0.5), -(1e-6**0.25) / 0.5),
    ]:
        logits = kernel.logits(x, x)
        np.testing.assert_allclose(np.diag(logits.detach().numpy()), at_zero, rtol=1e-6)
        (grad,) = torch.autograd.grad(logits.sum(), x)
        assert torch.isfinite(grad).all()
    assert kernels.EPS == 1e-6


@pytest.mark.parametrize(
    ("text", "reference_kernel"),
    [
        ("cosine:t=0.3", ref.RefCosine(0.3)),
        ("gaussian:t=0.7", ref.RefGaussian(0.7)),
        ("laplacian", ref.RefLaplacian(0.5)),
        ("exponential:gamma=1.5,t=0.2", ref.RefExponential(1.5, 0.2)),
        ("student_t:nu=5,s=0.2", ref.RefStudentT(5.0, 0.2)),
        ("cauchy:s=2", ref.RefCauchy(2.0)),
    ],
)
def test_parse_kernel(text, reference_kernel) -> None:
    x, y = _rows(4, 6, 74), _rows(5, 6, 75)
    kernel = kernels.parse_kernel(text)
    rx, _ = reference_kernel.prepare(x)
    ry, _ = reference_kernel.prepare(y)
    expected, _ = reference_kernel.logits(rx, ry)
    got = kernel.logits(torch.tensor(rx), torch.tensor(ry)).numpy()
    assert_close(got, expected, 1e-12, text)


def test_parse_kernel_takes_words_for_concat_mode_and_normalize() -> None:
    kernel = kernels.parse_kernel("concat:mode=loss,normalize=parts,dim=16")
    assert isinstance(kernel, kernels.Concat)
    assert (kernel.mode, kernel.normalize, tuple(kernel.split)) == ("loss", "parts", (8, 8))
    with pytest.raises(ValueError, match="mode"):
        kernels.parse_kernel("concat:mode=sideways")
    with pytest.raises(ValueError, match="t: 'hot' is not a number"):
        kernels.parse_kernel("cosine:t=hot")


def test_from_name_mixtures_default_to_the_papers_sums() -> None:
    x, y = _rows(4, 128, 76), _rows(5, 128, 77)
    simple_sum = kernels.from_name("kernel_sum")
    concat = kernels.from_name("concat")
    rx, _ = ref.l2_rows(x)
    ry, _ = ref.l2_rows(y)
    expected_sum, _ = ref.RefKernelSum([ref.RefGaussian(0.4), ref.RefLaplacian(0.5)]).logits(rx, ry)
    expected_concat, _ = ref.RefConcat(
        [ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [64, 64], "kernel"
    ).logits(rx, ry)
    assert_close(simple_sum.logits(torch.tensor(rx), torch.tensor(ry)).numpy(), expected_sum, 1e-12)
    assert_close(concat.logits(torch.tensor(rx), torch.tensor(ry)).numpy(), expected_concat, 1e-12)
