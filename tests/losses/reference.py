"""Plain float64 NumPy references of the kernel InfoNCE family, written from `losses.md`.

Nothing here imports the code under test. Each reference kernel gives its logits
``l(x, y) = log K(x, y)`` and the vector-Jacobian product of the logits (hand-derived, analytic
gradients), and each reference normalisation its own vector-Jacobian product, so every loss below
comes with its exact gradient with respect to the raw embeddings. ``test_reference.py`` checks
these hand-derived gradients against central finite differences.

Distances follow the eps rule of the spec: ``d^2 = max(|x|^2 + |y|^2 - 2 x.y, 0)`` and kernels that
take a root or a power of ``d^2`` use ``d^2 + 1e-6`` under it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

EPS = 1e-6

Array = np.ndarray
PairVJP = Callable[[Array], tuple[Array, Array]]
VJP = Callable[[Array], Array]


# ----------------------------------------------------------------------------- normalisations


def l2_rows(z: Array) -> tuple[Array, VJP]:
    """``u_i = z_i / ||z_i||`` and its vector-Jacobian product ``(I - u u^T) g / ||z||``."""
    norm = np.sqrt(np.sum(z * z, axis=1, keepdims=True))
    u = z / norm

    def vjp(gu: Array) -> Array:
        return (gu - u * np.sum(gu * u, axis=1, keepdims=True)) / norm

    return u, vjp


def identity_rows(z: Array) -> tuple[Array, VJP]:
    """No normalisation."""
    return z.copy(), lambda g: g


def l2_parts(z: Array, split: Sequence[int]) -> tuple[Array, VJP]:
    """Each slice of the columns L2-normalised on its own."""
    bounds = np.cumsum([0, *split])
    pieces = [l2_rows(z[:, lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    u = np.concatenate([p[0] for p in pieces], axis=1)

    def vjp(gu: Array) -> Array:
        return np.concatenate(
            [p[1](gu[:, lo:hi]) for p, lo, hi in zip(pieces, bounds[:-1], bounds[1:], strict=True)],
            axis=1,
        )

    return u, vjp


# ----------------------------------------------------------------------------- kernels


class RefKernel:
    """A reference kernel: ``prepare`` (default normalisation) and ``logits`` with their VJPs."""

    normalization = "l2"

    def prepare(self, z: Array) -> tuple[Array, VJP]:
        return l2_rows(z) if self.normalization == "l2" else identity_rows(z)

    def logits(self, x: Array, y: Array) -> tuple[Array, PairVJP]:
        raise NotImplementedError


@dataclass
class RefCosine(RefKernel):
    """``cos(x, y) / t``; on prepared (unit) rows this is ``x.y / t``."""

    t: float

    def logits(self, x: Array, y: Array) -> tuple[Array, PairVJP]:
        # prepare() has made the rows unit vectors, so x.y is the cosine.
        out = (x @ y.T) / self.t

        def vjp(g: Array) -> tuple[Array, Array]:
            return g @ y / self.t, g.T @ x / self.t

        return out, vjp


@dataclass
class RefInnerProduct(RefKernel):
    """``x.y / t`` on the embeddings as they are (no normalisation; gmm.md's inner product)."""

    t: float
    normalization = "none"

    def logits(self, x: Array, y: Array) -> tuple[Array, PairVJP]:
        out = (x @ y.T) / self.t

        def vjp(g: Array) -> tuple[Array, Array]:
            return g @ y / self.t, g.T @ x / self.t

        return out, vjp


class _DistanceKernel(RefKernel):
    """``log K = h(d^2)``, ``d^2 = max(|x|^2 + |y|^2 - 2 x.y, 0)``; subclasses give h and h'."""

    def h(self, sq: Array) -> Array:
        raise NotImplementedError

    def dh(self, sq: Array) -> Array:
        raise NotImplementedError

    def logits(self, x: Array, y: Array) -> tuple[Array, PairVJP]:
        raw = np.sum(x * x, axis=1)[:, None] + np.sum(y * y, axis=1)[None, :] - 2.0 * (x @ y.T)
        sq = np.maximum(raw, 0.0)
        out = self.h(sq)
        slope = np.where(raw > 0.0, self.dh(sq), 0.0)

        def vjp(g: Array) -> tuple[Array, Array]:
            w = g * slope  # d(sum g * l) / d(d^2_ij)
            # d(d^2_ij)/dx_i = 2 (x_i - y_j), d(d^2_ij)/dy_j = 2 (y_j - x_i)
            gx = 2.0 * (x * w.sum(axis=1)[:, None] - w @ y)
            gy = 2.0 * (y * w.sum(axis=0)[:, None] - w.T @ x)
            return gx, gy

        return out, vjp


@dataclass
class RefGaussian(_DistanceKernel):
    """``-d^2 / t``."""

    t: float

    def h(self, sq: Array) -> Array:
        return -sq / self.t

    def dh(self, sq: Array) -> Array:
        return np.full_like(sq, -1.0 / self.t)


@dataclass
class RefLaplacian(_DistanceKernel):
    """``-d / t`` with ``d = sqrt(d^2 + eps)``."""

    t: float

    def h(self, sq: Array) -> Array:
        return -np.sqrt(sq + EPS) / self.t

    def dh(self, sq: Array) -> Array:
        return -0.5 / (self.t * np.sqrt(sq + EPS))


@dataclass
class RefExponential(_DistanceKernel):
    """``-d^gamma / t`` with ``d^gamma = (d^2 + eps)^(gamma / 2)``."""

    gamma: float
    t: float

    def h(self, sq: Array) -> Array:
        return -((sq + EPS) ** (self.gamma / 2.0)) / self.t

    def dh(self, sq: Array) -> Array:
        return -(self.gamma / 2.0) * (sq + EPS) ** (self.gamma / 2.0 - 1.0) / self.t


@dataclass
class RefStudentT(_DistanceKernel):
    """``-((nu + 1) / 2) log(1 + d^2 / (nu s))``; no normalisation."""

    nu: float
    s: float
    normalization = "none"

    def h(self, sq: Array) -> Array:
        return -0.5 * (self.nu + 1.0) * np.log1p(sq / (self.nu * self.s))

    def dh(self, sq: Array) -> Array:
        return -0.5 * (self.nu + 1.0) / (self.nu * self.s + sq)


@dataclass
class RefCauchy(_DistanceKernel):
    """``log(1 / (1 + d^2 / s))``; no normalisation."""

    s: float
    normalization = "none"

    def h(self, sq: Array) -> Array:
        return -np.log1p(sq / self.s)

    def dh(self, sq: Array) -> Array:
        return -1.0 / (self.s + sq)


def _logsumexp_mix(
    terms: list[tuple[Array, PairVJP]], weights: Sequence[float]
) -> tuple[Array, Callable[[Array], list[tuple[Array, Array]]]]:
    """``logsumexp_m(log w_m + l_m)`` and the per-part VJPs (softmax over m of the parts)."""
    stacked = np.stack([vals + np.log(w) for (vals, _), w in zip(terms, weights, strict=True)])
    top = stacked.max(axis=0)
    out = top + np.log(np.exp(stacked - top).sum(axis=0))
    share = np.exp(stacked - out)

    def vjps(g: Array) -> list[tuple[Array, Array]]:
        return [vjp(g * share[m]) for m, (_, vjp) in enumerate(terms)]

    return out, vjps


class RefKernelSum(RefKernel):
    """``logsumexp_m(log w_m + log k_m)`` inside one softmax; weights default 1."""

    def __init__(
        self,
        parts: Sequence[RefKernel],
        weights: Sequence[float] | None = None,
        normalization: str | None = None,
    ) -> None:
        self.parts = list(parts)
        self.weights = list(weights) if weights is not None else [1.0] * len(self.parts)
        self.normalization = normalization or self.parts[0].normalization

    def logits(self, x: Array, y: Array) -> tuple[Array, PairVJP]:
        out, vjps = _logsumexp_mix([k.logits(x, y) for k in self.parts], self.weights)

        def vjp(g: Array) -> tuple[Array, Array]:
            grads = vjps(g)
            return sum(gx for gx, _ in grads), sum(gy for _, gy in grads)

        return out, vjp


class RefConcat(RefKernel):
    """Kernel ``k_m`` on column slice ``m``.

    ``mode="kernel"``: logsumexp over the parts inside one softmax (weights default 1);
    ``mode="loss"``: ``sum_m w_m L(k_m on slice m)`` (weights default 1/M), handled by the losses
    below. ``normalize="whole"``: one L2 norm over the full vector; ``"parts"``: per slice.
    """

    def __init__(
        self,
        parts: Sequence[RefKernel],
        split: Sequence[int],
        mode: str = "kernel",
        normalize: str = "whole",
        weights: Sequence[float] | None = None,
    ) -> None:
        self.parts = list(parts)
        self.split = list(split)
        self.mode = mode
        self.normalize = normalize
        default = 1.0 if mode == "kernel" else 1.0 / len(self.parts)
        self.weights = list(weights) if weights is not None else [default] * len(self.parts)
        self.normalization = "l2" if normalize == "whole" else "parts"

    def prepare(self, z: Array) -> tuple[Array, VJP]:
        return l2_rows(z) if self.normalize == "whole" else l2_parts(z, self.split)

    def bounds(self) -> list[tuple[int, int]]:
        edges = np.cumsum([0, *self.split])
        return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))

    def slice_logits(self, x: Array, y: Array) -> list[tuple[Array, PairVJP]]:
        """Per-part logits on the slices, with VJPs that return full-width gradients."""
        out = []
        for k, (lo, hi) in zip(self.parts, self.bounds(), strict=True):
            vals, inner = k.logits(x[:, lo:hi], y[:, lo:hi])

            def vjp(g: Array, inner: PairVJP = inner, lo: int = lo, hi: int = hi):
                gx_s, gy_s = inner(g)
                gx, gy = np.zeros_like(x), np.zeros_like(y)
                gx[:, lo:hi] = gx_s
                gy[:, lo:hi] = gy_s
                return gx, gy

            out.append((vals, vjp))
        return out

    def logits(self, x: Array, y: Array) -> tuple[Array, PairVJP]:
        if self.mode != "kernel":
            raise ValueError("RefConcat(mode='loss') has no single logit matrix")
        out, vjps = _logsumexp_mix(self.slice_logits(x, y), self.weights)

        def vjp(g: Array) -> tuple[Array, Array]:
            grads = vjps(g)
            return sum(gx for gx, _ in grads), sum(gy for _, gy in grads)

        return out, vjp


# ----------------------------------------------------------------------------- losses


def _prepare(kernel: RefKernel, z: Array, normalize: bool | None) -> tuple[Array, VJP]:
    if normalize is None:
        return kernel.prepare(z)
    return l2_rows(z) if normalize else identity_rows(z)


def _infonce_from_logits(logits: Array, batch: int) -> tuple[Array, Array]:
    """Per-anchor terms ``-l_{i,pos(i)} + logsumexp_{j != i} l_ij`` and ``d(term_i)/d l_ij``.

    Row ``i``'s positive is ``i + batch`` for ``i < batch`` and ``i - batch`` otherwise. The self
    pair is excluded from the log-sum-exp with a mask (no exp then zero).
    """
    n = logits.shape[0]
    terms = np.empty(n)
    grad = np.zeros_like(logits)
    for i in range(n):
        pos = i + batch if i < batch else i - batch
        others = [j for j in range(n) if j != i]
        row = logits[i, others]
        top = row.max()
        lse = top + np.log(np.sum(np.exp(row - top)))
        terms[i] = -logits[i, pos] + lse
        grad[i, others] = np.exp(row - lse)
        grad[i, pos] -= 1.0
    return terms, grad


def infonce(
    z1: Array,
    z2: Array,
    kernel: RefKernel,
    normalize: bool | None = None,
    anchor_weights: Array | None = None,
) -> tuple[float, Array, Array, Array]:
    """Reference kernel InfoNCE on ``Z = [z1; z2]``.

    Returns ``(loss, dL/dz1, dL/dz2, per_anchor)`` where ``loss = mean_i per_anchor_i`` over the
    2B anchors. With ``anchor_weights`` (length 2B) the returned gradients are those of
    ``sum_i anchor_weights_i * per_anchor_i`` instead (used for the distributed checks);
    ``loss`` is always the plain mean.
    """
    batch = z1.shape[0]
    z = np.concatenate([z1, z2], axis=0).astype(np.float64)
    u, prep_vjp = _prepare(kernel, z, normalize)
    n = z.shape[0]
    if anchor_weights is None:
        anchor_weights = np.full(n, 1.0 / n)
    if isinstance(kernel, RefConcat) and kernel.mode == "loss":
        parts = [
            (w, vals, vjp)
            for w, (vals, vjp) in zip(kernel.weights, kernel.slice_logits(u, u), strict=True)
        ]
    else:
        vals, vjp = kernel.logits(u, u)
        parts = [(1.0, vals, vjp)]
    per_anchor = np.zeros(n)
    gu = np.zeros_like(u)
    for weight, vals, vjp in parts:
        terms, dterm = _infonce_from_logits(vals, batch)
        per_anchor += weight * terms
        gx, gy = vjp(weight * anchor_weights[:, None] * dterm)
        gu += gx + gy
    gz = prep_vjp(gu)
    return float(per_anchor.mean()), gz[:batch], gz[batch:], per_anchor


def loss_sum(
    z1: Array,
    z2: Array,
    terms: Sequence[tuple[RefKernel, float]],
    normalize: bool | None = None,
) -> tuple[float, Array, Array]:
    """``sum_m w_m L(kernel_m)``, each term its own softmax; returns loss and gradients."""
    loss, g1, g2 = 0.0, np.zeros_like(z1), np.zeros_like(z2)
    for kernel, weight in terms:
        value, a, b, _ = infonce(z1, z2, kernel, normalize)
        loss += weight * value
        g1 = g1 + weight * a
        g2 = g2 + weight * b
    return loss, g1, g2


def _clip_from_logits(vals: Array) -> tuple[float, Array]:
    """CLIP's two directions on one logit matrix; returns the loss and ``dL/dl``."""
    batch = vals.shape[0]
    row_top = vals.max(axis=1, keepdims=True)
    row_lse = row_top + np.log(np.exp(vals - row_top).sum(axis=1, keepdims=True))
    col_top = vals.max(axis=0, keepdims=True)
    col_lse = col_top + np.log(np.exp(vals - col_top).sum(axis=0, keepdims=True))
    diag = np.diag(vals)
    loss = 0.5 * (np.mean(-diag + row_lse[:, 0]) + np.mean(-diag + col_lse[0]))
    eye = np.eye(batch)
    grad = 0.5 / batch * ((np.exp(vals - row_lse) - eye) + (np.exp(vals - col_lse) - eye))
    return float(loss), grad


def clip(
    a: Array, b: Array, kernel: RefKernel, normalize: bool | None = None, scale: float = 1.0
) -> tuple[float, Array, Array]:
    """CLIP: ``1/2 [mean_i(-l_ii + lse_j l_ij) + mean_j(-l_jj + lse_i l_ij)]``, l_ij = l(a_i, b_j).

    Candidates include the positive. The logits are multiplied by ``scale`` (CLIP's
    ``exp(logit_scale)``). ``Concat(mode="loss")`` gives ``sum_m w_m`` of the per-slice losses.
    Returns loss and gradients wrt the raw ``a`` and ``b``.
    """
    ua, vjp_a = _prepare(kernel, a.astype(np.float64), normalize)
    ub, vjp_b = _prepare(kernel, b.astype(np.float64), normalize)
    if isinstance(kernel, RefConcat) and kernel.mode == "loss":
        parts = [
            (w, vals, vjp)
            for w, (vals, vjp) in zip(kernel.weights, kernel.slice_logits(ua, ub), strict=True)
        ]
    else:
        vals, vjp = kernel.logits(ua, ub)
        parts = [(1.0, vals, vjp)]
    loss, ga, gb = 0.0, np.zeros_like(ua), np.zeros_like(ub)
    for weight, vals, vjp in parts:
        value, grad = _clip_from_logits(scale * vals)
        loss += weight * value
        da, db = vjp(weight * scale * grad)
        ga += da
        gb += db
    return loss, vjp_a(ga), vjp_b(gb)


def clip_log_scale_slope(
    a: Array, b: Array, kernel: RefKernel, normalize: bool | None = None, scale: float = 1.0
) -> float:
    """``dL / d log(scale)`` of ``clip``: the logits are ``scale * l``, so by the chain rule it is
    ``sum_ij (dL / d(scale l_ij)) * scale * l_ij`` (summed over the parts of ``Concat(mode="loss")``
    with their weights)."""
    ua, _ = _prepare(kernel, a.astype(np.float64), normalize)
    ub, _ = _prepare(kernel, b.astype(np.float64), normalize)
    if isinstance(kernel, RefConcat) and kernel.mode == "loss":
        parts = [
            (w, vals)
            for w, (vals, _) in zip(kernel.weights, kernel.slice_logits(ua, ub), strict=True)
        ]
    else:
        parts = [(1.0, kernel.logits(ua, ub)[0])]
    slope = 0.0
    for weight, vals in parts:
        _, grad = _clip_from_logits(scale * vals)
        slope += weight * float(np.sum(grad * scale * vals))
    return slope


def queue_infonce(
    q: Array, k: Array, queue: Array, kernel: RefKernel, normalize: bool | None = None
) -> tuple[float, Array]:
    """MoCo's queue loss ``mean_i[-l(q_i, k_i) + logsumexp(l(q_i, k_i), l(q_i, Q_1..K))]``.

    q, k and the queue are normalised alike; row i's candidates are its own key and the queue
    rows only (not the other keys of the batch), written with an explicit loop over rows.
    ``Concat(mode="loss")`` gives ``sum_m w_m`` of the per-slice losses. Returns the loss and
    ``dL/dq`` (keys and queue are constants).
    """
    uq, vjp_q = _prepare(kernel, q.astype(np.float64), normalize)
    uk, _ = _prepare(kernel, k.astype(np.float64), normalize)
    uqueue, _ = _prepare(kernel, queue.astype(np.float64), normalize)
    batch = q.shape[0]
    loss, gu = 0.0, np.zeros_like(uq)
    for weight, (pos_vals, pos_vjp), (neg_vals, neg_vjp) in _queue_parts(kernel, uq, uk, uqueue):
        g_pos, g_neg = np.zeros_like(pos_vals), np.zeros_like(neg_vals)
        for i in range(batch):
            row = np.concatenate([[pos_vals[i, i]], neg_vals[i]])
            top = row.max()
            lse = top + np.log(np.sum(np.exp(row - top)))
            loss += weight * (lse - pos_vals[i, i]) / batch
            share = np.exp(row - lse)
            g_pos[i, i] = weight * (share[0] - 1.0) / batch
            g_neg[i] = weight * share[1:] / batch
        gu += pos_vjp(g_pos)[0] + (neg_vjp(g_neg)[0] if queue.shape[0] else 0.0)
    return float(loss), vjp_q(gu)


def _queue_parts(kernel: RefKernel, uq: Array, uk: Array, uqueue: Array) -> list:
    """``(weight, logits(q, k), logits(q, queue))`` per loss term (one unless Concat "loss")."""
    if isinstance(kernel, RefConcat) and kernel.mode == "loss":
        return list(
            zip(kernel.weights, kernel.slice_logits(uq, uk), kernel.slice_logits(uq, uqueue))
        )
    return [(1.0, kernel.logits(uq, uk), kernel.logits(uq, uqueue))]


def soft_target(z: Array, targets: Array, kernel: RefKernel) -> tuple[float, Array]:
    """``H(Z) = sum_i [-sum_j P_ij l_ij + log sum_{j != i} exp(l_ij)]`` on ``z`` as given.

    Written with explicit loops over rows and columns; returns ``H`` and ``dH/dz``.
    """
    z = z.astype(np.float64)
    n = z.shape[0]
    vals, vjp = kernel.logits(z, z)
    total = 0.0
    g = np.zeros_like(vals)
    for i in range(n):
        lse_terms = [vals[i, j] for j in range(n) if j != i]
        top = max(lse_terms)
        lse = top + np.log(sum(np.exp(v - top) for v in lse_terms))
        total += -sum(targets[i, j] * vals[i, j] for j in range(n)) + lse
        for j in range(n):
            g[i, j] = -targets[i, j] + (np.exp(vals[i, j] - lse) if j != i else 0.0)
    gx, gy = vjp(g)
    return float(total), gx + gy


def numeric_gradient(fn: Callable[[Array], float], x: Array, step: float = 1e-5) -> Array:
    """Central finite differences of a scalar function of an array, in float64."""
    x = x.astype(np.float64).copy()
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + step
        up = fn(x)
        x[idx] = old - step
        down = fn(x)
        x[idx] = old
        grad[idx] = (up - down) / (2.0 * step)
    return grad
