"""The report of the ``spectral`` reproduction: the claim, the setting, figures, tables, reading."""

from __future__ import annotations

from typing import Any

import numpy as np

from contrastlab.experiments._common import describe_kernel, figure, fmt
from contrastlab.experiments.spectral.claims import RESIDUAL_MAX
from contrastlab.experiments.spectral.compute import Computed
from contrastlab.experiments.spectral.report_regimes import (
    bipartite_section,
    minibatch_section,
    sweep_section,
)
from contrastlab.experiments.spectral.settings import Settings, pq_label
from contrastlab.report import Claim, Report

__all__ = ["build_report"]

CLAIM_TEXT = (
    "Tan, Zhang, Yang and Yuan (ICLR 2024) show that InfoNCE is spectral clustering on the "
    "similarity (augmentation) graph. With P the row-normalised graph (P_ij: how likely j is "
    "drawn as i's positive), A = (P + P^T) / 2 and L(A) = D_A - A, the full-batch InfoNCE "
    "with the Gaussian kernel l_ij = -||z_i - z_j||^2 / t is exactly\n\n"
    "H(Z) = sum_i [ -sum_j P_ij l_ij + log sum_{j != i} exp(l_ij) ] "
    "= (2/t) trace(Z^T L(A) Z) + log R(Z),\n\n"
    "the spectral-clustering objective on the graph plus a repulsion log R that keeps the "
    "embeddings from collapsing. The constant 2/t was checked from the formulas: the "
    "attraction is (1/t) sum_ij P_ij ||z_i - z_j||^2 = (1/t) sum_ij A_ij ||z_i - z_j||^2, and "
    "sum_ij A_ij ||z_i - z_j||^2 = 2 trace(Z^T L Z). If the claim holds, embeddings trained "
    "this way should span the bottom eigenvectors of L(A) and cluster like spectral clustering."
)
SETTING_TEXT = (
    "Planted-partition graphs: k = {k} clusters of m = {m} objects (n = {n}); each pair "
    "inside a cluster is an edge with probability p, across clusters with probability q; "
    "settings (p, q) = {pq}. The paper's k and m could not be confirmed, so these are "
    "documented defaults. {graphs} graph(s) per setting (seeds {seed} on).\n\n"
    "Free embeddings Z (n x d, d = {dim}), seeded standard normal start, trained with Adam "
    "(lr {lr}, {steps} full-batch steps, float64) on H with soft targets P, for the kernels "
    "{kernels}. Sphere kernels (Gaussian, Laplacian, the Gaussian + Laplacian kernel sum) see "
    "L2-normalised rows; Student-t sees Z as it is.\n\n"
    "Baselines: the bottom k eigenvectors of L(A) (scipy.sparse.linalg.eigsh); spectral "
    "clustering = k-means on them (and, for reference, Ng-Jordan-Weiss on the normalised "
    "Laplacian). Alignment = mean squared cosine of the principal angles between the centred "
    "Z and the k - 1 non-constant bottom eigenvectors (1 = same subspace)."
)
OTHER_KERNELS_TEXT = (
    "The identity is exact only for the Gaussian kernel; for the other kernels the attraction is "
    "-sum P_ij l_ij, not a trace form. Their alignment with the spectral subspace shows how far "
    "each departs from the spectral solution: {parts}."
)


def _setting_section(rep: Report, settings: Settings, found: Computed) -> None:
    rep.heading("The setting")
    first = pq_label(*settings.pq[0])
    rep.text(
        SETTING_TEXT.format(
            k=settings.k,
            m=settings.m,
            n=settings.k * settings.m,
            pq=", ".join(f"({p:g}, {q:g})" for p, q in settings.pq),
            graphs=len(found.runs[first]),
            seed=settings.seed,
            dim=settings.dim or settings.k,
            lr=settings.lr,
            steps=settings.steps,
            kernels=", ".join(describe_kernel(spec) for spec in settings.kernels),
        )
    )


def _identity_section(rep: Report, labels: list[str], found: Computed) -> None:
    rep.heading("1. The identity, at every logged step")
    fig, axes = figure(ncols=2)
    for j, label in enumerate(labels):
        for i, r in enumerate(found.runs[label]):
            log = r["kernels"]["gaussian"]["identity_log"]
            steps = [e["step"] for e in log]
            style = {"color": f"C{j}", "label": label if i == 0 else None, "lw": 1}
            # An exact 0 has no logarithm: drawn at 1e-18.
            axes[0, 0].semilogy(steps, [max(e["residual"], 1e-18) for e in log], **style)
            axes[0, 1].plot(steps, [e["H"] for e in log], **style)
    axes[0, 0].axhline(RESIDUAL_MAX, color="k", ls="--", lw=1, label="threshold 1e-9")
    axes[0, 0].set(xlabel="step", ylabel="|H - (2/t)tr - log R| / |H|", title="identity residual")
    axes[0, 1].set(xlabel="step", ylabel="H (full batch)", title="Gaussian InfoNCE during training")
    for ax in axes[0]:
        ax.legend(fontsize=8)
    rep.figure(
        fig,
        "Left: relative residual of the identity (float64, one line per graph; an exact 0 is "
        "drawn at 1e-18). Right: the loss it is computed on.",
    )
    summary = found.summary
    residual = max(s["max_residual"] for s in summary.values())
    rep.text(
        f"Largest relative residual over {sum(s['logged_steps'] for s in summary.values())} "
        f"logged steps: {fmt(residual)} (H from the loss engine's soft_target_infonce; the right "
        "side computed separately in numpy from the formulas). This is an implementation "
        "check: the identity is algebra and holds for any Z and P, so it says the loss engine "
        "computes H correctly, not that contrastive learning behaves as the paper says. The "
        "evidence for the paper is in the sections that follow."
    )


def _alignment_section(rep: Report, labels: list[str], found: Computed) -> None:
    rep.heading("2. Subspace alignment with the bottom eigenvectors")
    names, summary = found.names, found.summary
    fig, axes = figure(ncols=2)
    width = 0.8 / len(labels)
    for j, score in enumerate(("alignment", "nmi")):
        ax = axes[0, j]
        for i, label in enumerate(labels):
            means = [summary[label][f"{n}_{score}"][0] for n in names]
            sds = [summary[label][f"{n}_{score}"][1] for n in names]
            ax.bar(np.arange(len(names)) + i * width, means, width, yerr=sds, label=label)
        ax.set_xticks(np.arange(len(names)) + width * (len(labels) - 1) / 2, names, fontsize=8)
        ax.set(ylim=(0, 1.05), ylabel=score, title=f"{score} (mean, sd over seeds)")
        ax.legend(fontsize=8)
    for label in labels:
        axes[0, 1].axhline(summary[label]["spectral_L_nmi"][0], color="k", ls=":", lw=1)
    rep.figure(
        fig,
        "Left: alignment of each kernel's embedding with the spectral subspace. "
        "Right: NMI of k-means on the embedding; dotted: spectral clustering.",
    )


def _clustering_section(rep: Report, labels: list[str], found: Computed) -> None:
    rep.heading("3. Clustering next to spectral clustering")
    rows = []
    for label in labels:
        s = found.summary[label]
        for method in [*found.names, "spectral_L", "spectral_Lsym"]:
            alignment = s[f"{method}_alignment"][0] if f"{method}_alignment" in s else float("nan")
            nmi = s[f"{method}_nmi"]
            rows.append([label, method, alignment, nmi[0], nmi[1], s[f"{method}_ari"][0]])
    rep.table(
        ["setting", "method", "alignment", "NMI", "NMI sd", "ARI"],
        rows,
        title="Means over seeds (spectral_L: k-means on bottom eigenvectors of L(A); "
        "spectral_Lsym: Ng-Jordan-Weiss)",
    )


def _reading_section(rep: Report, labels: list[str], found: Computed, claims: list[Claim]) -> None:
    rep.heading("Reading")
    for claim in claims:
        evidence = ", ".join(f"{key} = {fmt(v)}" for key, v in claim.evidence.items())
        source = f" ({claim.source})" if claim.source else ""
        reason = f" ({claim.reason})" if claim.reason else ""
        rep.text(
            f"{claim.id}{source}: {claim.verdict}{reason}. Rule: {claim.rule}. "
            f"Evidence: {evidence}."
        )
    summary: dict[str, Any] = found.summary
    parts = [
        f"{n}: " + ", ".join(f"{summary[lab][f'{n}_alignment'][0]:.3f} at {lab}" for lab in labels)
        for n in found.names
        if n != "gaussian"
    ]
    if parts:
        rep.text(OTHER_KERNELS_TEXT.format(parts="; ".join(parts)))


def build_report(settings: Settings, found: Computed, claims: list[Claim]) -> Report:
    """The report of one run: claim, setting, the identity, alignment, clustering, bipartite
    CLIP, the regime sweep, mini-batches, reading (the runner appends verdicts and settings)."""
    labels = [pq_label(p, q) for p, q in settings.pq]
    rep = Report("Contrastive learning as spectral clustering on the similarity graph")
    rep.heading("The claim")
    rep.text(CLAIM_TEXT)
    _setting_section(rep, settings, found)
    _identity_section(rep, labels, found)
    _alignment_section(rep, labels, found)
    _clustering_section(rep, labels, found)
    if found.bipartite:
        bipartite_section(rep, settings, found.bipartite)
    sweep_section(rep, settings, found.sweep)
    minibatch_section(rep, settings, found.minibatch)
    _reading_section(rep, labels, found, claims)
    return rep
