"""The real-data check of the ``gmm`` reproduction, in small: linear InfoNCE against LDA on
frozen features of scikit-learn's digits.

The paper's argument does not need Gaussian data: with positives drawn as two samples of the same
class, a linear map trained with InfoNCE on fixed features should find what LDA finds on those
features. Choices fixed here (the paper's real-data pipeline could not be confirmed):

- **Frozen features**: ``phi(x) = relu(W z + b)``, ``z`` the standardised 64 pixels,
  ``W ~ N(0, 1/64)``, ``b ~ N(0, 1)`` of width ``real_width``, drawn once from seed 0 and never
  trained (a stand-in for a frozen pretrained encoder; ``real_width = 0`` uses the pixels
  themselves). The features are centred and scaled by the training split's mean and standard
  deviation (the same coordinates for every method).
- **Positives**: two distinct training images of the same digit
  (``data.gmm.finite_positive_pairs``), the "perfect augmentation" of the Gaussian setting.
- **Encoder**: linear, no bias, rank ``k - 1 = 9``, the experiment's kernel, Adam.
- **References**: LDA (scikit-learn, with labels) fitted on the training split: its 9-dimensional
  discriminant subspace ``L``; the class-mean span; PCA (top 9); a random subspace.
- **Measures**: captured fraction of ``L`` by each subspace, ``trace(P_U P_L) / 9``; on the test
  split, k-means NMI (k = 10) and nearest-centroid accuracy in each projected space.

Each seed draws a new train/test split (30% held out), InfoNCE start, pairs and random subspace.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from contrastlab.analysis.subspaces import (
    captured_fraction,
    lda_subspace,
    mean_span_subspace,
    orthonormal_basis,
    pca_subspace,
)
from contrastlab.data.gmm import finite_positive_pairs
from contrastlab.data.sources import load_digits
from contrastlab.experiments.free_embedding import train_linear_infonce
from contrastlab.experiments.gmm.downstream import downstream
from contrastlab.kernels import Kernel

__all__ = ["REAL_METHODS", "digits_features", "real_point"]

Array = NDArray[np.float64]
REAL_METHODS = ("infonce", "lda", "mean_span", "pca", "random")
TEST_FRACTION = 0.3


def digits_features(width: int, split_seed: int) -> tuple[Array, NDArray[np.int64], Array, Any]:
    """Frozen features of the digits split ``split_seed``: ``(X_train, y_train, X_test, y_test)``,
    standardised by the training split (features constant on it are dropped)."""
    data = load_digits(test_fraction=TEST_FRACTION, split_seed=split_seed)
    assert data.train_y is not None and data.test_y is not None  # digits are labelled
    train = data.train_x.reshape(len(data.train_x), -1).double().numpy() / 255.0
    test = data.test_x.reshape(len(data.test_x), -1).double().numpy() / 255.0
    mean, sd = train.mean(axis=0), train.std(axis=0)
    keep = sd > 1e-8
    train, test = (train[:, keep] - mean[keep]) / sd[keep], (test[:, keep] - mean[keep]) / sd[keep]
    if width > 0:
        rng = np.random.default_rng(0)  # the frozen map: one draw, the same for every split
        weights = rng.standard_normal((64, width)) / 8.0
        bias = rng.standard_normal(width)
        # drawn for all 64 pixels; the rows of pixels constant on this split are not used
        used = weights[keep]
        train, test = np.maximum(train @ used + bias, 0.0), np.maximum(test @ used + bias, 0.0)
        mean, sd = train.mean(axis=0), train.std(axis=0)
        keep = sd > 1e-8
        train = (train[:, keep] - mean[keep]) / sd[keep]
        test = (test[:, keep] - mean[keep]) / sd[keep]
    return train, data.train_y.numpy().astype(np.int64), test, data.test_y.numpy()


def real_point(
    kernel: Kernel, width: int, steps: int, batch_size: int, lr: float, seed: int
) -> dict[str, dict[str, float]]:
    """Every method on one split and seed: captured fraction of the LDA subspace, NMI, accuracy."""
    X, y, Xe, ye = digits_features(width, seed)
    k = len(np.unique(y))
    rng = np.random.default_rng([seed, 5])
    trained = train_linear_infonce(
        lambda n, r: finite_positive_pairs(X, y, n, r)[:2],
        X.shape[1],
        k - 1,
        kernel,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
    )
    lda = lda_subspace(X, y)
    bases = {
        "infonce": orthonormal_basis(trained.weights[0].T),
        "lda": lda,
        "mean_span": mean_span_subspace(X, y),
        "pca": pca_subspace(X, k - 1),
        "random": orthonormal_basis(rng.standard_normal((X.shape[1], k - 1))),
    }
    out = {
        method: {
            "captured_lda": captured_fraction(basis, lda),
            **downstream(basis, X, y, Xe, ye, k, seed),
        }
        for method, basis in bases.items()
    }
    out["infonce"]["final_loss"] = float(np.mean(trained.losses[-20:]))
    return out
