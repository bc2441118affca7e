"""Property-based checks (hypothesis) of the kernels and losses over their documented ranges.

Random batch sizes, dimensions, input scales and kernel parameters (inside the ranges the
kernels' docstrings give): the loss and its gradients are finite and match the float64
reference of ``losses.md``; the dense and blockwise paths agree for any block size and backward
strategy; the loss does not depend on the order of the pairs in the batch, nor (for kernels that
L2-normalise) on the length of each row. Examples are few and tiny, and derandomised so that CI
sees the same ones every run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from contrastlab import kernels, losses

from . import reference as ref
from .cases import LogitsOnly, run

PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)
# Random inputs include nearly collapsed pairs, where kernels with a root of d^2 + eps amplify the
# rounding of d^2 by up to 1 / eps: gradients of two exact computations then differ by ~1e-10.
GRAD_RTOL = 1e-8
LOSS_RTOL = 1e-10


@dataclass(frozen=True)
class Drawn:
    """A kernel of the code under test with its reference, and whether it L2-normalises."""

    label: str
    make: Callable[[], kernels.Kernel]
    make_ref: Callable[[], ref.RefKernel]
    normalised: bool
    dim: int | None = None  # the embedding dimension the kernel needs (Concat's split)


def _temperature(low: float = 0.05, high: float = 2.0) -> st.SearchStrategy[float]:
    # log-uniform over [low, high]
    return st.floats(math.log(low), math.log(high)).map(math.exp)


@st.composite
def simple_kernels(draw: st.DrawFn) -> Drawn:
    """One of the base kernels with parameters in its documented range."""
    name = draw(
        st.sampled_from(
            ["cosine", "inner_product", "gaussian", "laplacian", "exponential", "student_t"]
            + ["cauchy"]
        )
    )
    if name == "cosine":
        t = draw(_temperature())
        return Drawn(f"Cosine({t})", lambda: kernels.Cosine(t), lambda: ref.RefCosine(t), True)
    if name == "inner_product":
        t = draw(_temperature(0.5, 5.0))
        return Drawn(
            f"InnerProduct({t})",
            lambda: kernels.InnerProduct(t),
            lambda: ref.RefInnerProduct(t),
            False,
        )
    if name == "gaussian":
        t = draw(_temperature(0.05, 4.0))
        return Drawn(
            f"Gaussian({t})", lambda: kernels.Gaussian(t), lambda: ref.RefGaussian(t), True
        )
    if name == "laplacian":
        t = draw(_temperature())
        return Drawn(
            f"Laplacian({t})", lambda: kernels.Laplacian(t), lambda: ref.RefLaplacian(t), True
        )
    if name == "exponential":
        gamma = draw(st.floats(0.1, 2.0))  # 0 < gamma <= 2
        t = draw(_temperature())
        return Drawn(
            f"Exponential({gamma}, {t})",
            lambda: kernels.Exponential(gamma=gamma, t=t),
            lambda: ref.RefExponential(gamma, t),
            True,
        )
    if name == "student_t":
        nu = draw(_temperature(0.5, 50.0))
        s = draw(_temperature(0.05, 5.0))
        return Drawn(
            f"StudentT({nu}, {s})",
            lambda: kernels.StudentT(nu=nu, s=s),
            lambda: ref.RefStudentT(nu, s),
            False,
        )
    s = draw(_temperature(0.05, 5.0))
    return Drawn(f"Cauchy({s})", lambda: kernels.Cauchy(s), lambda: ref.RefCauchy(s), False)


@st.composite
def mixtures(draw: st.DrawFn) -> Drawn:
    """``KernelSum`` of two L2-normalised kernels with random weights."""
    parts = [draw(simple_kernels().filter(lambda k: k.normalised)) for _ in range(2)]
    weights = [draw(_temperature(0.1, 10.0)) for _ in parts]
    return Drawn(
        f"KernelSum({[p.label for p in parts]}, {weights})",
        lambda: kernels.KernelSum([p.make() for p in parts], weights),
        lambda: ref.RefKernelSum([p.make_ref() for p in parts], weights),
        True,
    )


@st.composite
def logits_only(draw: st.DrawFn) -> Drawn:
    """A base kernel hidden behind its ``logits`` (the autograd blockwise engine)."""
    inner = draw(simple_kernels())
    return Drawn(
        f"LogitsOnly({inner.label})",
        lambda: LogitsOnly(inner.make()),
        inner.make_ref,
        inner.normalised,
    )


@st.composite
def concats(draw: st.DrawFn, dim: int) -> Drawn:
    """``Concat`` of two kernels on a random split of ``dim`` columns, any mode and norm."""
    parts = [draw(simple_kernels()) for _ in range(2)]
    first = draw(st.integers(1, dim - 1))
    split = [first, dim - first]
    mode = draw(st.sampled_from(["kernel", "loss"]))
    normalize = draw(st.sampled_from(["whole", "parts"]))
    return Drawn(
        f"Concat({[p.label for p in parts]}, {split}, {mode}, {normalize})",
        lambda: kernels.Concat([p.make() for p in parts], split, mode, normalize),
        lambda: ref.RefConcat([p.make_ref() for p in parts], split, mode, normalize),
        True,
        dim,
    )


any_kernel = st.one_of(
    simple_kernels(),
    simple_kernels(),
    mixtures(),
    logits_only(),
    st.integers(2, 6).flatmap(concats),
)


@st.composite
def batches(draw: st.DrawFn, kernel: Drawn) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 views: B in [2, 6], d in [1, 6], a random overall scale, sometimes collapsed.

    Kernels that use the rows as they are see scales in [0.1, 10]; normalised ones see any
    scale in [1e-3, 1e3] (normalisation removes it).
    """
    batch = draw(st.integers(2, 6))
    dim = kernel.dim or draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    low, high = (1e-3, 1e3) if kernel.normalised else (0.1, 10.0)
    scale = draw(st.floats(math.log(low), math.log(high)).map(math.exp))
    noise = draw(st.sampled_from([0.0, 0.1, 1.0, 3.0]))  # 0: every positive pair collapsed
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(batch, dim))
    z2 = z1 + noise * rng.normal(size=(batch, dim))
    return scale * z1, scale * z2


def _close(actual: object, expected: object, rtol: float, what: str, *rows: np.ndarray) -> None:
    """``assert_close``, with an absolute floor of rounding size for gradients that vanish.

    With d = 1 the sphere is two points and the gradient of a normalised kernel is exactly 0;
    the computed one is rounding noise of the order of the gradient scale, here bounded by
    ``1 / |z| + |z|`` over the rows ``rows`` of the inputs.
    """
    norms = np.concatenate([np.linalg.norm(z, axis=1) for z in rows]) if rows else np.ones(1)
    floor = 1e-13 * (1.0 / norms.min() + norms.max())
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        expected,
        rtol=rtol,
        atol=rtol * scale + floor,
        err_msg=what,
    )


def _loss_close(
    actual: float, expected: float, what: str, kernel: Drawn, *rows: np.ndarray
) -> None:
    """Relative agreement, with an absolute floor of the rounding of the logits: the loss is a
    difference of log-sum-exps of the size of the largest logit (``e^2`` at most for CLIP's
    learnable scale here), so a loss near 0 keeps only that absolute precision."""
    reference = kernel.make_ref()
    u, _ = reference.prepare(np.concatenate(rows))
    if isinstance(reference, ref.RefConcat):
        largest = max(float(np.abs(v).max()) for v, _ in reference.slice_logits(u, u))
    else:
        largest = float(np.abs(reference.logits(u, u)[0]).max())
    floor = 1e-13 * (1.0 + math.e**2 * largest)
    assert math.isclose(actual, expected, rel_tol=LOSS_RTOL, abs_tol=floor), (
        what,
        actual,
        expected,
    )


def _assert_finite(value: float, grads: list[np.ndarray]) -> None:
    assert math.isfinite(value), value
    for g in grads:
        assert np.isfinite(g).all(), g


@PROPERTY_SETTINGS
@given(data=st.data(), kernel=any_kernel)
def test_infonce_is_finite_and_matches_the_reference(data, kernel) -> None:
    z1, z2 = inputs = data.draw(batches(kernel))
    value, (g1, g2) = run(losses.KernelInfoNCE(kernel.make(), path="dense"), z1, z2)
    _assert_finite(value, [g1, g2])
    expected, e1, e2, _ = ref.infonce(z1, z2, kernel.make_ref())
    _loss_close(value, expected, f"{kernel.label} loss", kernel, *inputs)
    _close(g1, e1, GRAD_RTOL, f"{kernel.label} dL/dz1", *inputs)
    _close(g2, e2, GRAD_RTOL, f"{kernel.label} dL/dz2", *inputs)


@PROPERTY_SETTINGS
@given(data=st.data(), kernel=any_kernel, backward=st.sampled_from(["fused", "recompute"]))
def test_blockwise_equals_dense_for_any_block_size(data, kernel, backward) -> None:
    z1, z2 = inputs = data.draw(batches(kernel))
    block = data.draw(st.integers(1, 2 * len(z1) + 1))
    dense, (d1, d2) = run(losses.KernelInfoNCE(kernel.make(), path="dense"), z1, z2)
    module = losses.KernelInfoNCE(
        kernel.make(), path="blockwise", block_size=block, backward=backward
    )
    value, (b1, b2) = run(module, z1, z2)
    _loss_close(value, dense, f"{kernel.label} block {block} loss", kernel, *inputs)
    _close(b1, d1, GRAD_RTOL, f"{kernel.label} block {block} dL/dz1", *inputs)
    _close(b2, d2, GRAD_RTOL, f"{kernel.label} block {block} dL/dz2", *inputs)


@PROPERTY_SETTINGS
@given(data=st.data(), kernel=any_kernel)
def test_infonce_ignores_the_order_of_the_pairs_and_of_the_views(data, kernel) -> None:
    z1, z2 = inputs = data.draw(batches(kernel))
    perm = np.asarray(data.draw(st.permutations(range(len(z1)))))
    module = losses.KernelInfoNCE(kernel.make())
    base, (g1, g2) = run(module, z1, z2)
    permuted, (p1, p2) = run(module, z1[perm], z2[perm])
    _loss_close(permuted, base, "permuted pairs", kernel, *inputs)
    _close(p1, g1[perm], GRAD_RTOL, "permuted dL/dz1", *inputs)
    _close(p2, g2[perm], GRAD_RTOL, "permuted dL/dz2", *inputs)
    swapped, (s2, s1) = run(module, z2, z1)
    _loss_close(swapped, base, "swapped views", kernel, *inputs)
    _close(s1, g1, GRAD_RTOL, "swapped dL/dz1", *inputs)
    _close(s2, g2, GRAD_RTOL, "swapped dL/dz2", *inputs)


@PROPERTY_SETTINGS
@given(data=st.data(), kernel=any_kernel.filter(lambda k: k.normalised))
def test_normalised_kernels_ignore_the_length_of_each_row(data, kernel) -> None:
    # u = z / |z|: scaling row i by c_i > 0 leaves the loss alone and divides its gradient by c_i
    z1, z2 = inputs = data.draw(batches(kernel))
    exponents = st.floats(-3.0, 3.0)
    c1 = 10.0 ** np.array(data.draw(st.lists(exponents, min_size=len(z1), max_size=len(z1))))
    c2 = 10.0 ** np.array(data.draw(st.lists(exponents, min_size=len(z2), max_size=len(z2))))
    module = losses.KernelInfoNCE(kernel.make())
    base, (g1, g2) = run(module, z1, z2)
    scaled, (s1, s2) = run(module, z1 * c1[:, None], z2 * c2[:, None])
    _loss_close(scaled, base, f"{kernel.label} loss", kernel, *inputs)
    _close(s1 * c1[:, None], g1, GRAD_RTOL, f"{kernel.label} dL/dz1", *inputs)
    _close(s2 * c2[:, None], g2, GRAD_RTOL, f"{kernel.label} dL/dz2", *inputs)


@PROPERTY_SETTINGS
@given(data=st.data(), kernel=any_kernel, path=st.sampled_from(["dense", "blockwise"]))
def test_float32_is_finite_and_close_to_float64(data, kernel, path) -> None:
    z1, z2 = (z.astype(np.float32) for z in data.draw(batches(kernel)))
    module = losses.KernelInfoNCE(kernel.make(), path=path)
    value, grads = run(module, z1, z2, dtype=torch.float32)
    _assert_finite(value, grads)
    if np.array_equal(z1, z2):
        # collapsed pairs: float32's d^2 = |x|^2 + |y|^2 - 2 x.y near 0 is off by ~1e-7, a tenth
        # of eps, which a small gamma (d^2 + eps)^(gamma / 2) turns into ~1e-3 of the loss
        return
    expected, _ = run(module, z1.astype(np.float64), z2.astype(np.float64))
    assert math.isclose(value, expected, rel_tol=1e-3, abs_tol=1e-4), (value, expected)


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    kernel=simple_kernels(),
    backward=st.sampled_from(["fused", "recompute"]),
    log_scale=st.floats(-2.0, 2.0),
)
def test_learnable_clip_paths_agree_and_ignore_the_order_of_the_pairs(
    data, kernel, backward, log_scale
) -> None:
    a, b = inputs = data.draw(batches(kernel))
    block = data.draw(st.integers(1, len(a) + 1))

    def module(**options: object) -> torch.nn.Module:
        clip = losses.KernelCLIPLoss(kernel.make(), learnable_temperature=True, **options)
        clip = clip.double()
        with torch.no_grad():
            clip.logit_scale.fill_(log_scale)
        return clip

    dense_clip = module(path="dense")
    dense, (da, db) = run(dense_clip, a, b)
    blockwise_clip = module(path="blockwise", block_size=block, backward=backward)
    value, (ga, gb) = run(blockwise_clip, a, b)
    _assert_finite(value, [ga, gb])
    _loss_close(value, dense, f"{kernel.label} loss", kernel, *inputs)
    _close(ga, da, GRAD_RTOL, f"{kernel.label} dL/da", *inputs)
    _close(gb, db, GRAD_RTOL, f"{kernel.label} dL/db", *inputs)
    slope, dense_slope = (m.logit_scale.grad.item() for m in (blockwise_clip, dense_clip))
    assert math.isclose(slope, dense_slope, rel_tol=1e-9, abs_tol=1e-12), (slope, dense_slope)
    perm = np.asarray(data.draw(st.permutations(range(len(a)))))
    permuted, (pa, pb) = run(module(), a[perm], b[perm])
    _loss_close(permuted, dense, "permuted pairs", kernel, *inputs)
    _close(pa, da[perm], GRAD_RTOL, "permuted dL/da", *inputs)
    _close(pb, db[perm], GRAD_RTOL, "permuted dL/db", *inputs)
    swapped, _ = run(module(), b, a)  # CLIP is symmetric in the two modalities
    _loss_close(swapped, dense, "swapped modalities", kernel, *inputs)
