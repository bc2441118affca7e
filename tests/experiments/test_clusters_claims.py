"""The claim rules of ``reproduce clusters`` on constructed grid points, both ways.

Thresholds (fixed before any result of this version): overlapping sets are r/delta >= 0.5,
disjoint close sets 0.25 <= r/delta < 0.5, far sets r/delta <= 0.2; "clusters kept" is a mean
over seeds of k-means NMI >= 0.8 and of nearest-centroid accuracy >= 0.9 in every cell; the
disjoint claim reads the lower half of the capacities and finite m only; far sets: mean gap of
the highest capacity / lowest >= 1.5 and mean NMI lowest - highest >= 0.1; at least 3 seeds,
otherwise inconclusive.
"""

from __future__ import annotations

import numpy as np
import pytest

from contrastlab.experiments.clusters import claims as clusters

from .claim_checks import above, assert_claim, below

CAPACITIES = ["linear", "mlp-32x1", "mlp-256x2"]
SEEDS = (0, 1, 2)


def _point(ratio, capacity, nmi, gap=1.0, *, centroid=1.0, seed=0, negatives="1"):
    return {
        "seed": seed,
        "ratio": ratio,
        "capacity": capacity,
        "negatives": negatives,
        "t": 0.5,
        "kmeans_nmi": nmi,
        "centroid_accuracy": centroid,
        "intertwining_gap": gap,
    }


def _three_seeds(ratio, capacity, nmis, centroid=1.0, negatives="1"):
    """One cell over seeds 0, 1, 2 with these NMIs (their mean decides)."""
    return [
        _point(ratio, capacity, nmi, centroid=centroid, seed=s, negatives=negatives)
        for s, nmi in zip(SEEDS, nmis)
    ]


def _close_grid(nmis=(0.9, 0.9, 0.9), centroid=1.0) -> list[dict]:
    """Cells at r/delta 0.1 and 0.49 (not overlapping: poor values that must not count), 0.5
    (the overlap point itself) and 2; the cell under test is r/delta 0.5, mlp-256x2."""
    poor = [_point(0.1, "linear", 0.1, seed=s) for s in SEEDS]
    poor += [_point(0.49, "linear", 0.1, centroid=0.2, seed=s) for s in SEEDS]
    return (
        poor
        + _three_seeds(0.5, "linear", (1.0, 1.0, 1.0))
        + _three_seeds(0.5, "mlp-256x2", nmis, centroid)
        + _three_seeds(2.0, "linear", (0.875, 0.875, 0.875))
    )


@pytest.mark.parametrize(
    "nmis, centroid, supported",
    [
        ((0.65, 0.8, 0.95), 0.9, True),  # mean NMI at 0.8 (one seed below it), centroid 0.9
        ((0.8, 0.8, below(0.8)), 0.95, False),  # mean NMI just under 0.8
        ((1.0, 1.0, 1.0), below(0.9), False),  # centroid accuracy just under 0.9
    ],
)
def test_close_sets_preserved_on_the_mean_over_seeds(nmis, centroid, supported):
    claim = clusters.close_sets_claim(_close_grid(nmis, centroid))
    mean = float(np.mean(nmis))
    assert_claim(
        claim,
        id="close_sets_preserved",
        supported=supported,
        evidence={
            "cells": 3.0,
            "seeds": 3.0,
            "min_mean_kmeans_nmi@ratio=0.5": min(1.0, mean),
            "min_mean_centroid_accuracy@ratio=0.5": centroid,
            "max_std_kmeans_nmi@ratio=0.5": float(np.std(nmis)),
            "min_mean_kmeans_nmi@ratio=2": 0.875,
            "min_mean_centroid_accuracy@ratio=2": 1.0,
            "max_std_kmeans_nmi@ratio=2": 0.0,
        },
        rule_mentions=("r/delta >= 0.5", "NMI >= 0.8", "accuracy >= 0.9", "3 seeds"),
    )
    assert claim.conclusive and claim.source == ""


def test_the_intertwining_gap_is_not_a_condition_of_preservation():
    points = [_point(1.0, "mlp-256x2", 1.0, gap=30.0, seed=s) for s in SEEDS]
    assert clusters.close_sets_claim(points).supported is True


@pytest.mark.parametrize(
    "points, reason",
    [
        ([_point(0.4, "linear", 1.0, seed=s) for s in SEEDS], "no grid point"),
        ([_point(1.0, "linear", 1.0, seed=s) for s in (0, 1)], "2 seed(s)"),
    ],
)
def test_close_sets_claim_without_cells_or_seeds_is_inconclusive(points, reason):
    claim = clusters.close_sets_claim(points)
    assert claim.conclusive is False and claim.supported is False
    assert reason in claim.reason


def _disjoint_grid(nmis=(0.9, 0.9, 0.9), centroid=1.0) -> list[dict]:
    """The cell under test: r/delta 0.25, mlp-32x1 (low: the lower half of three capacities),
    m = 4. Poor cells that must not count: r/delta 0.24 and 0.5 (outside the window), the
    highest capacity, and m = "all"."""
    must_not_count = [
        _three_seeds(0.24, "linear", (0.0, 0.0, 0.0)),
        _three_seeds(0.5, "linear", (0.0, 0.0, 0.0)),
        _three_seeds(0.3, "mlp-256x2", (0.0, 0.0, 0.0), centroid=0.0),
        _three_seeds(0.3, "linear", (0.0, 0.0, 0.0), negatives="all"),
    ]
    return [
        *(p for cell in must_not_count for p in cell),
        *_three_seeds(0.3, "linear", (1.0, 1.0, 1.0)),
        *_three_seeds(0.25, "mlp-32x1", nmis, centroid, negatives="4"),
    ]


@pytest.mark.parametrize(
    "nmis, centroid, supported",
    [
        ((0.8, 0.8, 0.8), 0.9, True),  # both thresholds inclusive, at r/delta exactly 0.25
        ((0.8, 0.8, below(0.8)), 1.0, False),
        ((1.0, 1.0, 1.0), below(0.9), False),
    ],
)
def test_disjoint_close_sets_preserved_at_low_capacity_and_finite_m(nmis, centroid, supported):
    claim = clusters.disjoint_close_claim(_disjoint_grid(nmis, centroid), CAPACITIES)
    assert_claim(
        claim,
        id="disjoint_close_sets_preserved",
        supported=supported,
        evidence={
            "cells": 2.0,
            "seeds": 3.0,
            "min_mean_kmeans_nmi@ratio=0.25": float(np.mean(nmis)),
            "min_mean_centroid_accuracy@ratio=0.25": centroid,
            "max_std_kmeans_nmi@ratio=0.25": float(np.std(nmis)),
            "min_mean_kmeans_nmi@ratio=0.3": 1.0,
            "min_mean_centroid_accuracy@ratio=0.3": 1.0,
            "max_std_kmeans_nmi@ratio=0.3": 0.0,
        },
        rule_mentions=("0.25 <= r/delta < 0.5", "linear, mlp-32x1", "not 'all'", "NMI >= 0.8"),
    )


def test_low_capacities_are_the_lower_half_rounded_up():
    assert clusters.low_capacities(["a", "b", "c", "d"]) == ["a", "b"]
    assert clusters.low_capacities(["a", "b", "c"]) == ["a", "b"]
    assert clusters.low_capacities(["a"]) == ["a"]


def test_disjoint_claim_with_only_overlapping_points_is_inconclusive():
    points = [p for p in _close_grid() if p["ratio"] != 0.49]  # 0.1 (far) and >= 0.5 only
    claim = clusters.disjoint_close_claim(points, CAPACITIES)
    assert claim.conclusive is False and "no grid point" in claim.reason


def _far_grid(gap_high: float = 3.0, nmi_high: float = 0.15, seeds=SEEDS) -> list[dict]:
    """Far points (r/delta 0.1 and exactly 0.2) for the lowest and the highest capacity, each
    seed alike: mean gap 2.0 and mean NMI 0.25 for 'linear'; the highest capacity has means
    ``gap_high`` and ``nmi_high``. The middle capacity and r/delta 0.35 would reverse the
    verdict if read."""
    out = []
    for s in seeds:
        out += [
            _point(0.1, "linear", 0.125, 1.5, seed=s),
            _point(0.2, "linear", 0.375, 2.5, seed=s),
            _point(0.1, "mlp-256x2", nmi_high, gap_high, seed=s),
            _point(0.2, "mlp-256x2", nmi_high, gap_high, seed=s),
            _point(0.1, "mlp-32x1", 0.9, 100.0, seed=s),
            _point(0.35, "linear", 0.0, 100.0, seed=s),
            _point(0.35, "mlp-256x2", 1.0, 0.01, seed=s),
        ]
    return out


@pytest.mark.parametrize(
    "gap_high, nmi_high, supported",
    [
        (3.0, 0.15, True),  # gap ratio exactly 1.5 and NMI drop exactly 0.1: inclusive
        (below(3.0), 0.15, False),  # gap ratio just under 1.5
        (3.0, above(0.15), False),  # NMI drop just under 0.1
    ],
)
def test_far_sets_split_with_capacity(gap_high, nmi_high, supported):
    claim = clusters.far_sets_claim(_far_grid(gap_high, nmi_high), CAPACITIES)
    assert_claim(
        claim,
        id="far_sets_split_with_capacity",
        supported=supported,
        evidence={
            "far_points_per_capacity": 6.0,
            "seeds": 3.0,
            "mean_gap_lowest_capacity": 2.0,
            "mean_gap_highest_capacity": gap_high,
            "gap_growth": gap_high / 2.0,
            "mean_nmi_lowest_capacity": 0.25,
            "mean_nmi_highest_capacity": nmi_high,
            "nmi_drop": 0.25 - nmi_high,
            "min_gap_growth_over_seeds": gap_high / 2.0,
            "min_nmi_drop_over_seeds": 0.25 - nmi_high,
        },
        rule_mentions=("r/delta <= 0.2", ">= 1.5", ">= 0.1", "(mlp-256x2)", "(linear)"),
    )
    assert "extrapolation" in claim.source


def test_far_sets_spread_is_the_weakest_seed():
    points = _far_grid(4.0, 0.0, seeds=(0, 1)) + _far_grid(2.0, 0.25, seeds=(2,))
    claim = clusters.far_sets_claim(points, CAPACITIES)
    assert claim.evidence["min_gap_growth_over_seeds"] == pytest.approx(1.0)
    assert claim.evidence["min_nmi_drop_over_seeds"] == pytest.approx(0.0, abs=1e-12)
    assert claim.evidence["gap_growth"] == pytest.approx((4 + 4 + 2) / 3 / 2.0)


def test_far_sets_claim_compares_the_first_and_last_capacity_in_the_settings_order():
    # the same points, capacities listed the other way round: growth 2/3, drop -0.1
    claim = clusters.far_sets_claim(_far_grid(), CAPACITIES[::-1])
    assert claim.supported is False and claim.conclusive is True
    assert claim.evidence["gap_growth"] == pytest.approx(2.0 / 3.0)


@pytest.mark.parametrize(
    "points, capacities, reason",
    [
        ([_point(0.5, "linear", 1.0, 1.0)], CAPACITIES, "two different capacities"),
        ([_point(0.1, "mlp-256x2", 0.0, 50.0)], CAPACITIES, "two different capacities"),
        ([_point(0.1, "linear", 1.0, 1.0)], CAPACITIES, "two different capacities"),
        ([_point(0.1, "linear", 1.0, 1.0)], ["linear"], "two different capacities"),
        (_far_grid(seeds=(0, 1)), CAPACITIES, "2 seed(s)"),
    ],
)
def test_far_sets_claim_needs_both_ends_and_three_seeds(points, capacities, reason):
    claim = clusters.far_sets_claim(points, capacities)
    assert claim.conclusive is False and claim.supported is False
    assert reason in claim.reason
