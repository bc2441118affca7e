"""The claim rules of the ``spectral`` reproduction: each verdict a pure function of the summary.

A summary is ``{pq_label(p, q): compute.summarise(...)}``: per (p, q) setting, ``(mean, sd)`` of
every score (``"gaussian_alignment"``, ``"gaussian_nmi"``, ``"spectral_L_nmi"``, ...) and the
identity's ``"max_residual"`` and ``"logged_steps"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contrastlab.experiments.spectral.settings import pq_label
from contrastlab.report import Claim

__all__ = [
    "ALIGN_MIN_CLEAN",
    "ALIGN_MIN_NOISY",
    "NMI_GAP_MAX",
    "NMI_MIN_CLEAN",
    "RESIDUAL_MAX",
    "alignment_claim",
    "claims",
    "clustering_claim",
    "identity_claim",
]

# Decision rules, fixed before any result was seen (spectral.md, "what the report should show").
RESIDUAL_MAX = 1e-9
ALIGN_MIN_CLEAN = 0.95  # (p, q) = (1, 0): alignment "near 1"
ALIGN_MIN_NOISY = 0.8  # (p, q) = (0.75, 0.2)
NMI_MIN_CLEAN = 0.999  # (1, 0): both recover the clusters exactly
NMI_GAP_MAX = 0.05  # (0.75, 0.2): NMI "within a few points"


def identity_claim(summary: dict[str, dict[str, Any]]) -> Claim:
    """``identity_exact``: the largest relative residual over every setting < ``RESIDUAL_MAX``."""
    residual = max(s["max_residual"] for s in summary.values())
    logged = sum(s["logged_steps"] for s in summary.values())
    return Claim(
        id="identity_exact",
        statement=(
            "Full-batch InfoNCE with the Gaussian kernel equals (2/t) tr(Z^T L(A) Z) + "
            "log R(Z): the attraction term is exactly the spectral-clustering objective on "
            "the graph."
        ),
        supported=residual < RESIDUAL_MAX,
        evidence={"max_relative_residual": residual, "logged_steps": float(logged)},
        rule=(
            f"max over all logged training steps of |H - (2/t)tr - log R| / |H| < {RESIDUAL_MAX:g}"
        ),
    )


def alignment_claim(summary: dict[str, dict[str, Any]], pq: Sequence[Sequence[float]]) -> Claim:
    """``gaussian_aligns_with_spectral``: mean alignment >= ``ALIGN_MIN_CLEAN`` at every setting
    with q = 0 and >= ``ALIGN_MIN_NOISY`` at every setting with q > 0."""
    supported = True
    evidence: dict[str, float] = {}
    for p, q in pq:
        alignment = summary[pq_label(p, q)]["gaussian_alignment"][0]
        evidence[f"alignment@{pq_label(p, q)}"] = alignment
        supported &= alignment >= (ALIGN_MIN_CLEAN if q == 0 else ALIGN_MIN_NOISY)
    return Claim(
        id="gaussian_aligns_with_spectral",
        statement=(
            "Embeddings trained with Gaussian-kernel InfoNCE span the same subspace as the "
            "non-constant bottom eigenvectors of the graph Laplacian L(A)."
        ),
        supported=bool(supported),
        evidence=evidence,
        rule=(
            "mean over seeds of the mean squared cosine of the principal angles between "
            f"centred Z and the bottom eigenvectors >= {ALIGN_MIN_CLEAN} for every setting "
            f"with q = 0 and >= {ALIGN_MIN_NOISY} for every setting with q > 0"
        ),
    )


def clustering_claim(summary: dict[str, dict[str, Any]], pq: Sequence[Sequence[float]]) -> Claim:
    """``infonce_matches_spectral_clustering``: at q = 0 both mean NMIs >= ``NMI_MIN_CLEAN``; at
    q > 0 the two mean NMIs at most ``NMI_GAP_MAX`` apart."""
    supported = True
    evidence: dict[str, float] = {}
    for p, q in pq:
        s = summary[pq_label(p, q)]
        nmi, nmi_spec = s["gaussian_nmi"][0], s["spectral_L_nmi"][0]
        evidence[f"nmi_infonce@{pq_label(p, q)}"] = nmi
        evidence[f"nmi_spectral@{pq_label(p, q)}"] = nmi_spec
        if q == 0:
            supported &= min(nmi, nmi_spec) >= NMI_MIN_CLEAN
        else:
            supported &= abs(nmi - nmi_spec) <= NMI_GAP_MAX
    return Claim(
        id="infonce_matches_spectral_clustering",
        statement=(
            "k-means on InfoNCE-Gaussian embeddings recovers the planted clusters as well as "
            "spectral clustering does."
        ),
        supported=bool(supported),
        evidence=evidence,
        rule=(
            f"mean NMI: q = 0: both InfoNCE-Gaussian and spectral clustering (k-means on the "
            f"bottom eigenvectors of L(A)) >= {NMI_MIN_CLEAN}; q > 0: |NMI_InfoNCE - "
            f"NMI_spectral| <= {NMI_GAP_MAX}"
        ),
    )


def claims(summary: dict[str, dict[str, Any]], pq: Sequence[Sequence[float]]) -> list[Claim]:
    """The three claims, in their order in the report and in ``metrics.json``."""
    return [
        identity_claim(summary),
        alignment_claim(summary, pq),
        clustering_claim(summary, pq),
    ]
