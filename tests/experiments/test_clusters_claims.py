"""The two claim rules of ``reproduce clusters`` on constructed grid points, both ways.

Thresholds (fixed before any result): close sets are r/delta >= 1, far sets r/delta <= 0.2;
close: NMI >= 0.8 and intertwining gap <= 1.5 at every point; far: mean gap of the highest
capacity / lowest >= 1.5 and mean NMI lowest - highest >= 0.1.
"""

from __future__ import annotations

import pytest

from contrastlab.experiments.clusters import claims as clusters

from .claim_checks import above, assert_claim, below

CAPACITIES = ["linear", "mlp-32x1", "mlp-256x2"]


def _point(ratio: float, capacity: str, nmi: float, gap: float) -> dict:
    return {
        "ratio": ratio,
        "capacity": capacity,
        "negatives": "1",
        "t": 0.5,
        "kmeans_nmi": nmi,
        "intertwining_gap": gap,
    }


def _close_grid(nmi_at_1: float = 0.9, gap_at_1: float = 1.2) -> list[dict]:
    """Points at r/delta 0.1 and 0.99 (not close: poor values that must not count), 1 and 2."""
    return [
        _point(0.1, "linear", 0.1, 9.0),
        _point(0.99, "linear", 0.1, 9.0),
        _point(1.0, "linear", 0.95, 1.1),
        _point(1.0, "mlp-256x2", nmi_at_1, gap_at_1),
        _point(2.0, "linear", 0.99, 1.05),
        _point(2.0, "mlp-256x2", 0.97, 1.3),
    ]


@pytest.mark.parametrize(
    "nmi, gap, supported",
    [
        (0.8, 1.5, True),  # both thresholds inclusive, at r/delta exactly 1
        (below(0.8), 1.2, False),
        (0.9, above(1.5), False),
    ],
)
def test_close_sets_preserved_at_every_close_point(nmi, gap, supported):
    claim = clusters.close_sets_claim(_close_grid(nmi, gap))
    assert_claim(
        claim,
        id="close_sets_preserved",
        supported=supported,
        evidence={
            "close_points": 4.0,
            "min_kmeans_nmi@ratio=1": min(0.95, nmi),
            "max_intertwining_gap@ratio=1": max(1.1, gap),
            "min_kmeans_nmi@ratio=2": 0.97,
            "max_intertwining_gap@ratio=2": 1.3,
        },
        rule_mentions=("r/delta >= 1", "NMI >= 0.8", "gap <= 1.5"),
    )


def test_close_sets_claim_without_a_close_point_is_not_supported():
    claim = clusters.close_sets_claim([_point(0.5, "linear", 1.0, 1.0)])
    assert_claim(claim, id="close_sets_preserved", supported=False, evidence={"close_points": 0.0})


def _far_grid(gap_high: float = 3.0, nmi_high: float = 0.1) -> list[dict]:
    """Far points (r/delta 0.1 and exactly 0.2) for the lowest and the highest capacity: mean
    gap 2.0 and mean NMI 0.2 for 'linear'; the highest capacity has means ``gap_high`` and
    ``nmi_high``. The middle capacity and r/delta 0.35 would reverse the verdict if read."""
    return [
        _point(0.1, "linear", 0.15, 1.5),
        _point(0.2, "linear", 0.25, 2.5),
        _point(0.1, "mlp-256x2", nmi_high, gap_high),
        _point(0.2, "mlp-256x2", nmi_high, gap_high),
        _point(0.1, "mlp-32x1", 0.9, 100.0),
        _point(0.35, "linear", 0.0, 100.0),
        _point(0.35, "mlp-256x2", 1.0, 0.01),
    ]


@pytest.mark.parametrize(
    "gap_high, nmi_high, supported",
    [
        (3.0, 0.1, True),  # gap ratio exactly 1.5 and NMI drop exactly 0.1: inclusive
        (below(3.0), 0.1, False),  # gap ratio just under 1.5
        (3.0, above(0.1), False),  # NMI drop just under 0.1
    ],
)
def test_far_sets_split_with_capacity(gap_high, nmi_high, supported):
    claim = clusters.far_sets_claim(_far_grid(gap_high, nmi_high), CAPACITIES)
    assert_claim(
        claim,
        id="far_sets_split_with_capacity",
        supported=supported,
        evidence={
            "far_points_per_capacity": 2.0,
            "mean_gap_lowest_capacity": 2.0,
            "mean_gap_highest_capacity": gap_high,
            "gap_growth": gap_high / 2.0,
            "mean_nmi_lowest_capacity": 0.2,
            "mean_nmi_highest_capacity": nmi_high,
            "nmi_drop": 0.2 - nmi_high,
        },
        rule_mentions=("r/delta <= 0.2", ">= 1.5", ">= 0.1", "(mlp-256x2)", "(linear)"),
    )


def test_far_sets_claim_compares_the_first_and_last_capacity_in_the_settings_order():
    # the same points, capacities listed the other way round: growth 2/3, drop -0.1
    claim = clusters.far_sets_claim(_far_grid(), CAPACITIES[::-1])
    assert claim.supported is False
    assert claim.evidence["gap_growth"] == pytest.approx(2.0 / 3.0)


@pytest.mark.parametrize(
    "points, capacities, count",
    [
        ([_point(0.5, "linear", 1.0, 1.0)], CAPACITIES, 0.0),  # no far point
        ([_point(0.1, "mlp-256x2", 0.0, 50.0)], CAPACITIES, 0.0),  # none of the lowest capacity
        ([_point(0.1, "linear", 1.0, 1.0)], CAPACITIES, 1.0),  # none of the highest capacity
        ([_point(0.1, "linear", 1.0, 1.0)], ["linear"], 1.0),  # one capacity: nothing to compare
    ],
)
def test_far_sets_claim_needs_both_ends_of_the_capacity_axis(points, capacities, count):
    claim = clusters.far_sets_claim(points, capacities)
    assert_claim(
        claim,
        id="far_sets_split_with_capacity",
        supported=False,
        evidence={"far_points_per_capacity": count},
    )
