"""The SNE toy's measures (the uniform circle's uniformity, cluster shares) against references
written from their definitions, and noise against mixup against scipy's paired t-test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from contrastlab import analysis
from contrastlab.experiments.sne import toy, variants


def test_the_uniform_circle_value_is_the_integral():
    # E exp(-2 ||u - v||^2) = (1 / 2 pi) int exp(-4 (1 - cos theta)) d theta
    value, _ = integrate.quad(lambda a: math.exp(-4.0 * (1.0 - math.cos(a))), 0.0, 2 * math.pi)
    assert toy.circle_uniformity() == pytest.approx(math.log(value / (2 * math.pi)), rel=1e-10)
    # many evenly spaced points on the circle approach it
    angles = np.linspace(0.0, 2 * math.pi, 720, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    assert analysis.uniformity(ring) == pytest.approx(toy.circle_uniformity(), abs=0.01)


def test_cluster_shares_of_even_and_crowded_circles():
    labels = np.repeat(np.arange(5), 40)
    even = 2 * math.pi * (labels + np.tile(np.linspace(-0.3, 0.3, 40), 5)) / 5
    shares = toy.cluster_shares(np.stack([np.cos(even), np.sin(even)], 1), labels)
    np.testing.assert_allclose(shares, 0.2)
    # two clusters on top of each other: their points split between them, each under its 0.2
    crowded = even.copy()
    crowded[labels == 1] = even[labels == 0]
    shares = toy.cluster_shares(np.stack([np.cos(crowded), np.sin(crowded)], 1), labels)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[0] + shares[1] == pytest.approx(0.4) and min(shares[0], shares[1]) < 0.2


def test_toy_points_are_five_gaussians_at_the_stated_centres():
    x, labels = toy.toy_points(2000, seed=1)
    assert x.shape == (10_000, 2) and np.bincount(labels).tolist() == [2000] * 5
    for c, centre in enumerate(toy.TOY_CENTRES):
        np.testing.assert_allclose(x[labels == c].mean(0), centre, atol=0.05)
        np.testing.assert_allclose(x[labels == c].std(0), toy.TOY_SPREAD, rtol=0.06)


def test_mixup_against_noise_is_seed_paired():
    noise = [0.80, 0.84, 0.78]
    mixup = [0.83, 0.85, 0.82]
    rows = [
        {"augment": a, "seed": s, "knn_top1_k20": v, "linear_top1": v + 0.01}
        for a, values in (("noise", noise), ("mixup", mixup))
        for s, v in reversed(list(enumerate(values)))  # out of seed order
    ]
    out = variants.augmentation_comparison(rows)
    reference = stats.ttest_rel(mixup, noise, alternative="greater")
    assert out["knn_top1_k20.gain"] == pytest.approx(np.mean(np.subtract(mixup, noise)))
    assert out["knn_top1_k20.p_mixup_better"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert out["linear_top1.noise"] == pytest.approx(np.mean(noise) + 0.01)
    assert out["seeds"] == 3.0
