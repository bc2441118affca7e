"""The claim rules of the ``clusters`` reproduction: each verdict a pure function of the grid.

A grid point is a dict with at least "ratio", "capacity", "kmeans_nmi" and "intertwining_gap".

Observed with the defaults (full mode, seed 0): clusters kept at every close point (NMI >= 0.97)
but ``close_sets_preserved`` NOT supported, because at r / delta = 1 the MLPs (mostly at
t = 0.1 and with many negatives) raised the intertwining gap to up to 3.2 (at r / delta = 2 it
stayed <= 1.09); ``far_sets_split_with_capacity`` supported (gap 5.3 -> 28.8, NMI 0.90 -> 0.50
from linear to mlp-256x3). The quick grid (t = 0.5 only, 200 steps) supports both claims. The
rule constants below were fixed before these runs and were not changed after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from contrastlab.report import Claim

__all__ = [
    "CLOSE_RATIO_MIN",
    "FAR_RATIO_MAX",
    "GAP_GROWTH_MIN",
    "GAP_MAX_CLOSE",
    "NMI_DROP_MIN",
    "NMI_MIN",
    "claims",
    "close_sets_claim",
    "far_sets_claim",
    "rule_constants",
]

# Decision rules, fixed before any result was seen.
CLOSE_RATIO_MIN = 1.0  # r / delta at or above this: close (every two sets of a cluster overlap)
FAR_RATIO_MAX = 0.2  # r / delta at or below this: far apart (gap between balls >= 3 r)
NMI_MIN = 0.8  # k-means NMI counted as "clusters kept"
GAP_MAX_CLOSE = 1.5  # intertwining gap counted as "near 1" (sources of a cluster not told apart)
GAP_GROWTH_MIN = 1.5  # far sets: mean gap of the highest capacity / mean gap of the lowest
NMI_DROP_MIN = 0.1  # far sets: mean NMI of the lowest capacity minus that of the highest


def close_sets_claim(points: list[dict[str, Any]]) -> Claim:
    """``close_sets_preserved``: at every point with r/delta >= ``CLOSE_RATIO_MIN``, NMI >=
    ``NMI_MIN`` and gap <= ``GAP_MAX_CLOSE``; not supported without such a point."""
    close = [p for p in points if p["ratio"] >= CLOSE_RATIO_MIN]
    ev: dict[str, float] = {"close_points": float(len(close))}
    for ratio in sorted({p["ratio"] for p in close}):
        here = [p for p in close if p["ratio"] == ratio]
        ev[f"min_kmeans_nmi@ratio={ratio:g}"] = min(p["kmeans_nmi"] for p in here)
        ev[f"max_intertwining_gap@ratio={ratio:g}"] = max(p["intertwining_gap"] for p in here)
    ok = bool(close) and all(
        p["kmeans_nmi"] >= NMI_MIN and p["intertwining_gap"] <= GAP_MAX_CLOSE for p in close
    )
    return Claim(
        id="close_sets_preserved",
        statement="When the augmentation sets inside a cluster are close (overlapping), the "
        "InfoNCE representation keeps every cluster together, for every function class "
        "and every finite number of negatives.",
        supported=ok,
        evidence=ev,
        rule=f"at every grid point with r/delta >= {CLOSE_RATIO_MIN} (every capacity, m and "
        f"temperature): k-means NMI >= {NMI_MIN} and intertwining gap <= {GAP_MAX_CLOSE}",
    )


def far_sets_claim(points: list[dict[str, Any]], capacities: Sequence[str]) -> Claim:
    """``far_sets_split_with_capacity``: over the points with r/delta <= ``FAR_RATIO_MAX``, the
    last capacity's mean gap / the first's >= ``GAP_GROWTH_MIN`` and the first's mean NMI minus
    the last's >= ``NMI_DROP_MIN``; not supported with one capacity or no far point."""
    low, high = capacities[0], capacities[-1]
    far = [p for p in points if p["ratio"] <= FAR_RATIO_MAX]
    far_low = [p for p in far if p["capacity"] == low]
    far_high = [p for p in far if p["capacity"] == high]
    ev = {"far_points_per_capacity": float(len(far_low))}
    ok = False
    if far_low and far_high and low != high:
        gap_low = float(np.mean([p["intertwining_gap"] for p in far_low]))
        gap_high = float(np.mean([p["intertwining_gap"] for p in far_high]))
        nmi_low = float(np.mean([p["kmeans_nmi"] for p in far_low]))
        nmi_high = float(np.mean([p["kmeans_nmi"] for p in far_high]))
        ev.update(
            {
                "mean_gap_lowest_capacity": gap_low,
                "mean_gap_highest_capacity": gap_high,
                "gap_growth": gap_high / gap_low,
                "mean_nmi_lowest_capacity": nmi_low,
                "mean_nmi_highest_capacity": nmi_high,
                "nmi_drop": nmi_low - nmi_high,
            }
        )
        ok = gap_high / gap_low >= GAP_GROWTH_MIN and nmi_low - nmi_high >= NMI_DROP_MIN
    return Claim(
        id="far_sets_split_with_capacity",
        statement="When the augmentation sets are far apart, a function class of high "
        "capacity separates the sources inside a cluster (the intertwining gap grows and "
        "k-means no longer recovers the clusters), more than a low-capacity class does.",
        supported=bool(ok),
        evidence=ev,
        rule=f"over the grid points with r/delta <= {FAR_RATIO_MAX} (all m and temperatures), "
        f"comparing the highest capacity ({high}) with the lowest ({low}): mean gap ratio "
        f"high/low >= {GAP_GROWTH_MIN} and mean NMI low - high >= {NMI_DROP_MIN}",
    )


def claims(points: list[dict[str, Any]], capacities: Sequence[str]) -> list[Claim]:
    """The two claims, in their order in the report and in ``metrics.json``."""
    return [close_sets_claim(points), far_sets_claim(points, capacities)]


def rule_constants() -> dict[str, float]:
    """The rules' constants, written to ``metrics.json``."""
    return {
        "close_ratio_min": CLOSE_RATIO_MIN,
        "far_ratio_max": FAR_RATIO_MAX,
        "nmi_min": NMI_MIN,
        "gap_max_close": GAP_MAX_CLOSE,
        "gap_growth_min": GAP_GROWTH_MIN,
        "nmi_drop_min": NMI_DROP_MIN,
    }
