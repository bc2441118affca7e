"""Collapse measures against the formulas written out here in float64 loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from contrastlab import analysis
from contrastlab.analysis.collapse import COLLAPSE_RANK, collapse_warning, uniform_loss
from contrastlab.errors import InputError


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.sqrt((rows**2).sum(axis=1, keepdims=True))


def reference_alignment(a: np.ndarray, b: np.ndarray, alpha: float) -> float:
    a, b = _unit(a), _unit(b)
    return sum(
        math.sqrt(sum((x - y) ** 2 for x, y in zip(u, v))) ** alpha for u, v in zip(a, b)
    ) / len(a)


def reference_uniformity(z: np.ndarray, t: float) -> float:
    z = _unit(z)
    terms = [
        math.exp(-t * sum((x - y) ** 2 for x, y in zip(z[i], z[j])))
        for i in range(len(z))
        for j in range(i + 1, len(z))
    ]
    return math.log(sum(terms) / len(terms))


def reference_effective_rank(z: np.ndarray, eps: float = 1e-7) -> float:
    # singular values as square roots of the Gram matrix's eigenvalues (another route than SVD)
    eigen = np.clip(np.linalg.eigvalsh(z.T @ z if z.shape[0] >= z.shape[1] else z @ z.T), 0, None)
    s = np.sqrt(eigen)
    p = [v / s.sum() + eps for v in s]
    return math.exp(-sum(q * math.log(q) for q in p))


@pytest.mark.parametrize("seed", [0, 1])
def test_against_the_formulas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(40, 5))
    z2 = z1 + 0.3 * rng.normal(size=(40, 5))
    for alpha in (1.0, 2.0):
        assert analysis.alignment(z1, z2, alpha=alpha) == pytest.approx(
            reference_alignment(z1, z2, alpha), rel=1e-10
        )
    for t in (0.5, 2.0):
        assert analysis.uniformity(z1, t=t) == pytest.approx(reference_uniformity(z1, t), rel=1e-10)
    assert analysis.effective_rank(z1) == pytest.approx(reference_effective_rank(z1), rel=1e-8)
    # tensors are accepted, float32 in, same numbers
    tensor = torch.from_numpy(z1).float()
    assert analysis.uniformity(tensor) == pytest.approx(reference_uniformity(z1, 2.0), rel=1e-5)


def test_the_extremes_the_docstrings_state() -> None:
    same = np.tile([[0.3, -1.0, 2.0]], (10, 1))
    assert analysis.uniformity(same) == pytest.approx(0.0, abs=1e-12)
    assert analysis.alignment(same, same) == 0.0
    assert analysis.effective_rank(same) == pytest.approx(1.0, abs=1e-5)
    assert analysis.effective_rank(np.eye(6)) == pytest.approx(6.0, rel=1e-5)
    opposite = analysis.alignment(np.eye(3), -np.eye(3))  # antipodal views: ||u - v|| = 2
    assert opposite == pytest.approx(4.0)
    spread = np.random.default_rng(0).normal(size=(400, 256))
    assert -4.1 < analysis.uniformity(spread) < -3.8  # about -t * 2 for a high-dim sphere
    # not normalised: the raw distances
    raw = analysis.alignment(np.zeros((2, 2)) + [1, 0], np.zeros((2, 2)) + [3, 0], normalize=False)
    assert raw == pytest.approx(4.0)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="same shape"):
        analysis.alignment(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(InputError, match="all-zero row"):
        analysis.uniformity(np.zeros((3, 2)))
    with pytest.raises(InputError, match="non-finite"):
        analysis.effective_rank(np.array([[np.nan, 1.0], [1.0, 1.0]]))
    with pytest.raises(InputError, match="t must be"):
        analysis.uniformity(np.eye(3), t=0)


def test_the_collapse_rule() -> None:
    level = uniform_loss(128)
    assert level == pytest.approx(math.log(255))
    assert collapse_warning(COLLAPSE_RANK + 0.1, 0.9 * level, level) == ""
    assert "effective rank 1.20 < 2" in collapse_warning(1.2, 0.5 * level, level)
    assert "within 1% of log(2B - 1)" in collapse_warning(5.0, 0.995 * level, level)
    assert collapse_warning(5.0, 0.985 * level, level) == ""
