"""Shared test cases: each pairs a kernel of the code under test with its NumPy reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from contrastlab import kernels

from . import reference as ref

BATCH = 6
DIM = 8


class LogitsOnly(kernels.Kernel):
    """A user's own kernel, given only by ``logits`` (no elementwise form, ``form = None``).

    The loss engine then runs its autograd blockwise path (``logits`` differentiated block by
    block) instead of the Gram path; here the logits are those of ``inner``.
    """

    def __init__(self, inner: kernels.Kernel) -> None:
        self.inner = inner
        self.normalization = inner.normalization

    def logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.inner.logits(a, b)

    def __repr__(self) -> str:
        return f"LogitsOnly({self.inner!r})"


@dataclass(frozen=True)
class Case:
    """A kernel under test, its reference, and the ``KernelInfoNCE`` options to use."""

    name: str
    make: Callable[[], kernels.Kernel]
    make_ref: Callable[[], ref.RefKernel]
    normalize: bool | None = None


CASES: list[Case] = [
    Case("cosine", lambda: kernels.Cosine(0.2), lambda: ref.RefCosine(0.2)),
    Case("cosine_t07", lambda: kernels.Cosine(0.7), lambda: ref.RefCosine(0.7)),
    # the unnormalised inner product: raw rows, and forced onto the sphere (where it is Cosine)
    Case(
        "inner_product",
        lambda: kernels.InnerProduct(1.5),
        lambda: ref.RefInnerProduct(1.5),
    ),
    Case(
        "inner_product_l2",
        lambda: kernels.InnerProduct(0.3),
        lambda: ref.RefInnerProduct(0.3),
        normalize=True,
    ),
    Case("gaussian", lambda: kernels.Gaussian(0.4), lambda: ref.RefGaussian(0.4)),
    Case("laplacian", lambda: kernels.Laplacian(0.5), lambda: ref.RefLaplacian(0.5)),
    Case(
        "exponential_g05",
        lambda: kernels.Exponential(gamma=0.5, t=0.5),
        lambda: ref.RefExponential(0.5, 0.5),
    ),
    Case(
        "exponential_g15",
        lambda: kernels.Exponential(gamma=1.5, t=0.3),
        lambda: ref.RefExponential(1.5, 0.3),
    ),
    Case("student_t", lambda: kernels.StudentT(nu=5.0, s=0.2), lambda: ref.RefStudentT(5.0, 0.2)),
    Case(
        "student_t_nu2",
        lambda: kernels.StudentT(nu=2.0, s=1.5),
        lambda: ref.RefStudentT(2.0, 1.5),
    ),
    Case("cauchy", lambda: kernels.Cauchy(1.0), lambda: ref.RefCauchy(1.0)),
    Case(
        "kernel_sum",
        lambda: kernels.KernelSum([kernels.Gaussian(0.4), kernels.Laplacian(0.5)]),
        lambda: ref.RefKernelSum([ref.RefGaussian(0.4), ref.RefLaplacian(0.5)]),
    ),
    Case(
        "kernel_sum_weighted",
        lambda: kernels.KernelSum(
            [kernels.Cosine(0.3), kernels.Exponential(gamma=0.5, t=0.2)], weights=[0.3, 2.0]
        ),
        lambda: ref.RefKernelSum(
            [ref.RefCosine(0.3), ref.RefExponential(0.5, 0.2)], weights=[0.3, 2.0]
        ),
    ),
    Case(
        "kernel_sum_unnormalised",
        lambda: kernels.KernelSum([kernels.StudentT(nu=3.0, s=0.5), kernels.Cauchy(2.0)]),
        lambda: ref.RefKernelSum([ref.RefStudentT(3.0, 0.5), ref.RefCauchy(2.0)]),
    ),
    Case(
        "concat_kernel_whole",
        lambda: kernels.Concat(
            [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], split=[3, 5], mode="kernel"
        ),
        lambda: ref.RefConcat([ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [3, 5], "kernel"),
    ),
    Case(
        "concat_kernel_parts",
        lambda: kernels.Concat(
            [kernels.Laplacian(0.5), kernels.Gaussian(0.4)],
            split=[3, 5],
            mode="kernel",
            normalize="parts",
        ),
        lambda: ref.RefConcat(
            [ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [3, 5], "kernel", "parts"
        ),
    ),
    Case(
        "concat_loss_whole",
        lambda: kernels.Concat(
            [kernels.Exponential(gamma=1.0, t=0.3), kernels.Gaussian(0.4)],
            split=[4, 4],
            mode="loss",
            weights=[0.3, 0.7],
        ),
        lambda: ref.RefConcat(
            [ref.RefExponential(1.0, 0.3), ref.RefGaussian(0.4)],
            [4, 4],
            "loss",
            "whole",
            [0.3, 0.7],
        ),
    ),
    Case(
        "concat_loss_parts",
        lambda: kernels.Concat(
            [kernels.Laplacian(0.5), kernels.Gaussian(0.4)],
            split=[5, 3],
            mode="loss",
            normalize="parts",
        ),
        lambda: ref.RefConcat(
            [ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [5, 3], "loss", "parts"
        ),
    ),
    # kernels given only by their logits: the autograd blockwise engine, with the self pair
    Case(
        "logits_only_laplacian",
        lambda: LogitsOnly(kernels.Laplacian(0.5)),
        lambda: ref.RefLaplacian(0.5),
    ),
    Case(
        "logits_only_student_t",
        lambda: LogitsOnly(kernels.StudentT(nu=3.0, s=0.5)),
        lambda: ref.RefStudentT(3.0, 0.5),
    ),
    Case(
        "student_t_forced_l2",
        lambda: kernels.StudentT(nu=4.0, s=0.3),
        lambda: ref.RefStudentT(4.0, 0.3),
        normalize=True,
    ),
    Case(
        "gaussian_unnormalised",
        lambda: kernels.Gaussian(3.0),
        lambda: ref.RefGaussian(3.0),
        normalize=False,
    ),
    Case(
        "laplacian_unnormalised",
        lambda: kernels.Laplacian(2.0),
        lambda: ref.RefLaplacian(2.0),
        normalize=False,
    ),
]

CASE_IDS = [c.name for c in CASES]

# The six base kernels and the mixtures, for the tests that need one representative of each.
SIMPLE_CASES = [
    c
    for c in CASES
    if c.name
    in (
        "cosine",
        "inner_product",
        "gaussian",
        "laplacian",
        "exponential_g05",
        "student_t",
        "cauchy",
    )
]


def views(batch: int = BATCH, dim: int = DIM, seed: int = 0, noise: float = 0.4) -> tuple:
    """Two float64 views: ``z2`` is ``z1`` plus noise, so positives are nearer than negatives."""
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(batch, dim))
    z2 = z1 + noise * rng.normal(size=(batch, dim))
    return z1, z2


def run(module: torch.nn.Module, *arrays: np.ndarray, dtype: torch.dtype = torch.float64):
    """Evaluate a loss module on leaf tensors built from ``arrays``; returns the value and grads.

    Returns ``(loss: float, [grad: np.ndarray per input])``, all as float64 NumPy values.
    """
    leaves = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    loss = module(*leaves)
    assert loss.dim() == 0, f"the loss must be a scalar, got shape {tuple(loss.shape)}"
    assert loss.dtype == dtype, f"loss dtype {loss.dtype} for inputs of dtype {dtype}"
    loss.backward()
    return loss.item(), [leaf.grad.detach().double().numpy() for leaf in leaves]


def assert_close(actual: Any, expected: Any, rtol: float, what: str = "") -> None:
    """Relative agreement; arrays are compared with ``atol = rtol * max|expected|``."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)
