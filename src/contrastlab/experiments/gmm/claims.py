"""The claim rules of the ``gmm`` reproduction: each verdict a pure function of the aggregates.

A sweep entry is ``{"value": swept value, method: {score: (mean, sd)}}`` (``compute.Computed``); a
CLIP entry is ``{"anisotropy", "noise", "in_rule", "clip_a", "clip_b", "random_a", "random_b",
"training"}`` with the same ``(mean, sd)`` scores.
"""

from __future__ import annotations

from typing import Any

from contrastlab.report import Claim

__all__ = [
    "CONTAIN_MIN",
    "PCA_MARGIN",
    "RANDOM_MAX",
    "RECOVER_MIN",
    "anisotropic_infonce_claim",
    "claims",
    "clip_claim",
    "isotropic_claim",
    "mean_score",
    "noisy_claim",
    "pca_fails_claim",
]

# Decision rules, fixed before any result was seen (gmm.md, "Expected").
RECOVER_MIN = 0.9  # captured fraction counted as "recovers F"
RANDOM_MAX = 0.5  # isotropic: random must stay clearly below
PCA_MARGIN = 0.1  # anisotropic: PCA within this of the random level counts as failing
CONTAIN_MIN = 0.9  # containment counted as "inside F"


def mean_score(entry: dict[str, Any], method: str, score: str = "captured_fraction") -> float:
    """The mean over seeds of ``score`` of ``method`` in one sweep or CLIP entry."""
    return float(entry[method][score][0])


def isotropic_claim(anisotropy: list[dict[str, Any]]) -> Claim:
    """``isotropic_all_recover_fisher``: at anisotropy 1, InfoNCE, LDA and PCA capture
    >= ``RECOVER_MIN`` of F and random <= ``RANDOM_MAX``; not supported without that point."""
    iso = [e for e in anisotropy if e["value"] == 1.0]
    if iso:
        e = iso[0]
        ev = {f"captured_{m}": mean_score(e, m) for m in ("infonce", "lda", "pca", "random")}
        ok = min(ev["captured_infonce"], ev["captured_lda"], ev["captured_pca"]) >= RECOVER_MIN
        ok = ok and ev["captured_random"] <= RANDOM_MAX
    else:
        ev, ok = {}, False
    return Claim(
        id="isotropic_all_recover_fisher",
        statement="With isotropic covariance, InfoNCE, LDA and PCA all find the Fisher "
        "subspace (and a random subspace does not).",
        supported=bool(ok),
        evidence=ev,
        rule=f"anisotropy 1 (must be in the sweep): mean captured fraction >= {RECOVER_MIN} "
        f"for InfoNCE, LDA and PCA, and <= {RANDOM_MAX} for random",
    )


def anisotropic_infonce_claim(anisotropy: list[dict[str, Any]], dim: list[dict[str, Any]]) -> Claim:
    """``anisotropic_infonce_recovers_fisher``: InfoNCE captures >= ``RECOVER_MIN`` of F at every
    anisotropy > 1 and at every point of the dimension sweep (LDA reported beside it)."""
    aniso = [e for e in anisotropy if e["value"] > 1]
    ev = {f"captured_infonce@anisotropy={e['value']:g}": mean_score(e, "infonce") for e in aniso}
    ev.update({f"captured_infonce@dim={e['value']:g}": mean_score(e, "infonce") for e in dim})
    ev.update({f"captured_lda@anisotropy={e['value']:g}": mean_score(e, "lda") for e in aniso})
    points = aniso + dim
    ok = bool(points) and min(mean_score(e, "infonce") for e in points) >= RECOVER_MIN
    return Claim(
        id="anisotropic_infonce_recovers_fisher",
        statement="With strongly anisotropic covariance, the InfoNCE-trained linear encoder "
        "still spans the Fisher subspace S^-1(mu_i - mu_bar), as LDA does.",
        supported=bool(ok),
        evidence=ev,
        rule=f"mean captured fraction of InfoNCE >= {RECOVER_MIN} at every point with "
        "anisotropy > 1 of the anisotropy sweep and at every point of the dimension sweep "
        "(base anisotropy)",
    )


def pca_fails_claim(anisotropy: list[dict[str, Any]]) -> Claim:
    """``anisotropic_pca_fails``: at the largest anisotropy (> 1), PCA captures at most
    ``PCA_MARGIN`` more of F than a random subspace."""
    top = max(anisotropy, key=lambda e: e["value"])
    ev = {
        "anisotropy": top["value"],
        "captured_pca": mean_score(top, "pca"),
        "captured_random": mean_score(top, "random"),
        "captured_infonce": mean_score(top, "infonce"),
    }
    return Claim(
        id="anisotropic_pca_fails",
        statement="With strongly anisotropic covariance, PCA finds the high-variance "
        "class-free directions, not the Fisher subspace.",
        supported=bool(
            top["value"] > 1 and ev["captured_pca"] <= ev["captured_random"] + PCA_MARGIN
        ),
        evidence=ev,
        rule=f"at the largest anisotropy of the sweep (> 1): mean captured fraction of PCA <= "
        f"random's + {PCA_MARGIN}",
    )


def noisy_claim(noise: list[dict[str, Any]]) -> Claim:
    """``noisy_infonce_within_fisher``: containment of row(A) in F >= ``CONTAIN_MIN`` at every
    noise level > 0 (captured fraction reported beside it)."""
    noisy = [e for e in noise if e["value"] > 0]
    ev = {
        f"containment_infonce@noise={e['value']:g}": mean_score(e, "infonce", "containment")
        for e in noisy
    }
    ev.update({f"captured_infonce@noise={e['value']:g}": mean_score(e, "infonce") for e in noisy})
    return Claim(
        id="noisy_infonce_within_fisher",
        statement="With noisy positives, InfoNCE still learns directions inside the Fisher "
        "subspace (a subset of it), filtering the noise directions out.",
        supported=bool(noisy)
        and min(mean_score(e, "infonce", "containment") for e in noisy) >= CONTAIN_MIN,
        evidence=ev,
        rule=f"mean containment of row(A) in F >= {CONTAIN_MIN} at every noise level > 0 of "
        "the sweep",
    )


def clip_claim(clip: list[dict[str, Any]]) -> Claim:
    """``clip_within_fisher``: both encoders' containment >= ``CONTAIN_MIN`` at every CLIP point
    of the rule (``in_rule``: the base anisotropy); losses and random levels reported beside."""
    ev: dict[str, float] = {}
    for e in (e for e in clip if e["in_rule"]):
        ev[f"clip_loss_trained@noise={e['noise']:g}"] = mean_score(e, "training", "trained_loss")
        ev[f"clip_loss_fisher@noise={e['noise']:g}"] = mean_score(e, "training", "fisher_loss")
        for side in ("a", "b"):
            ev[f"containment_{side}@noise={e['noise']:g}"] = mean_score(
                e, f"clip_{side}", "containment"
            )
            ev[f"random_containment_{side}@noise={e['noise']:g}"] = mean_score(
                e, f"random_{side}", "containment"
            )
    contained = [v for key, v in ev.items() if key.startswith("containment")]
    return Claim(
        id="clip_within_fisher",
        statement="With two modalities, each CLIP encoder learns a subset of its own "
        "modality's Fisher subspace.",
        supported=bool(contained) and min(contained) >= CONTAIN_MIN,
        evidence=ev,
        rule=f"mean containment of each encoder's row space in its modality's F >= "
        f"{CONTAIN_MIN} for both modalities at every CLIP noise level, at the base anisotropy",
    )


def claims(results: dict[str, list[dict[str, Any]]], clip: list[dict[str, Any]]) -> list[Claim]:
    """The five claims, in their order in the report and in ``metrics.json``."""
    return [
        isotropic_claim(results["anisotropy"]),
        anisotropic_infonce_claim(results["anisotropy"], results["dim"]),
        pca_fails_claim(results["anisotropy"]),
        noisy_claim(results["noise"]),
        clip_claim(clip),
    ]
