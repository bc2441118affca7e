"""Collapse measures of embeddings: alignment and uniformity (Wang and Isola 2020), the
effective rank (RankMe, Garrido et al. 2023), and the rule that calls a representation collapsed.

For rows ``z_i`` (L2-normalised first, as in Wang and Isola, unless ``normalize=False``):

* ``alignment(z1, z2, alpha=2) = mean_i ||z1_i - z2_i||^alpha`` over positive pairs (two views
  of sample ``i``); 0 when the views agree, at most ``2^alpha`` on the sphere.
* ``uniformity(Z, t=2) = log mean_{i<j} exp(-t ||z_i - z_j||^2)`` over distinct pairs; 0 when
  every row is the same point (complete collapse), and as low as about ``-t * 2 * N / (N - 1)``
  for points spread evenly on a sphere of high dimension (``-4`` for ``t = 2``).
* ``effective_rank(Z) = exp(-sum_k p_k log p_k)``, ``p_k = s_k / ||s||_1 + eps`` with ``s`` the
  singular values of ``Z`` (not centred, as in RankMe) and ``eps = 1e-7``: 1 when all rows are
  one direction, ``min(N, D)`` when the singular values are equal.

:func:`collapse_warning` applies the rule the trainer uses each epoch (module constants, fixed
before any run was seen, see their comments): the representation has collapsed when its
effective rank is below :data:`COLLAPSE_RANK`, or when the contrastive loss is within
:data:`COLLAPSE_LOSS_MARGIN` (relative) of ``log(2B - 1)``, the loss of a uniform softmax over
the ``2B - 1`` candidates of a batch of ``B`` pairs, which is what every embedding being the
same gives for any kernel.

Example:
    >>> import numpy as np
    >>> Z = np.random.default_rng(0).normal(size=(200, 16))
    >>> round(uniformity(np.ones((5, 3))), 6), effective_rank(np.ones((5, 3))) < 1.01
    (0.0, True)
    >>> 10 < effective_rank(Z) <= 16
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from contrastlab.analysis._inputs import check_features, check_positive
from contrastlab.errors import InputError

__all__ = [
    "COLLAPSE_LOSS_MARGIN",
    "COLLAPSE_RANK",
    "RANKME_EPS",
    "alignment",
    "collapse_warning",
    "effective_rank",
    "uniform_loss",
    "uniformity",
]

RANKME_EPS = 1e-7
# Fixed from what the measures mean, not tuned on runs: an effective rank below 2 means the
# embeddings use about one direction (every row nearly the same point or on one line); a loss
# within 1% of log(2B - 1) means the softmax over candidates is within 1% of uniform in loss.
COLLAPSE_RANK = 2.0
COLLAPSE_LOSS_MARGIN = 0.01


def _rows(Z: Any, name: str, normalize: bool) -> np.ndarray:
    rows = check_features(Z, name).astype(np.float64)
    if normalize:
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        if (norms == 0).any():
            raise InputError(f"{name} has {int((norms == 0).sum())} all-zero row(s)")
        rows = rows / norms
    return rows


def alignment(z1: Any, z2: Any, *, alpha: float = 2.0, normalize: bool = True) -> float:
    """Wang and Isola's alignment, ``mean_i ||z1_i - z2_i||^alpha`` over positive pairs.

    Args:
        z1, z2: (N, D) embeddings of two views of the same N samples, row i with row i.
        alpha: the exponent, > 0 (the paper's default 2).
        normalize: L2-normalise the rows first (the paper's setting: the hypersphere).

    Raises:
        InputError: shapes that differ or are not 2-D, non-finite values, zero rows when
            normalising, or ``alpha <= 0``.
    """
    power = check_positive(alpha, "alpha")
    a, b = _rows(z1, "z1", normalize), _rows(z2, "z2", normalize)
    if a.shape != b.shape:
        raise InputError(f"z1 and z2 must have the same shape, got {a.shape} and {b.shape}")
    return float(np.mean(np.linalg.norm(a - b, axis=1) ** power))


def uniformity(Z: Any, t: float = 2.0, *, normalize: bool = True) -> float:
    """Wang and Isola's uniformity, ``log mean_{i<j} exp(-t ||z_i - z_j||^2)``.

    Computed with a log-sum-exp over the ``N (N - 1) / 2`` distinct pairs in float64.

    Args:
        Z: (N, D) embeddings, N >= 2.
        t: the scale, > 0 (the paper's default 2).
        normalize: L2-normalise the rows first (the paper's setting).

    Raises:
        InputError: not 2-D, fewer than two rows, non-finite values, zero rows when
            normalising, or ``t <= 0``.
    """
    scale = check_positive(t, "t")
    rows = torch.from_numpy(_rows(Z, "Z", normalize))
    squared = torch.pdist(rows).pow(2)
    return float(torch.logsumexp(-scale * squared, dim=0) - math.log(squared.numel()))


def effective_rank(Z: Any, *, eps: float = RANKME_EPS) -> float:
    """RankMe's effective rank, ``exp(-sum_k p_k log p_k)`` with ``p_k = s_k / ||s||_1 + eps``.

    Args:
        Z: (N, D) embeddings (used as given: not centred, not normalised, as in RankMe).
        eps: RankMe's smoothing constant, >= 0.

    Raises:
        InputError: not 2-D, non-finite values, all zero, or ``eps < 0``.
    """
    if not (isinstance(eps, (int, float)) and eps >= 0):
        raise InputError(f"eps must be a number >= 0, got {eps!r}")
    rows = check_features(Z, "Z", min_rows=1).astype(np.float64)
    singular = np.linalg.svd(rows, compute_uv=False)
    total = singular.sum()
    if total == 0:
        raise InputError("Z is all zeros: its effective rank is undefined")
    p = singular / total + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def uniform_loss(batch_size: int) -> float:
    """``log(2B - 1)``: the InfoNCE loss of a uniform softmax over a batch's candidates."""
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    return math.log(2 * batch_size - 1)


def collapse_warning(rank: float, loss: float | None = None, level: float | None = None) -> str:
    """Why the representation counts as collapsed (the module's rule), or ``""``.

    Args:
        rank: the effective rank of the embeddings.
        loss: the epoch's contrastive loss (``None``: not checked).
        level: the loss of a uniform softmax, :func:`uniform_loss` of the batch size (times
            the weights' sum for a sum of losses).
    """
    reasons = []
    if rank < COLLAPSE_RANK:
        reasons.append(f"effective rank {rank:.2f} < {COLLAPSE_RANK:g}")
    if loss is not None and level is not None and loss >= (1 - COLLAPSE_LOSS_MARGIN) * level:
        reasons.append(
            f"loss {loss:.4f} within {COLLAPSE_LOSS_MARGIN:.0%} of log(2B - 1) = {level:.4f}"
        )
    return "; ".join(reasons)
