"""Trainers of the spectral experiment's regime parts: mini-batch InfoNCE and full-batch CLIP.

- :func:`train_minibatch_embedding`: free ``Z`` under the mini-batch InfoNCE of
  ``losses.KernelInfoNCE``: each step draws ``B`` distinct anchors uniformly and, for each
  anchor ``i``, one positive ``j ~ P_i``; the loss is NT-Xent-style over those ``2B`` rows. It is
  a stochastic estimate of the full-batch ``H`` of ``train_free_embedding`` (spectral.md).
- :func:`soft_target_clip`: the full-batch CLIP objective on a bipartite graph ``B`` with soft
  targets, the two-modality counterpart of ``losses.soft_target_infonce``:

      H_clip(Z_a, Z_b) = sum_i [ -sum_j P_ij l_ij + log sum_j exp(l_ij) ]
                       + sum_j [ -sum_i Q_ji l_ij + log sum_i exp(l_ij) ],

  ``l_ij = log K(a_i, b_j)``, ``P = D_a^-1 B`` (rows of B normalised), ``Q = D_b^-1 B^T``. Every
  edge enters once with its weight, every non-edge only as a negative: no pair is sampled, so
  there are no duplicate pairs and no true neighbour is ever counted as a negative.
- :func:`train_full_batch_clip`: Adam on ``soft_target_clip`` over free ``Z_a, Z_b``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray
from torch import Tensor

from contrastlab import kernels as kernels_module
from contrastlab import losses
from contrastlab.errors import InputError
from contrastlab.experiments.free_embedding import (
    FreeClipResult,
    FreeEmbeddingResult,
    fit_adam,
)

__all__ = [
    "sample_positives",
    "soft_target_clip",
    "train_full_batch_clip",
    "train_minibatch_embedding",
]

Array = NDArray[np.float64]


def sample_positives(
    targets: Array, anchors: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int64]:
    """One positive ``j ~ P_i`` for each anchor ``i`` (inverse CDF of the row of ``P``)."""
    cdf = np.cumsum(targets[anchors], axis=1)
    draws = rng.random(len(anchors)) * cdf[:, -1]
    picks = (cdf < draws[:, None]).sum(axis=1)
    return np.minimum(picks, targets.shape[1] - 1).astype(np.int64)


def train_minibatch_embedding(
    targets: Array,
    kernel: kernels_module.Kernel,
    dim: int,
    batch: int,
    steps: int,
    lr: float = 0.05,
    seed: int = 0,
) -> FreeEmbeddingResult:
    """Free ``Z`` (seeded standard normal start, as ``train_free_embedding``) trained with
    mini-batches of ``batch`` distinct anchors and one sampled positive each.

    Args:
        targets: ``P`` (n x n), row-stochastic with zero diagonal.
        kernel: e.g. ``kernels.Gaussian(t=0.4)``; ``KernelInfoNCE`` applies its normalisation.
        dim: embedding dimension.
        batch: anchors per step, ``2 <= batch <= n``.
        steps, lr: Adam.
        seed: seeds the start (the same start as ``train_free_embedding`` with this seed) and
            the draws.

    Raises:
        InputError: ``batch`` out of range.
    """
    P = np.asarray(targets, dtype=np.float64)
    n = P.shape[0]
    if isinstance(batch, bool) or not isinstance(batch, int) or not 2 <= batch <= n:
        raise InputError(f"batch: must be an integer in [2, {n}], got {batch!r}")
    gen = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, dim, generator=gen, dtype=torch.float64).requires_grad_(True)
    loss_fn = losses.KernelInfoNCE(kernel=kernel)
    rng = np.random.default_rng([seed, 7])

    def loss_at(step: int) -> Tensor:
        anchors = rng.choice(n, size=batch, replace=False)
        positives = sample_positives(P, anchors, rng)
        return loss_fn(Z[torch.as_tensor(anchors)], Z[torch.as_tensor(positives)])

    history = fit_adam([Z], loss_at, steps, lr)
    with torch.no_grad():
        return FreeEmbeddingResult(embedding=kernel.prepare(Z).numpy(), losses=history)


def _soft_targets(biadjacency: Array) -> tuple[Array, Array]:
    B = np.asarray(biadjacency, dtype=np.float64)
    rows, cols = B.sum(axis=1), B.sum(axis=0)
    if (rows == 0).any() or (cols == 0).any():
        raise InputError("bipartite graph has isolated objects; raise p or q (or m)")
    return B / rows[:, None], B.T / cols[:, None]


def soft_target_clip(
    za: Tensor, zb: Tensor, forward: Tensor, backward: Tensor, kernel: kernels_module.Kernel
) -> Tensor:
    """``H_clip`` of the module docstring on prepared embeddings ``za`` (n_a x d), ``zb``
    (n_b x d), with ``forward = P`` (n_a x n_b) and ``backward = Q`` (n_b x n_a).

    Returns:
        The sum over the rows of both directions (not the mean), a scalar tensor.
    """
    logits = kernel.logits(za, zb)
    a_to_b = torch.logsumexp(logits, dim=1).sum() - (forward * logits).sum()
    b_to_a = torch.logsumexp(logits, dim=0).sum() - (backward.T * logits).sum()
    return a_to_b + b_to_a


def train_full_batch_clip(
    biadjacency: Array | sp.spmatrix,
    kernel: kernels_module.Kernel,
    dim: int,
    steps: int,
    lr: float = 0.05,
    seed: int = 0,
) -> FreeClipResult:
    """Adam on :func:`soft_target_clip` over free ``Z_a``, ``Z_b`` (seeded standard normal start,
    float64, prepared by the kernel before the loss).

    Raises:
        InputError: an object without an edge.
    """
    dense = biadjacency.toarray() if sp.issparse(biadjacency) else np.asarray(biadjacency)
    forward, backward = (torch.as_tensor(m) for m in _soft_targets(dense))
    gen = torch.Generator().manual_seed(seed)
    za = torch.randn(dense.shape[0], dim, generator=gen, dtype=torch.float64).requires_grad_(True)
    zb = torch.randn(dense.shape[1], dim, generator=gen, dtype=torch.float64).requires_grad_(True)

    def loss_at(step: int) -> Tensor:
        return soft_target_clip(kernel.prepare(za), kernel.prepare(zb), forward, backward, kernel)

    history = fit_adam([za, zb], loss_at, steps, lr)
    with torch.no_grad():
        return FreeClipResult(kernel.prepare(za).numpy(), kernel.prepare(zb).numpy(), history)
