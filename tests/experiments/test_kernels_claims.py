"""The ``kernel_comparison`` rule of ``reproduce kernels`` on constructed runs, each way.

Rule (fixed before any result): per mixture, a one-sided paired t-test over seeds of its linear
top-1 minus cosine's; Holm over the mixtures at alpha = 1 - Phi(2) = 0.02275; supported when
some mixture passes; inconclusive at the ceiling (a mean linear top-1 >= 0.98) or when no mixture
passes and a mixture's upper bound d + t(1 - alpha/m, n-1) se reaches the effect asked,
0.119 x (1 - cosine's mean); otherwise not supported. The references below are scipy's
``ttest_rel`` and Holm written out by hand, never the module under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from contrastlab.experiments import _paired
from contrastlab.experiments.kernels import claims as experiment

from .claim_checks import below

ALPHA = 0.5 * math.erfc(math.sqrt(2.0))  # 1 - Phi(2), written from its definition


def _rows(linear: list[float], seeds: list[int] | None = None) -> list[dict[str, float]]:
    seeds = list(range(len(linear))) if seeds is None else seeds
    return [
        {
            "seed": s,
            "linear_top1": v,
            "knn_top1_k20": v - 0.01,
            "knn_top1_k200": v - 0.02,
            "train_seconds": 2.0,
        }
        for s, v in zip(seeds, linear)
    ]


def _runs(cosine: list[float], **others: list[float]) -> dict[str, list[dict[str, float]]]:
    return {"cosine": _rows(cosine), **{k: _rows(v) for k, v in others.items()}}


def _shifted(base: list[float], differences: list[float]) -> list[float]:
    return [b + d for b, d in zip(base, differences)]


BASE = [0.60, 0.62, 0.58, 0.61, 0.59]  # cosine, mean 0.60: effect asked 0.119 * 0.4 = 0.0476


def test_alpha_is_two_standard_errors_one_sided():
    assert experiment.ALPHA == pytest.approx(ALPHA, rel=1e-12)
    assert ALPHA == pytest.approx(0.02275, abs=1e-5)
    assert stats.norm.sf(2.0) == pytest.approx(ALPHA, rel=1e-12)


def test_paired_gain_equals_scipys_paired_t_test():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.6, 0.02, 6), rng.normal(0.59, 0.02, 6)
    test = _paired.paired_gain(a, b)
    reference = stats.ttest_rel(a, b, alternative="greater")
    assert test.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert test.gain == pytest.approx(float(np.mean(a - b)), abs=1e-15)
    assert test.standard_error == pytest.approx(np.std(a - b, ddof=1) / math.sqrt(6), rel=1e-12)
    bound = test.gain + stats.t.ppf(1 - 0.01, 5) * test.standard_error
    assert test.upper_bound(0.01) == pytest.approx(bound, rel=1e-12)


def test_holm_step_down_by_hand():
    # sorted 0.01, 0.02, 0.04 against 3, 2, 1: 0.03, 0.04, max(0.04, 0.04)
    adjusted = _paired.holm({"a": 0.02, "b": 0.01, "c": 0.04})
    assert adjusted == pytest.approx({"b": 0.03, "a": 0.04, "c": 0.04}, rel=1e-12)
    # monotone: a later raw p times its smaller factor cannot fall below an earlier adjusted one
    assert _paired.holm({"a": 0.01, "b": 0.011}) == pytest.approx({"a": 0.02, "b": 0.02})


def test_a_clear_paired_gain_is_supported():
    runs = _runs(BASE, kernel_sum=_shifted(BASE, [0.03, 0.032, 0.028, 0.031, 0.029]))
    claim = experiment.comparison_claim(runs)
    assert claim.verdict == "supported" and claim.conclusive
    assert claim.evidence["paired_gain.kernel_sum"] == pytest.approx(0.03, abs=1e-12)
    assert claim.evidence["effect_asked"] == pytest.approx(0.119 * 0.4, rel=1e-12)
    assert claim.evidence["seeds"] == 5.0
    for text in ("paired t-test", "Holm", "0.02275", "0.98", "0.119"):
        assert text in claim.rule


def test_the_pairing_is_by_seed_not_by_row_order():
    # a shared seed effect of 0.2 swamps an unpaired test; the paired differences are all 0.01
    cosine = [0.5, 0.6, 0.7, 0.8]
    mixture = _rows([0.81, 0.51, 0.71, 0.61], seeds=[3, 0, 2, 1])  # rows out of seed order
    runs = {"cosine": _rows(cosine), "concat": mixture}
    claim = experiment.comparison_claim(runs)
    assert claim.evidence["paired_gain.concat"] == pytest.approx(0.01, abs=1e-12)
    assert claim.evidence["paired_standard_error.concat"] == pytest.approx(0.0, abs=1e-12)
    assert claim.supported is True
    # an unpaired test of the same numbers sees nothing
    assert stats.ttest_ind([0.51, 0.61, 0.71, 0.81], cosine, alternative="greater").pvalue > 0.4


def _threshold_case(t_factor: float) -> dict[str, list[dict[str, float]]]:
    """One mixture whose paired t statistic is ``t_factor`` times the one-sided critical value
    at ALPHA (m = 1): differences g + c * (1, -1, 1, -1), se = c / sqrt(3)."""
    c = 0.004
    se = c * math.sqrt(4 / 3) / 2
    g = t_factor * stats.t.isf(ALPHA, 3) * se
    diffs = [g + c, g - c, g + c, g - c]
    return _runs(BASE[:4], kernel_sum=_shifted(BASE[:4], diffs))


@pytest.mark.parametrize("factor, supported", [(1.0001, True), (0.9999, False)])
def test_the_threshold_is_two_sigma_one_sided(factor, supported):
    claim = experiment.comparison_claim(_threshold_case(factor))
    assert claim.supported is supported
    p = claim.evidence["p_holm.kernel_sum"]
    assert (p <= ALPHA) is supported


def test_holm_stops_two_borderline_mixtures_that_each_pass_alone():
    # each raw p about 0.015 (< alpha) but above alpha / 2: Holm rejects neither
    t_crit = stats.t.isf(0.015, 3)
    c = 0.004
    g = t_crit * c * math.sqrt(4 / 3) / 2
    diffs = [g + c, g - c, g + c, g - c]
    runs = _runs(
        BASE[:4],
        kernel_sum=_shifted(BASE[:4], diffs),
        concat=_shifted(BASE[:4], diffs[::-1]),
    )
    claim = experiment.comparison_claim(runs)
    assert claim.evidence["p_one_sided.kernel_sum"] == pytest.approx(0.015, rel=1e-9)
    assert claim.evidence["p_holm.kernel_sum"] == pytest.approx(0.03, rel=1e-9)
    assert claim.supported is False
    alone = experiment.comparison_claim({k: runs[k] for k in ("cosine", "kernel_sum")})
    assert alone.supported is True  # the same mixture on its own passes


def test_no_gain_with_tight_seeds_is_not_supported():
    runs = _runs(
        BASE,
        kernel_sum=_shifted(BASE, [0.002, -0.001, 0.0, -0.002, 0.001]),
        concat=_shifted(BASE, [-0.003, 0.001, -0.001, 0.0, 0.002]),
    )
    claim = experiment.comparison_claim(runs)
    assert claim.verdict == "not supported" and claim.conclusive
    assert max(claim.evidence["upper_bound.kernel_sum"], claim.evidence["upper_bound.concat"]) < (
        0.119 * 0.4
    )


def test_no_gain_with_wide_seeds_is_inconclusive():
    runs = _runs(BASE, kernel_sum=_shifted(BASE, [0.06, -0.05, 0.04, -0.03, 0.02]))
    claim = experiment.comparison_claim(runs)
    assert claim.verdict == "inconclusive" and "too few seeds" in claim.reason
    assert claim.evidence["upper_bound.kernel_sum"] >= claim.evidence["effect_asked"]


def test_one_wide_mixture_keeps_a_tight_null_mixture_inconclusive():
    runs = _runs(
        BASE,
        kernel_sum=_shifted(BASE, [0.002, -0.001, 0.0, -0.002, 0.001]),
        concat=_shifted(BASE, [0.06, -0.05, 0.04, -0.03, 0.02]),
    )
    assert experiment.comparison_claim(runs).verdict == "inconclusive"


@pytest.mark.parametrize("top, conclusive", [(0.98, False), (below(0.98), True)])
def test_the_ceiling_makes_even_a_clear_gain_inconclusive(top, conclusive):
    cosine = [top - 0.01] * 4
    mixture = [top] * 4  # mean exactly ``top``: four equal floats
    claim = experiment.comparison_claim(_runs(cosine, concat=mixture))
    assert claim.conclusive is conclusive
    assert claim.supported is conclusive  # a gain of 0.01 on every seed
    if not conclusive:
        assert "ceiling" in claim.reason


def test_a_single_seed_is_inconclusive():
    claim = experiment.comparison_claim(_runs([0.6], kernel_sum=[0.7]))
    assert claim.verdict == "inconclusive"
    assert claim.evidence["seeds"] == 1.0


def test_student_t_is_reported_beside_the_rule_but_does_not_decide_it():
    runs = _runs(
        BASE,
        kernel_sum=_shifted(BASE, [0.002, -0.001, 0.0, -0.002, 0.001]),
        student_t=_shifted(BASE, [0.1, 0.11, 0.09, 0.1, 0.1]),
    )
    claim = experiment.comparison_claim(runs)
    assert claim.verdict == "not supported"
    assert claim.evidence["paired_gain.student_t"] == pytest.approx(0.1, abs=1e-12)
    assert "p_holm.student_t" not in claim.evidence
