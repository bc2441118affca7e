"""The seven claim rules of ``reproduce gmm`` on constructed sweep entries, both ways.

Thresholds (fixed before any result): captured fraction >= 0.9 counts as recovering F; random
<= 0.5 at anisotropy 1; PCA <= random + 0.1 at the largest anisotropy and at the coupled point;
containment >= 0.9; coupled: >= 3 seeds, LDA >= 0.9 and mean span <= LDA - 0.3 to be
conclusive; digits: captured fraction of LDA's subspace >= 0.8, NMI >= LDA's - 0.05, >= 3 seeds
and a mean span capturing <= 0.8 to be conclusive.
"""

from __future__ import annotations

import pytest

from contrastlab.experiments.gmm import claims as gmm

from .claim_checks import above, assert_claim, below

METHODS = ("infonce", "lda", "mean_span", "pca", "oracle", "random")


def _entry(value: float, containment: float = 0.97, seeds: int = 3, **captured: float) -> dict:
    """One aggregated sweep point: every method's (mean, sd) scores; captured fraction 0.95
    unless given, random 0.2; InfoNCE's containment ``containment``, the others' 0.5."""
    defaults = {
        "infonce": 0.95,
        "lda": 0.95,
        "mean_span": 0.95,
        "pca": 0.95,
        "oracle": 1.0,
        "random": 0.2,
    }
    defaults.update(captured)
    return {
        "value": value,
        "seeds": seeds,
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
    expected = {
        f"captured_{m}": iso[m]["captured_fraction"][0] for m in ("infonce", "lda", "pca", "random")
    }
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
            "captured_mean_span@anisotropy=10": 0.95,
            "captured_mean_span@anisotropy=100": 0.95,
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
    "top, pca, coupled_pca, supported",
    [
        (100.0, 0.6, 0.35, True),  # PCA exactly random + 0.1 at both points: inclusive
        (100.0, above(0.6), 0.0, False),
        (100.0, 0.0, above(0.35), False),  # the coupled point alone fails it
        (1.0, 0.1, 0.0, False),  # the largest anisotropy must exceed 1 ...
        (above(1.0), 0.6, 0.0, True),  # ... and any value above 1 does
    ],
)
def test_anisotropic_pca_fails_at_the_largest_anisotropy_and_coupled(
    top, pca, coupled_pca, supported
):
    # the largest anisotropy sits in the middle; the others would give the opposite verdict
    sweep = [_entry(0.5, pca=0.99), _entry(top, pca=pca, random=0.5, infonce=0.7, mean_span=0.8)]
    sweep.append(_entry(top / 10, pca=0.99 if supported else 0.0, random=0.5))
    # the coupled point is read at coupling_angle 60 only (30 would fail the rule)
    coupling = [_entry(30.0, pca=0.99), _entry(60.0, pca=coupled_pca, random=0.25, mean_span=0.3)]
    claim = gmm.pca_fails_claim(sweep, coupling, 60.0)
    assert claim.conclusive is True and claim.reason == ""
    assert_claim(
        claim,
        id="anisotropic_pca_fails",
        supported=supported,
        evidence={
            "anisotropy": top,
            "captured_pca": pca,
            "captured_random": 0.5,
            "captured_infonce": 0.7,
            "captured_mean_span": 0.8,
            "captured_pca@coupling=60": coupled_pca,
            "captured_random@coupling=60": 0.25,
            "captured_mean_span@coupling=60": 0.3,
        },
        rule_mentions=("random's + 0.1", "(> 1)", "coupling_angle 60"),
    )


@pytest.mark.parametrize("angle, sweep", [(45.0, [30.0, 60.0]), (0.0, [0.0]), (90.0, [90.0])])
def test_pca_claim_without_a_coupled_point_is_inconclusive(angle, sweep):
    # uncoupled, PCA failing is built into the generator: that alone does not decide the claim
    claim = gmm.pca_fails_claim(
        [_entry(100.0, pca=0.0)], [_entry(c, pca=0.0) for c in sweep], angle
    )
    assert claim.conclusive is False and claim.supported is False
    assert "no coupled point" in claim.reason


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


def _coupled(infonce=0.95, lda=1.0, mean_span=0.7, seeds=3):
    return _entry(60.0, seeds=seeds, infonce=infonce, lda=lda, mean_span=mean_span, pca=0.01)


@pytest.mark.parametrize(
    "infonce, finite, supported",
    [(0.9, 0.9, True), (below(0.9), 0.95, False), (0.95, below(0.9), False)],
)
def test_coupled_infonce_recovers_fisher(infonce, finite, supported):
    # read at coupling_angle 60 only; the finite-sample rule reads the largest n only (n = 1000,
    # listed first; n = 100 would fail the rule)
    coupling = [_entry(0.0, infonce=0.1), _coupled(infonce=infonce), _entry(75.0, infonce=0.1)]
    samples = [_entry(1000.0, infonce=finite, lda=0.97), _entry(100.0, infonce=0.2, lda=0.6)]
    claim = gmm.coupled_claim(coupling, samples, 60.0)
    evidence = {"coupling_angle": 60.0, "seeds": 3.0}
    evidence.update(
        {
            "captured_infonce": infonce,
            "captured_lda": 1.0,
            "captured_mean_span": 0.7,
            "captured_pca": 0.01,
            "captured_random": 0.2,
        }
    )
    evidence.update(
        {f"sd_captured_{m}": 0.01 for m in ("infonce", "lda", "mean_span", "pca", "random")}
    )
    for n, values in ((1000, (finite, 0.97, 0.95)), (100, (0.2, 0.6, 0.95))):
        for m, v in zip(("infonce", "lda", "mean_span"), values, strict=True):
            evidence[f"captured_{m}@n={n}"] = v
    assert claim.conclusive is True and claim.reason == ""
    assert_claim(
        claim,
        id="coupled_infonce_recovers_fisher",
        supported=supported,
        evidence=evidence,
        rule_mentions=(">= 0.9", ">= 3 seeds", "LDA - 0.3", "coupling_angle 60"),
    )


@pytest.mark.parametrize(
    "lda, mean_span, seeds, conclusive, words",
    [
        (1.0, 0.7, 3, True, ""),  # mean span exactly LDA - 0.3: separated (inclusive)
        (1.0, above(0.7), 3, False, "does not separate F from the mean span"),
        (below(0.9), 0.3, 3, False, "LDA captures only"),
        (0.9, 0.3, 3, True, ""),
        (0.95, 0.3, 2, False, "2 seeds, the rule needs >= 3"),
    ],
)
def test_coupled_claim_is_inconclusive_where_the_setting_cannot_decide(
    lda, mean_span, seeds, conclusive, words
):
    coupling = [_coupled(infonce=0.99, lda=lda, mean_span=mean_span, seeds=seeds)]
    claim = gmm.coupled_claim(coupling, [_entry(1000.0, infonce=0.99)], 60.0)
    assert claim.conclusive is conclusive
    assert claim.supported is conclusive  # InfoNCE passes: only conclusiveness decides
    assert words in claim.reason
    assert claim.evidence["captured_mean_span"] == mean_span


def test_coupled_claim_without_its_points_is_inconclusive():
    missing = gmm.coupled_claim([_coupled()], [_entry(1000.0)], 45.0)
    assert missing.conclusive is False and "no point at coupling_angle 45" in missing.reason
    no_samples = gmm.coupled_claim([_coupled()], [], 60.0)
    assert no_samples.conclusive is False and "finite-sample sweep is empty" in no_samples.reason
    assert not missing.supported and not no_samples.supported


def _real(infonce=0.85, nmi_infonce=0.85, nmi_lda=0.9, mean_span=0.3, seeds=3):
    scores = {
        "infonce": (infonce, nmi_infonce, 0.95),
        "lda": (1.0, nmi_lda, 0.96),
        "mean_span": (mean_span, 0.7, 0.9),
        "pca": (0.05, 0.55, 0.75),
        "random": (0.06, 0.3, 0.55),
    }
    return {
        "seeds": seeds,
        **{
            m: {
                "captured_lda": (c, 0.02),
                "kmeans_nmi": (nmi, 0.03),
                "nc_accuracy": (acc, 0.01),
            }
            for m, (c, nmi, acc) in scores.items()
        },
    }


@pytest.mark.parametrize(
    "infonce, nmi_infonce, supported",
    [
        (0.8, 0.85, True),  # both thresholds inclusive (NMI exactly LDA's 0.9 - 0.05)
        (below(0.8), 0.9, False),
        (0.9, below(0.85), False),
    ],
)
def test_real_features_infonce_matches_lda(infonce, nmi_infonce, supported):
    claim = gmm.real_claim(_real(infonce=infonce, nmi_infonce=nmi_infonce))
    evidence = {"seeds": 3.0}
    evidence.update(
        {
            "captured_lda_infonce": infonce,
            "captured_lda_lda": 1.0,
            "captured_lda_mean_span": 0.3,
            "captured_lda_pca": 0.05,
            "captured_lda_random": 0.06,
            "nmi_infonce": nmi_infonce,
            "nmi_lda": 0.9,
            "nmi_mean_span": 0.7,
            "nmi_pca": 0.55,
            "nmi_random": 0.3,
            "nc_accuracy_infonce": 0.95,
            "nc_accuracy_lda": 0.96,
            "sd_captured_lda_infonce": 0.02,
            "sd_nmi_infonce": 0.03,
            "sd_nmi_lda": 0.03,
        }
    )
    assert claim.conclusive is True
    assert_claim(
        claim,
        id="real_features_infonce_matches_lda",
        supported=supported,
        evidence=evidence,
        rule_mentions=(">= 0.8", "LDA's - 0.05", ">= 3 seeds", "<= 0.8"),
    )


@pytest.mark.parametrize(
    "mean_span, seeds, conclusive",
    [(0.8, 3, True), (above(0.8), 3, False), (0.3, 2, False)],
)
def test_real_claim_is_inconclusive_where_it_cannot_decide(mean_span, seeds, conclusive):
    claim = gmm.real_claim(_real(infonce=0.95, nmi_infonce=0.95, mean_span=mean_span, seeds=seeds))
    assert claim.conclusive is conclusive and claim.supported is conclusive
    assert bool(claim.reason) is not conclusive


def test_real_claim_without_the_real_part_is_inconclusive():
    claim = gmm.real_claim({})
    assert claim.conclusive is False and "real_steps = 0" in claim.reason


def test_the_recorded_full_run_has_a_verdict_for_every_claim():
    recorded = gmm.RECORDED_FULL_RUN
    assert recorded is not None
    ids = [c.id for c in gmm.claims(*_all_inputs())]
    assert sorted(recorded["verdicts"]) == sorted(ids)
    assert set(recorded["verdicts"].values()) <= {"supported", "not supported", "inconclusive"}


def _all_inputs() -> tuple:
    sweeps = {
        "anisotropy": [_entry(1.0), _entry(100.0)],
        "dim": [_entry(20.0)],
        "noise": [_entry(0.0), _entry(0.3)],
        "coupling": [_entry(0.0), _coupled()],
        "samples": [_entry(1000.0)],
    }
    clip = [_clip_entry(100.0, 0.0, 0.95, 0.95)]
    return sweeps, clip, _real(), 60.0
