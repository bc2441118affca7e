"""The ``kernel_comparison`` rule of ``reproduce kernels`` on constructed summaries, both ways.

Rule (fixed before any result): the better mixture (kernel_sum or concat, by mean linear
accuracy) beats cosine by more than 1 pooled standard error sqrt(sd_a^2/n_a + sd_b^2/n_b).
The numbers below are powers of two where the verdict sits on the threshold, so the gain and
the standard error are exact.
"""

from __future__ import annotations

import math

import pytest

from contrastlab.experiments.kernels import claims as experiment

from .claim_checks import above, assert_claim


def _entry(linear: float, sd: float, n: int) -> dict[str, float]:
    """A kernel's summary: linear mean and sd over n seeds; kNN and time set from them."""
    return {
        "n": float(n),
        "linear_top1_mean": linear,
        "linear_top1_sd": sd,
        "knn_top1_k20_mean": linear - 0.01,
        "knn_top1_k20_sd": sd / 2,
        "knn_top1_k200_mean": linear - 0.02,
        "knn_top1_k200_sd": sd / 4,
        "train_seconds_mean": 10.0 * n,
        "train_seconds_sd": 1.0,
        "images_per_second_mean": 500.0,
        "images_per_second_sd": 5.0,
    }


def _pooled(a: dict[str, float], b: dict[str, float]) -> float:
    """The pooled standard error from its formula."""
    return math.sqrt(a["linear_top1_sd"] ** 2 / a["n"] + b["linear_top1_sd"] ** 2 / b["n"])


@pytest.mark.parametrize(
    "mixture, cosine, supported",
    [
        # SE = 0.25 / sqrt(4) = 0.125 from the mixture alone; gain 0.125: not more than 1 SE
        ((0.625, 0.25, 4), (0.5, 0.0, 4), False),
        ((above(0.625), 0.25, 4), (0.5, 0.0, 4), True),
        # the same from cosine's spread alone, with 16 seeds: 0.5 / sqrt(16)
        ((0.625, 0.0, 4), (0.5, 0.5, 16), False),
        ((above(0.625), 0.0, 4), (0.5, 0.5, 16), True),
        # no spread: any positive gain is enough, none is not
        ((0.5, 0.0, 3), (0.5, 0.0, 3), False),
        ((above(0.5), 0.0, 3), (0.5, 0.0, 3), True),
    ],
)
def test_kernel_comparison_gain_against_one_pooled_standard_error(mixture, cosine, supported):
    summary = {"cosine": _entry(*cosine), "concat": _entry(*mixture)}
    claim = experiment.comparison_claim(summary)
    evidence = {}
    for name, entry in summary.items():
        for score, short in (("knn_top1_k20", "knn20"), ("knn_top1_k200", "knn200")):
            evidence[f"{short}_mean.{name}"] = entry[f"{score}_mean"]
            evidence[f"{short}_sd.{name}"] = entry[f"{score}_sd"]
        evidence[f"linear_mean.{name}"] = entry["linear_top1_mean"]
        evidence[f"linear_sd.{name}"] = entry["linear_top1_sd"]
        evidence[f"train_seconds_mean.{name}"] = entry["train_seconds_mean"]
    evidence.update(
        {
            "best_mixture_gain": mixture[0] - cosine[0],
            "pooled_standard_error": _pooled(summary["concat"], summary["cosine"]),
            "best_mixture_is_concat": 1.0,
            "seeds": float(cosine[2]),
        }
    )
    assert_claim(
        claim,
        id="kernel_comparison",
        supported=supported,
        evidence=evidence,
        rule_mentions=("kernel_sum, concat", "> 1 x pooled standard error"),
    )


@pytest.mark.parametrize(
    "kernel_sum, concat, best_is_concat, supported",
    [
        # the better mixture by mean decides, even where the other has the smaller spread
        (0.75, 0.625, 0.0, False),  # kernel_sum: gain 0.25, SE 0.5 / 2
        (0.625, 0.75, 1.0, True),  # concat: gain 0.25, SE 0
    ],
)
def test_kernel_comparison_uses_the_better_mixture_by_mean(
    kernel_sum, concat, best_is_concat, supported
):
    summary = {
        "cosine": _entry(0.5, 0.0, 4),
        "kernel_sum": _entry(kernel_sum, 0.5 if kernel_sum > concat else 0.0, 4),
        "concat": _entry(concat, 0.5 if concat < kernel_sum else 0.0, 4),
    }
    claim = experiment.comparison_claim(summary)
    best = "concat" if best_is_concat else "kernel_sum"
    assert claim.supported is supported
    assert claim.evidence["best_mixture_is_concat"] == best_is_concat
    assert claim.evidence["best_mixture_gain"] == 0.25
    assert claim.evidence["pooled_standard_error"] == _pooled(summary[best], summary["cosine"])


def test_student_t_is_reported_beside_the_rule_but_does_not_decide_it():
    summary = {
        "cosine": _entry(0.5, 0.125, 4),
        "kernel_sum": _entry(0.5, 0.0, 4),
        "student_t": _entry(0.875, 0.25, 16),  # far better than cosine: not in the rule
    }
    claim = experiment.comparison_claim(summary)
    assert claim.supported is False
    assert claim.evidence["student_t_gain"] == 0.375
    assert claim.evidence["student_t_pooled_standard_error"] == pytest.approx(
        _pooled(summary["student_t"], summary["cosine"]), rel=1e-12
    )
    assert claim.evidence["seeds"] == 4.0
