"""The free-embedding trainers on tiny graphs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from contrastlab import analysis, kernels
from contrastlab.analysis.graphs import kmeans_labels
from contrastlab.errors import InputError
from contrastlab.experiments.free_embedding import fit_adam, train_free_clip, train_free_embedding


def _adam_reference(
    grad, x0: np.ndarray, steps: int, lr: float, loss
) -> tuple[np.ndarray, list[float]]:
    """Adam (Kingma and Ba 2015, torch's defaults b1 = 0.9, b2 = 0.999, eps = 1e-8) in float64
    NumPy: the losses before each update and the final point."""
    x, m, v = x0.copy(), np.zeros_like(x0), np.zeros_like(x0)
    losses = []
    for t in range(1, steps + 1):
        losses.append(loss(x))
        g = grad(x)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        x = x - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return x, losses


def test_free_embedding_separates_cliques_and_logs():
    A, labels = analysis.planted_partition(3, 5, p=1.0, q=0.0)
    P = A.toarray() / A.toarray().sum(axis=1, keepdims=True)
    logged: list[int] = []
    result = train_free_embedding(
        P,
        "gaussian",
        dim=3,
        steps=100,
        lr=0.1,
        log_every=40,
        on_log=lambda step, Z, H: logged.append(step),
    )
    assert logged == [0, 40, 80, 100]
    Z = result.embedding
    assert Z.shape == (15, 3)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-12)  # sphere kernel
    assert result.losses[-1] < result.losses[0]
    assert normalized_mutual_info_score(labels, kmeans_labels(Z, 3)) == pytest.approx(1.0)


def test_free_embedding_student_t_is_not_normalised():
    A, _ = analysis.planted_partition(2, 4, p=1.0, q=0.0)
    P = A.toarray() / A.toarray().sum(axis=1, keepdims=True)
    Z = train_free_embedding(P, kernels.StudentT(), dim=2, steps=5).embedding
    assert not np.allclose(np.linalg.norm(Z, axis=1), 1.0)


def test_free_clip_on_bipartite_cliques():
    B, la, lb = analysis.bipartite_planted_partition(2, 6, 6, p=1.0, q=0.0)
    result = train_free_clip(B, "gaussian", dim=2, steps=80, batch_size=32, lr=0.1)
    assert result.embedding_a.shape == (12, 2) and result.embedding_b.shape == (12, 2)
    assert np.mean(result.losses[-10:]) < np.mean(result.losses[:10])


def test_fit_adam_follows_adam_on_a_quadratic_and_passes_the_step():
    import torch

    rng = np.random.default_rng(0)
    scale, centre, x0 = rng.uniform(0.5, 3.0, 4), rng.standard_normal(4), rng.standard_normal(4)

    def loss(x):
        return float(np.sum(scale * (x - centre) ** 2))

    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    seen: list[int] = []

    def loss_at(step: int) -> torch.Tensor:
        seen.append(step)
        return torch.sum(torch.as_tensor(scale) * (x - torch.as_tensor(centre)) ** 2)

    history = fit_adam([x], loss_at, steps=25, lr=0.1)
    final, expected = _adam_reference(lambda y: 2 * scale * (y - centre), x0, 25, 0.1, loss)
    assert seen == list(range(25))
    np.testing.assert_allclose(history, expected, rtol=1e-12)
    np.testing.assert_allclose(x.detach().numpy(), final, rtol=1e-12)
    with pytest.raises(InputError, match="lr"):
        fit_adam([x], loss_at, steps=1, lr=0.0)


def test_bad_arguments():
    with pytest.raises(InputError, match="steps"):
        train_free_embedding(np.eye(2)[::-1], "gaussian", dim=2, steps=0)
    with pytest.raises(InputError, match="square"):
        train_free_embedding(np.ones((2, 3)), "gaussian", dim=2, steps=1)
    with pytest.raises(InputError, match="no edges"):
        train_free_clip(np.zeros((2, 2)), "gaussian", dim=2, steps=1)
