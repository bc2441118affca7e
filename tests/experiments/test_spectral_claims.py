"""The three claim rules of ``reproduce spectral`` on constructed summaries, both ways.

Thresholds (fixed before any result): identity residual < 1e-9; alignment >= 0.95 where q = 0
and >= 0.8 where q > 0; NMI of both methods >= 0.999 where q = 0, |NMI gap| <= 0.05 where q > 0.
"""

from __future__ import annotations

import pytest

from contrastlab.experiments.spectral import claims as spectral

from .claim_checks import above, assert_claim, below

PQ = [(1.0, 0.0), (0.75, 0.2)]
CLEAN, NOISY = "p=1,q=0", "p=0.75,q=0.2"


def _summary(
    residual: tuple[float, float] = (1e-15, 2e-15),
    steps: tuple[int, int] = (3, 5),
    alignment: tuple[float, float] = (0.99, 0.9),
    nmi: tuple[float, float] = (1.0, 0.8),
    spectral_nmi: tuple[float, float] = (1.0, 0.82),
) -> dict[str, dict]:
    """A summary of two settings (q = 0, then q > 0), every rule comfortably met by default."""
    return {
        label: {
            "max_residual": residual[i],
            "logged_steps": steps[i],
            "gaussian_alignment": (alignment[i], 0.01),
            "gaussian_nmi": (nmi[i], 0.02),
            "spectral_L_nmi": (spectral_nmi[i], 0.03),
        }
        for i, label in enumerate((CLEAN, NOISY))
    }


@pytest.mark.parametrize(
    "residual, supported",
    [
        ((1e-15, below(1e-9)), True),
        ((below(1e-9), 1e-15), True),
        ((1e-15, 1e-9), False),  # the largest residual counts, wherever it is
        ((1e-9, 1e-15), False),
    ],
)
def test_identity_exact_needs_every_residual_below_1e_9(residual, supported):
    claim = spectral.identity_claim(_summary(residual=residual))
    assert_claim(
        claim,
        id="identity_exact",
        supported=supported,
        evidence={"max_relative_residual": max(residual), "logged_steps": 8.0},
        rule_mentions=("< 1e-09",),
    )


@pytest.mark.parametrize(
    "alignment, supported",
    [
        ((0.95, 0.8), True),  # both thresholds are inclusive
        ((below(0.95), 0.99), False),  # q = 0 needs 0.95 ...
        ((0.99, below(0.8)), False),  # ... and q > 0 needs 0.8
        ((0.85, 0.99), False),  # q = 0 does not get the looser threshold
    ],
)
def test_gaussian_aligns_with_spectral_threshold_per_setting(alignment, supported):
    claim = spectral.alignment_claim(_summary(alignment=alignment), PQ)
    assert_claim(
        claim,
        id="gaussian_aligns_with_spectral",
        supported=supported,
        evidence={f"alignment@{CLEAN}": alignment[0], f"alignment@{NOISY}": alignment[1]},
        rule_mentions=(">= 0.95", ">= 0.8"),
    )


def test_alignment_threshold_follows_q_not_the_order_of_the_settings():
    summary = {
        NOISY: {"gaussian_alignment": (0.81, 0.0)},
        "p=0.5,q=0": {"gaussian_alignment": (0.96, 0.0)},
    }
    pq = [(0.75, 0.2), (0.5, 0.0)]
    assert spectral.alignment_claim(summary, pq).supported is True
    summary["p=0.5,q=0"]["gaussian_alignment"] = (0.94, 0.0)  # q = 0 with p < 1: still 0.95
    assert spectral.alignment_claim(summary, pq).supported is False


@pytest.mark.parametrize(
    "nmi, spectral_nmi, supported",
    [
        ((0.999, 0.8), (0.999, 0.82), True),  # q = 0: both at the inclusive threshold
        ((below(0.999), 0.8), (1.0, 0.82), False),  # q = 0: InfoNCE just short
        ((1.0, 0.8), (below(0.999), 0.82), False),  # q = 0: spectral clustering just short
        ((1.0, 0.05), (1.0, 0.1), True),  # q > 0: gap exactly 0.05 (inclusive)
        ((1.0, 0.1), (1.0, 0.05), True),  # the gap is absolute
        ((1.0, 0.05), (1.0, above(0.1)), False),  # q > 0: gap just over 0.05
        ((1.0, above(0.1)), (1.0, 0.05), False),
        ((1.0, 0.3), (1.0, 0.3), True),  # q > 0 needs no high NMI, only a small gap
    ],
)
def test_infonce_matches_spectral_clustering(nmi, spectral_nmi, supported):
    claim = spectral.clustering_claim(_summary(nmi=nmi, spectral_nmi=spectral_nmi), PQ)
    assert_claim(
        claim,
        id="infonce_matches_spectral_clustering",
        supported=supported,
        evidence={
            f"nmi_infonce@{CLEAN}": nmi[0],
            f"nmi_spectral@{CLEAN}": spectral_nmi[0],
            f"nmi_infonce@{NOISY}": nmi[1],
            f"nmi_spectral@{NOISY}": spectral_nmi[1],
        },
        rule_mentions=(">= 0.999", "<= 0.05"),
    )


def test_every_setting_counts_whatever_the_order():
    # the q > 0 setting first and failing (gap 0.2), the q = 0 setting last and met
    summary = _summary(nmi=(1.0, 0.6), spectral_nmi=(1.0, 0.8))
    assert spectral.clustering_claim(summary, PQ[::-1]).supported is False
    summary = _summary(alignment=(0.99, 0.7))
    assert spectral.alignment_claim(summary, PQ[::-1]).supported is False


def test_clean_setting_does_not_use_the_gap_rule():
    # gap 0.0005 at q = 0 but InfoNCE below 0.999: not supported
    summary = _summary(nmi=(0.9985, 0.8), spectral_nmi=(0.999, 0.8))
    assert spectral.clustering_claim(summary, PQ).supported is False
