"""The five claim rules of ``reproduce gmm`` on constructed sweep entries, both ways.

Thresholds (fixed before any result): captured fraction >= 0.9 counts as recovering F; random
<= 0.5 at anisotropy 1; PCA <= random + 0.1 at the largest anisotropy; containment >= 0.9.
"""

from __future__ import annotations

import pytest

from contrastlab.experiments.gmm import claims as gmm

from .claim_checks import above, assert_claim, below

METHODS = ("infonce", "lda", "pca", "oracle", "random")


def _entry(value: float, containment: float = 0.97, **captured: float) -> dict:
    """One aggregated sweep point: every method's (mean, sd) scores; captured fraction 0.95
    unless given, random 0.2; InfoNCE's containment ``containment``, the others' 0.5."""
    defaults = {"infonce": 0.95, "lda": 0.95, "pca": 0.95, "oracle": 1.0, "random": 0.2}
    defaults.update(captured)
    return {
        "value": value,
        **{
            m: {
                "captured_fraction": (defaults[m], 0.01),
                "containment": (containment if m == "infonce" else 0.5, 0.02),
            }
            for m in METHODS
        },
    }


@pytest.mark.parametrize(
    "captured, supported",
    [
        ({"infonce": 0.9, "lda": 0.9, "pca": 0.9, "random": 0.5}, True),  # inclusive thresholds
        ({"infonce": below(0.9)}, False),
        ({"lda": below(0.9)}, False),
        ({"pca": below(0.9)}, False),
        ({"random": above(0.5)}, False),
    ],
)
def test_isotropic_all_recover_fisher(captured, supported):
    iso = _entry(1.0, **captured)
    # the other sweep points (listed first) must not be read: they would fail the rule
    sweep = [_entry(10.0, pca=0.1, random=0.9), iso, _entry(100.0, infonce=0.1)]
    claim = gmm.isotropic_claim(sweep)
    expected = {f"captured_{m}": iso[m]["captured_fraction"][0] for m in METHODS if m != "oracle"}
    assert_claim(
        claim,
        id="isotropic_all_recover_fisher",
        supported=supported,
        evidence=expected,
        rule_mentions=(">= 0.9", "<= 0.5"),
    )


def test_isotropic_claim_needs_anisotropy_1_in_the_sweep():
    claim = gmm.isotropic_claim([_entry(3.0), _entry(100.0)])
    assert_claim(claim, id="isotropic_all_recover_fisher", supported=False, evidence={})


@pytest.mark.parametrize(
    "at_10, at_dim_20, supported",
    [
        (0.9, 0.9, True),
        (below(0.9), 0.95, False),  # an anisotropy point
        (0.95, below(0.9), False),  # a dimension point
    ],
)
def test_anisotropic_infonce_recovers_fisher(at_10, at_dim_20, supported):
    # anisotropy 1 is not in the rule (InfoNCE poor there must not matter), nor is LDA
    anisotropy = [_entry(1.0, infonce=0.2), _entry(10.0, infonce=at_10, lda=0.3), _entry(100.0)]
    dim = [_entry(10.0, infonce=0.93), _entry(20.0, infonce=at_dim_20)]
    claim = gmm.anisotropic_infonce_claim(anisotropy, dim)
    assert_claim(
        claim,
        id="anisotropic_infonce_recovers_fisher",
        supported=supported,
        evidence={
            "captured_infonce@anisotropy=10": at_10,
            "captured_infonce@anisotropy=100": 0.95,
            "captured_infonce@dim=10": 0.93,
            "captured_infonce@dim=20": at_dim_20,
            "captured_lda@anisotropy=10": 0.3,
            "captured_lda@anisotropy=100": 0.95,
        },
        rule_mentions=(">= 0.9",),
    )


def test_anisotropic_claim_counts_every_anisotropy_above_1():
    # just above 1 is anisotropic: InfoNCE short of 0.9 there fails the claim
    sweep = [_entry(1.0, infonce=0.2), _entry(above(1.0), infonce=below(0.9)), _entry(100.0)]
    claim = gmm.anisotropic_infonce_claim(sweep, [_entry(20.0)])
    assert claim.supported is False
    assert claim.evidence["captured_infonce@anisotropy=1"] == below(0.9)  # printed as 1 by :g


def test_anisotropic_claim_without_any_point_is_not_supported():
    claim = gmm.anisotropic_infonce_claim([_entry(1.0)], [])
    assert_claim(claim, id="anisotropic_infonce_recovers_fisher", supported=False, evidence={})


@pytest.mark.parametrize(
    "top, pca, supported",
    [
        (100.0, 0.6, True),  # PCA exactly random (0.5) + 0.1: inclusive
        (100.0, above(0.6), False),
        (1.0, 0.1, False),  # the largest anisotropy must exceed 1 ...
        (above(1.0), 0.6, True),  # ... and any value above 1 does
    ],
)
def test_anisotropic_pca_fails_at_the_largest_anisotropy(top, pca, supported):
    # the largest anisotropy sits in the middle; the others would give the opposite verdict
    sweep = [_entry(0.5, pca=0.99), _entry(top, pca=pca, random=0.5, infonce=0.7)]
    sweep.append(_entry(top / 10, pca=0.99 if supported else 0.0, random=0.5))
    claim = gmm.pca_fails_claim(sweep)
    assert_claim(
        claim,
        id="anisotropic_pca_fails",
        supported=supported,
        evidence={
            "anisotropy": top,
            "captured_pca": pca,
            "captured_random": 0.5,
            "captured_infonce": 0.7,
        },
        rule_mentions=("random's + 0.1", "(> 1)"),
    )


@pytest.mark.parametrize(
    "at_04, supported",
    [(0.9, True), (below(0.9), False)],
)
def test_noisy_infonce_within_fisher(at_04, supported):
    # noise 0 is not in the rule; captured fraction is reported, not part of the rule
    sweep = [_entry(0.0, containment=0.1), _entry(0.2), _entry(0.4, containment=at_04, infonce=0.3)]
    claim = gmm.noisy_claim(sweep)
    assert_claim(
        claim,
        id="noisy_infonce_within_fisher",
        supported=supported,
        evidence={
            "containment_infonce@noise=0.2": 0.97,
            "containment_infonce@noise=0.4": at_04,
            "captured_infonce@noise=0.2": 0.95,
            "captured_infonce@noise=0.4": 0.3,
        },
        rule_mentions=(">= 0.9",),
    )


def test_noisy_claim_without_a_noisy_level_is_not_supported():
    claim = gmm.noisy_claim([_entry(0.0)])
    assert_claim(claim, id="noisy_infonce_within_fisher", supported=False, evidence={})


def _clip_entry(anisotropy: float, noise: float, a: float, b: float) -> dict:
    return {
        "anisotropy": anisotropy,
        "noise": noise,
        "in_rule": anisotropy == 100.0,
        "training": {
            "trained_loss": (4.0 + noise, 0.1),
            "fisher_loss": (3.0 + noise, 0.1),
            "final_loss": (4.1, 0.1),
            "uninformative_loss": (4.85, 0.0),
        },
        "clip_a": {"containment": (a, 0.01), "captured_fraction": (0.5, 0.01)},
        "clip_b": {"containment": (b, 0.01), "captured_fraction": (0.5, 0.01)},
        # random levels far below 0.9: they are reported, never part of the rule
        "random_a": {"containment": (0.3, 0.01), "captured_fraction": (0.1, 0.01)},
        "random_b": {"containment": (0.2, 0.01), "captured_fraction": (0.1, 0.01)},
    }


@pytest.mark.parametrize(
    "a0, b3, supported",
    [(0.9, 0.9, True), (below(0.9), 0.95, False), (0.95, below(0.9), False)],
)
def test_clip_within_fisher_needs_both_modalities_at_every_rule_point(a0, b3, supported):
    clip = [
        _clip_entry(100.0, 0.0, a0, 0.95),
        _clip_entry(1.0, 0.0, 0.1, 0.1),  # a diagnostic point: not in the rule
        _clip_entry(100.0, 0.3, 0.96, b3),
    ]
    claim = gmm.clip_claim(clip)
    evidence = {}
    for noise, a, b in ((0, a0, 0.95), (0.3, 0.96, b3)):
        evidence.update(
            {
                f"clip_loss_trained@noise={noise}": 4.0 + noise,
                f"clip_loss_fisher@noise={noise}": 3.0 + noise,
                f"containment_a@noise={noise}": a,
                f"random_containment_a@noise={noise}": 0.3,
                f"containment_b@noise={noise}": b,
                f"random_containment_b@noise={noise}": 0.2,
            }
        )
    assert_claim(
        claim,
        id="clip_within_fisher",
        supported=supported,
        evidence=evidence,
        rule_mentions=(">= 0.9",),
    )


def test_clip_claim_without_a_rule_point_is_not_supported():
    claim = gmm.clip_claim([_clip_entry(1.0, 0.0, 0.99, 0.99)])
    assert_claim(claim, id="clip_within_fisher", supported=False, evidence={})
