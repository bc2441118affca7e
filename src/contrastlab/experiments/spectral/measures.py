"""Shared measurements of the spectral experiment: soft targets, the spectral subspace, scores."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from contrastlab.analysis.subspaces import orthonormal_basis
from contrastlab.errors import InputError

__all__ = ["clustering_scores", "nonconstant_bottom", "targets"]

Array = NDArray[np.float64]


def targets(adjacency: sp.csr_matrix) -> Array:
    """``P = D^-1 pi``: the rows of the adjacency normalised (dense).

    Raises:
        InputError: an isolated object (a zero row).
    """
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    if np.any(degree == 0):
        raise InputError(
            f"graph has {int(np.sum(degree == 0))} isolated objects; raise p or q (or m)"
        )
    return adjacency.toarray() / degree[:, None]


def nonconstant_bottom(vectors: Array, k: int) -> Array:
    """Orthonormal basis of the span of ``vectors`` with the constant direction removed
    (``k - 1`` columns): centre, orthonormalise, keep the first ``k - 1``."""
    basis = orthonormal_basis(vectors - vectors.mean(axis=0), rtol=1e-8)
    return basis[:, : k - 1]


def clustering_scores(labels: NDArray[np.int64], truth: NDArray[np.int64]) -> dict[str, float]:
    """NMI and ARI of ``labels`` against ``truth`` (scikit-learn)."""
    return {
        "nmi": float(normalized_mutual_info_score(truth, labels)),
        "ari": float(adjusted_rand_score(truth, labels)),
    }
