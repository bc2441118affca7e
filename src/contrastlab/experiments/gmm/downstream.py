"""Downstream scores of a projection, shared by the Gaussian and the real-data parts of ``gmm``."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import normalized_mutual_info_score
from sklearn.neighbors import NearestCentroid

from contrastlab.analysis.graphs import kmeans_labels

__all__ = ["downstream"]


def downstream(
    basis: NDArray[np.float64],
    X: NDArray[np.float64],
    y: NDArray[np.int64],
    Xe: NDArray[np.float64],
    ye: Any,
    k: int,
    seed: int,
) -> dict[str, float]:
    """Nearest-centroid accuracy (centroids from ``(X, y)``) and k-means NMI (``k`` clusters) of
    the held-out ``(Xe, ye)``, both in the projected space ``x -> basis^T x``."""
    train, test = X @ basis, Xe @ basis
    accuracy = float(NearestCentroid().fit(train, y).score(test, ye))
    nmi = float(normalized_mutual_info_score(ye, kmeans_labels(test, k, seed)))
    return {"nc_accuracy": accuracy, "kmeans_nmi": nmi}
