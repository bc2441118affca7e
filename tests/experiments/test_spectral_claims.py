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


def test_identity_is_labelled_an_implementation_check():
    claim = spectral.identity_claim(_summary())
    assert "implementation check" in claim.source


# Regime rules (issue 13), fixed before their first run: informative sweep points have spectral
# mean NMI in (0.1, 0.99); there |mean paired NMI gap| <= 0.1; >= 3 graphs per point.


def _sweep_point(ratio, spectral_nmi, gap, seeds=3, gap_sd=0.02):
    return {
        "ratio": ratio,
        "seeds": seeds,
        "spectral_nmi": (spectral_nmi, 0.01),
        "gaussian_nmi": (spectral_nmi + gap, 0.01),
        "nmi_gap": (gap, gap_sd),
        "gaussian_alignment": (0.5, 0.1),
    }


def _sweep(gap_mid=0.0, gap_edge=0.5):
    """Perfect (0.99 exactly), informative (0.5 and just above 0.1), at chance (0.1 exactly):
    only the two informative points may count, whatever the gap at the ends."""
    return [
        _sweep_point(0.1, 0.99, gap_edge),
        _sweep_point(0.4, 0.5, gap_mid),
        _sweep_point(0.6, above(0.1), 0.0),
        _sweep_point(0.8, 0.1, gap_edge),
    ]


@pytest.mark.parametrize(
    "gap, supported",
    [(0.1, True), (-0.1, True), (above(0.1), False), (-above(0.1), False)],
)
def test_infonce_tracks_spectral_at_informative_points_only(gap, supported):
    claim = spectral.regimes_claim(_sweep(gap_mid=gap))
    assert claim.conclusive is True and claim.supported is supported
    ev = claim.evidence
    assert ev["informative_points"] == 2 and ev["perfect_points"] == 1 and ev["chance_points"] == 1
    assert ev["nmi_gap@q/p=0.4"] == gap and ev["nmi_gap_sd@q/p=0.4"] == 0.02
    assert "nmi_gap@q/p=0.1" not in ev and "nmi_gap@q/p=0.8" not in ev
    for text in ("above 0.1", "below 0.99", "<= 0.1", "3 graphs"):
        assert text in claim.rule


def test_regimes_claim_inconclusive_at_ceiling_floor_or_with_few_seeds():
    ends = [_sweep_point(0.1, 1.0, 0.0), _sweep_point(0.8, 0.05, 0.0)]
    claim = spectral.regimes_claim(ends)
    assert claim.conclusive is False and claim.supported is False
    assert "perfect or at chance" in claim.reason
    few = [_sweep_point(0.4, 0.5, 0.0, seeds=2)]
    claim = spectral.regimes_claim(few)
    assert claim.conclusive is False and "2 graph(s)" in claim.reason


def _minibatch(alignment, seeds=3, sizes=(4, 16, 64, 128)):
    return {
        "sizes": list(sizes),
        "seeds": seeds,
        "alignment_full": [(a, 0.01) for a in alignment],
    }


@pytest.mark.parametrize(
    "alignment, supported",
    [
        ((0.8, 0.85, 0.88, 0.9), True),  # largest exactly 0.9, gain 0.1, rank 1
        ((0.8, 0.85, 0.88, below(0.9)), False),  # largest just under 0.9
        ((0.875, 0.9, 0.91, 0.925), True),  # gain exactly 0.05
        ((0.875, 0.9, 0.91, below(0.925)), False),  # gain just under 0.05
        ((0.5, 0.97, 0.95, 0.96), False),  # large gain, but not rising (Spearman 0.4)
        ((0.5, 0.94, 0.93, 0.97), True),  # one swap: Spearman 0.8, inclusive
    ],
)
def test_minibatch_approaches_full_batch(alignment, supported):
    claim = spectral.minibatch_claim(_minibatch(alignment))
    assert claim.conclusive is True and claim.supported is supported
    assert claim.evidence["gain"] == pytest.approx(alignment[-1] - alignment[0])
    assert claim.evidence["alignment_full@batch=128"] == alignment[-1]
    assert claim.evidence["alignment_full_sd@batch=4"] == 0.01
    for text in (">= 0.9", ">= 0.05", ">= 0.8", ">= 0.95"):
        assert text in claim.rule


@pytest.mark.parametrize(
    "data, reason",
    [
        (_minibatch((0.95, 0.97, 0.98, 0.99)), "nothing to approach"),  # ceiling, inclusive
        (_minibatch((0.5, 0.7, 0.9, 0.95), seeds=2), "2 graph(s)"),
        (_minibatch((0.5, 0.95), sizes=(4, 128)), "2 batch size(s)"),
    ],
)
def test_minibatch_claim_inconclusive(data, reason):
    claim = spectral.minibatch_claim(data)
    assert claim.conclusive is False and claim.supported is False and reason in claim.reason


def test_minibatch_just_below_the_ceiling_is_decided():
    claim = spectral.minibatch_claim(_minibatch((below(0.95), 0.97, 0.99, 1.0)))
    assert claim.conclusive is True and claim.supported is True


def _bipartite(align_a=0.9, align_b=0.9, clip_nmi=0.9, svd_nmi=0.9, seeds=3):
    return {
        "p=1,q=0": {
            "alignment_a": (0.99, 0.0),
            "alignment_b": (0.99, 0.0),
            "clip_nmi": (1.0, 0.0),
            "spectral_nmi": (1.0, 0.0),
            "seeds": 3,
        },
        "p=0.75,q=0.2": {
            "alignment_a": (align_a, 0.0),
            "alignment_b": (align_b, 0.0),
            "clip_nmi": (clip_nmi, 0.0),
            "spectral_nmi": (svd_nmi, 0.0),
            "seeds": seeds,
        },
    }


@pytest.mark.parametrize(
    "kwargs, supported",
    [
        ({"align_a": 0.8, "align_b": 0.8}, True),  # alignment thresholds inclusive
        ({"align_a": below(0.8)}, False),
        ({"align_b": below(0.8)}, False),
        ({"clip_nmi": 0.05, "svd_nmi": 0.1}, True),  # gap exactly 0.05
        ({"clip_nmi": 0.1, "svd_nmi": 0.05}, True),  # absolute
        ({"clip_nmi": 0.05, "svd_nmi": above(0.1)}, False),
        ({"clip_nmi": above(0.1), "svd_nmi": 0.05}, False),
    ],
)
def test_clip_matches_bipartite_svd(kwargs, supported):
    claim = spectral.clip_claim(_bipartite(**kwargs))
    assert claim.conclusive is True and claim.supported is supported
    assert claim.evidence["alignment_a@p=0.75,q=0.2"] == kwargs.get("align_a", 0.9)
    assert claim.evidence["seeds"] == 3
    assert ">= 0.8" in claim.rule and "<= 0.05" in claim.rule


def test_clip_claim_inconclusive_without_settings_or_seeds():
    assert spectral.clip_claim({}).conclusive is False
    claim = spectral.clip_claim(_bipartite(seeds=2))
    assert claim.conclusive is False and "2 graph(s)" in claim.reason
