"""Contrastive learning as stochastic neighbour embedding: KL(P || Q) equals InfoNCE.

A batch of ``B`` pairs gives ``N = 2B`` embeddings ``Z = [z1; z2]``; row ``i``'s positive is
``pos(i) = i + B`` (``i < B``) or ``i - B``. Both distributions live on the ``N (N - 1)`` cells
``(i, j)``, ``j != i``, of the ``N x N`` matrix without its diagonal:

* input similarity (set by augmentation): ``P_ij = 1 / N`` if ``j = pos(i)``, else 0, so that
  ``P_{j|i} = 1`` on the positive and ``sum_ij P_ij = 1``;
* output similarity: ``q_{j|i} = K(z_i, z_j) / sum_{k != i} K(z_i, z_k)`` (the softmax of the
  log-kernel over row ``i``) and ``Q_ij = q_{j|i} / N`` (every anchor weighted ``1 / N``, as P
  weights them), so ``sum_ij Q_ij = 1``.

Derivation. Only the ``N`` positive cells have ``P_ij > 0``, so

    KL(P || Q) = sum_i (1/N) log( (1/N) / (q_{pos(i)|i} / N) ) = (1/N) sum_i -log q_{pos(i)|i},

which is exactly the InfoNCE loss ``L`` of :class:`contrastlab.losses.KernelInfoNCE`
(``(1/2B) sum_i [-l_{i,pos(i)} + logsumexp_{j != i} l_ij]``): the constant is 0. If instead Q
is left as the row-conditional matrix ``q_{j|i}`` (rows sum to 1, the whole matrix to N, as in
Hinton and Roweis's per-point SNE cost), the same sum is

    sum_ij P_ij log(P_ij / q_{j|i}) = (1/N) sum_i [log(1/N) - log q_{pos(i)|i}] = L + log(1 / 2B),

the "log(1 / 2B)-type constant" of the spec. Both forms are checked here. With the cosine
kernel ``log K = cos / t`` this is SimCLR; with the Student-t kernel it is t-SimCLR (t-SNE's Q).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from contrastlab import kernels, losses

Array = NDArray[np.float64]


@dataclass(frozen=True)
class IdentityCheck:
    """KL(P || Q) from its definition beside InfoNCE plus the derived constant, for one batch.

    Attributes:
        kl_joint: ``KL(P || Q)`` with the joint ``Q_ij = q_{j|i} / N`` (constant 0).
        kl_conditional: ``sum P log(P / q_{j|i})`` with the conditional q (constant ``-log N``).
        infonce: the loss of ``losses.KernelInfoNCE`` on the same batch (float64).
        batch_pairs: ``B``.
    """

    kl_joint: float
    kl_conditional: float
    infonce: float
    batch_pairs: int

    @property
    def residual_joint(self) -> float:
        """``|KL_joint - L| / |L|``."""
        return abs(self.kl_joint - self.infonce) / abs(self.infonce)

    @property
    def residual_conditional(self) -> float:
        """``|KL_conditional - (L + log(1 / 2B))| / |L|`` (relative to the loss: the left side
        can be near 0)."""
        expected = self.infonce + math.log(1.0 / (2 * self.batch_pairs))
        return abs(self.kl_conditional - expected) / abs(self.infonce)


def sne_matrices(log_kernel: Array) -> tuple[Array, Array, Array]:
    """``P``, joint ``Q`` and conditional ``q`` (all ``N x N``, zero diagonal) of a batch.

    Args:
        log_kernel: ``l_ij = log K(z_i, z_j)`` for the ``N = 2B`` stacked rows ``[z1; z2]``.
    """
    n = log_kernel.shape[0]
    pairs = n // 2
    off_diagonal = ~np.eye(n, dtype=bool)
    logits = np.where(off_diagonal, log_kernel, -np.inf)
    logits = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    conditional = weights / weights.sum(axis=1, keepdims=True)
    p = np.zeros((n, n))
    rows = np.arange(n)
    p[rows, (rows + pairs) % n] = 1.0 / n
    return p, conditional / n, conditional


def kl_divergence(p: Array, q: Array) -> float:
    """``sum_{ij: P_ij > 0} P_ij log(P_ij / Q_ij)`` (cells with ``P_ij = 0`` contribute 0)."""
    support = p > 0
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def check_identity(
    kernel: kernels.Kernel, batch_pairs: int, dim: int, seed: int, scale: float = 1.0
) -> IdentityCheck:
    """Draw ``z1, z2 ~ N(0, scale^2)`` (``batch_pairs x dim``, float64) and compare both sides.

    The log-kernel matrix for the KL side is computed here from the kernel's formula (cosine:
    ``cos / t``; distance kernels through ``kernel.elementwise`` of squared distances), not from
    the loss engine.
    """
    rng = np.random.default_rng(seed)
    z1 = rng.normal(scale=scale, size=(batch_pairs, dim))
    z2 = z1 + rng.normal(scale=0.5 * scale, size=(batch_pairs, dim))  # positives are close
    z = np.concatenate([z1, z2])
    log_k = _log_kernel_matrix(kernel, z)
    p, q_joint, q_conditional = sne_matrices(log_k)
    infonce = losses.KernelInfoNCE(kernel=kernel)(torch.from_numpy(z1), torch.from_numpy(z2))
    return IdentityCheck(
        kl_joint=kl_divergence(p, q_joint),
        kl_conditional=kl_divergence(p, q_conditional),
        infonce=float(infonce),
        batch_pairs=batch_pairs,
    )


def _log_kernel_matrix(kernel: kernels.Kernel, z: Array) -> Array:
    if isinstance(kernel, kernels.Cosine):
        unit = z / np.linalg.norm(z, axis=1, keepdims=True)
        return (unit @ unit.T) / kernel.t
    squared = np.sum((z[:, None, :] - z[None, :, :]) ** 2, axis=-1)
    return kernel.elementwise(torch.from_numpy(squared)).numpy()
