"""Seed-paired comparisons for the reproductions' rules: a one-sided paired t-test, Holm's
step-down correction, and the one-sided upper confidence bound that tells "not supported" from
"cannot tell".

Runs of two methods with the same seed share the initialisation stream, the augmentations and the
batch order of that seed, so the per-seed differences ``d_s = a_s - b_s`` are the unit of evidence:

* mean gain ``d = mean_s d_s``, standard error ``se = sd(d_s) / sqrt(n)`` (sample sd, ``n - 1``);
* one-sided p-value of "a > b": ``p = P(T_{n-1} >= d / se)``, Student's t with ``n - 1`` degrees
  of freedom (``se = 0``: ``p = 0`` when ``d > 0``, else 1);
* upper bound at level ``alpha``: ``d + t_{1-alpha, n-1} * se``, the largest gain the seeds do not
  rule out (``se = 0``: ``d`` itself).

Holm (1979) over ``m`` such p-values, sorted ``p_(1) <= ... <= p_(m)``: adjusted
``p~_(k) = max_{j <= k} min(1, (m - j + 1) p_(j))``; reject where ``p~ <= alpha``. It bounds the
chance of any false "a > b" by ``alpha`` without assuming the tests independent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: The one-sided normal tail beyond 2 standard errors, 1 - Phi(2): "a gain of 2 standard errors".
TWO_SIGMA_ONE_SIDED = 0.5 * math.erfc(2.0 / math.sqrt(2.0))


@dataclass(frozen=True)
class PairedGain:
    """The seed-paired comparison of ``a`` against ``b`` (see the module's formulas)."""

    gain: float
    standard_error: float
    p_value: float
    n: int

    def upper_bound(self, alpha: float) -> float:
        """``gain + t_{1-alpha, n-1} * se``: the largest gain the seeds do not rule out at level
        ``alpha`` (infinite for fewer than two seeds)."""
        from scipy import stats

        if self.n < 2:
            return math.inf
        if self.standard_error == 0.0:
            return self.gain
        return self.gain + float(stats.t.ppf(1.0 - alpha, self.n - 1)) * self.standard_error


def paired_gain(a: Sequence[float], b: Sequence[float]) -> PairedGain:
    """The one-sided paired t-test of "a > b" over seeds; ``a[s]`` and ``b[s]`` share seed ``s``.

    Raises:
        ValueError: sequences of different lengths, or empty.
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"paired_gain: equal non-empty 1-d sequences, got {x.shape}, {y.shape}")
    d = x - y
    n, gain = int(d.size), float(d.mean())
    if n < 2:
        return PairedGain(gain, math.inf, 1.0, n)
    se = float(d.std(ddof=1) / math.sqrt(n))
    if se == 0.0:
        return PairedGain(gain, 0.0, 0.0 if gain > 0 else 1.0, n)
    return PairedGain(gain, se, float(stats.t.sf(gain / se, n - 1)), n)


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's adjusted p-values, by the same keys (reject a hypothesis where its value <= alpha)."""
    order = sorted(p_values, key=lambda key: p_values[key])
    m, running, adjusted = len(order), 0.0, {}
    for k, key in enumerate(order):
        running = max(running, min(1.0, (m - k) * p_values[key]))
        adjusted[key] = running
    return adjusted
