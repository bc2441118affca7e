"""The regime parts of ``reproduce spectral``: full-batch CLIP, mini-batch InfoNCE, the sweep's
reference threshold and the SVD baseline, against references written from the formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from contrastlab import kernels, losses
from contrastlab.analysis.graphs import bipartite_spectral_embedding
from contrastlab.analysis.subspaces import subspace_alignment
from contrastlab.data.graphs import bipartite_planted_partition
from contrastlab.errors import InputError
from contrastlab.experiments.spectral.regimes import _nonconstant, detection_threshold
from contrastlab.experiments.spectral.trainers import (
    sample_positives,
    soft_target_clip,
    train_full_batch_clip,
    train_minibatch_embedding,
)


def _clip_reference(a: np.ndarray, b: np.ndarray, B: np.ndarray, t: float) -> float:
    """H_clip from its definition, float64 loops, Gaussian kernel on the sphere."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    l = np.array([[-np.sum((x - y) ** 2) / t for y in b] for x in a])
    total = 0.0
    for i in range(len(a)):
        total += -np.sum(B[i] / B[i].sum() * l[i]) + np.log(np.sum(np.exp(l[i])))
    for j in range(len(b)):
        total += -np.sum(B[:, j] / B[:, j].sum() * l[:, j]) + np.log(np.sum(np.exp(l[:, j])))
    return total


def _forward_backward(B: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.as_tensor(B / B.sum(axis=1, keepdims=True)),
        torch.as_tensor(B.T / B.T.sum(axis=1, keepdims=True)),
    )


@pytest.mark.parametrize("seed", range(3))
def test_soft_target_clip_matches_the_formula(seed):
    rng = np.random.default_rng(seed)
    na, nb, d, t = 7, 5, 3, float(rng.uniform(0.2, 1.0))
    B = (rng.random((na, nb)) < 0.5).astype(float) * rng.random((na, nb))
    B[np.arange(na), np.arange(na) % nb] += 0.5  # no empty row or column
    B[np.arange(nb) % na, np.arange(nb)] += 0.5
    a, b = rng.standard_normal((na, d)), rng.standard_normal((nb, d))
    kernel = kernels.Gaussian(t=t)
    za, zb = kernel.prepare(torch.as_tensor(a)), kernel.prepare(torch.as_tensor(b))
    value = float(soft_target_clip(za, zb, *_forward_backward(B), kernel))
    assert value == pytest.approx(_clip_reference(a, b, B, t), rel=1e-12)


def test_soft_target_clip_with_one_edge_per_object_is_the_clip_loss():
    """A perfect matching as the graph: every object has exactly its pair as positive, so the
    sum over both directions is 2n times the library's (mean, symmetric) CLIP loss."""
    gen = torch.Generator().manual_seed(0)
    a, b = (
        torch.randn(6, 4, generator=gen, dtype=torch.float64),
        torch.randn(6, 4, generator=gen, dtype=torch.float64),
    )
    kernel = kernels.Gaussian(t=0.5)
    value = soft_target_clip(
        kernel.prepare(a), kernel.prepare(b), *_forward_backward(np.eye(6)), kernel
    )
    clip = losses.KernelCLIPLoss(kernel=kernel)(a, b)
    assert float(value) == pytest.approx(2 * 6 * float(clip), rel=1e-10)


def test_full_batch_clip_lowers_its_loss_and_rejects_isolated_objects():
    B, _, _ = bipartite_planted_partition(2, 5, 5, p=1.0, q=0.0, seed=0)
    res = train_full_batch_clip(B, kernels.Gaussian(t=0.4), dim=2, steps=60, lr=0.05, seed=1)
    assert res.embedding_a.shape == (10, 2) and res.embedding_b.shape == (10, 2)
    np.testing.assert_allclose(np.linalg.norm(res.embedding_a, axis=1), 1.0, atol=1e-12)
    assert res.losses[-1] < res.losses[0]
    again = train_full_batch_clip(B, kernels.Gaussian(t=0.4), dim=2, steps=60, lr=0.05, seed=1)
    assert again.losses == res.losses
    empty = B.toarray()
    empty[0] = 0.0
    with pytest.raises(InputError, match="isolated"):
        train_full_batch_clip(empty, kernels.Gaussian(), dim=2, steps=1)


def test_sample_positives_follow_the_rows_of_p():
    rng = np.random.default_rng(0)
    P = np.array([[0.0, 0.2, 0.8, 0.0], [0.5, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.0]])
    anchors = np.repeat(np.arange(3), 20000)
    picks = sample_positives(P, anchors, rng)
    for i in range(3):
        freq = np.bincount(picks[anchors == i], minlength=4) / 20000
        np.testing.assert_allclose(freq, P[i], atol=0.01)
        assert (freq[P[i] == 0] == 0).all()  # never a pair of zero probability


def test_minibatch_training_is_seeded_and_checks_its_batch():
    rng = np.random.default_rng(1)
    W = rng.random((12, 12))
    W = np.triu(W, 1) + np.triu(W, 1).T
    P = W / W.sum(axis=1, keepdims=True)
    kernel = kernels.Gaussian(t=0.4)
    runs = [train_minibatch_embedding(P, kernel, 3, batch=4, steps=30, seed=2) for _ in range(2)]
    assert runs[0].losses == runs[1].losses
    np.testing.assert_array_equal(runs[0].embedding, runs[1].embedding)
    np.testing.assert_allclose(np.linalg.norm(runs[0].embedding, axis=1), 1.0, atol=1e-12)
    for bad in (1, 13, 2.5):
        with pytest.raises(InputError, match="batch"):
            train_minibatch_embedding(P, kernel, 3, batch=bad, steps=1)


@pytest.mark.parametrize("k, m, p", [(5, 40, 0.5), (2, 100, 0.1), (3, 10, 0.9)])
def test_detection_threshold_solves_the_kesten_stigum_equation(k, m, p):
    n = k * m
    a = n * p

    def excess(c: float) -> float:  # (a - b)^2 - k (a + (k - 1) b), b = c a
        b = c * a
        return (a - b) ** 2 - k * (a + (k - 1) * b)

    expected = brentq(excess, 0.0, 1.0)
    assert detection_threshold(k, m, p) == pytest.approx(expected, rel=1e-10)
    assert excess(0.9 * expected) > 0 > excess(min(1.0, 1.1 * expected))  # detectable below


def test_detection_threshold_is_zero_when_never_detectable():
    assert detection_threshold(5, 2, 0.1) == 0.0  # s = k / (n p) = 5 >= 1


def test_svd_baseline_of_disjoint_bicliques_spans_the_centred_cluster_indicators():
    """With q = 0 the top singular value 1 is k-fold degenerate, so svds may return any basis
    of the indicator space; the baseline must still be the centred indicators (k - 1 dims)."""
    k = 3
    B, la, lb = bipartite_planted_partition(k, 4, 6, p=1.0, q=0.0, seed=0)
    _, U, V = bipartite_spectral_embedding(B, k, seed=0)
    for vectors, labels, degree in ((U, la, B.sum(axis=1)), (V, lb, B.sum(axis=0))):
        basis = _nonconstant(vectors, np.asarray(degree).ravel(), k)
        assert basis.shape[1] == k - 1
        indicators = np.eye(k)[labels]
        centred = indicators - indicators.mean(axis=0)
        assert subspace_alignment(basis, centred).mean_squared_cosine == pytest.approx(1.0)
        assert np.abs(basis.sum(axis=0)).max() < 1e-8  # orthogonal to the constant


def test_the_reading_names_where_clustering_and_subspace_agree():
    from contrastlab.experiments.spectral.report_regimes import where_it_holds

    def point(ratio, gap, alignment, nmi=0.5):
        return {
            "ratio": ratio,
            "nmi_gap": (gap, 0.0),
            "gaussian_alignment": (alignment, 0.0),
            "spectral_nmi": (nmi, 0.0),
        }

    sweep = [point(0.1, 0.0, 0.9), point(0.5, 0.1, 0.8), point(0.6, 0.2, 0.79, nmi=0.3)]
    text = where_it_holds(sweep, 0.59)
    assert "held (|mean NMI gap| <= 0.1) at q / p = [0.1, 0.5] of [0.1, 0.5, 0.6]" in text
    assert ">= 0.8), it held at q / p = [0.1, 0.5] and not at 0.6 (alignment 0.79" in text
    assert "q / p = 0.590" in text
