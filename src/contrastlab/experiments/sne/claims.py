"""The claim rules of ``reproduce sne``: each verdict a pure function of the measurements.

The sweep: rows {"kernel", "dim", "seed", "output_knn_id", "output_knn_shift", ...}
(``compute.sweep``); the map: the metrics of ``embed2d.embed_2d``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contrastlab.report import Claim

# Decision rules, fixed before any result was seen.
IDENTITY_MAX_RESIDUAL = 1e-10  # relative to the loss, float64
LOW_DIMS = (2, 8)  # where t-SimCLR's gain is claimed to be largest
MIN_GAIN = 0.0  # student_t minus cosine output-space kNN accuracy, each low dim and test set
TSNE_TOLERANCE = 0.05  # contrastive 2-D kNN may be at most this far below t-SNE's
TESTS = ("id", "shift")


def means(results: list[dict[str, Any]], name: str, dim: int, key: str) -> float:
    """The mean of ``key`` over the seeds of kernel ``name`` at dimension ``dim``."""
    values = [r[key] for r in results if r["kernel"] == name and r["dim"] == dim]
    return float(np.mean(values))


def identity_claim(joint: float, conditional: float, batches: int) -> Claim:
    """``kl_identity``: the largest relative residual of both forms < ``IDENTITY_MAX_RESIDUAL``."""
    return Claim(
        id="kl_identity",
        statement="KL(P || Q) with P from augmentation and Q the kernel softmax equals the "
        "InfoNCE loss up to a constant (0 for the joint Q, log(1/2B) for the conditional q).",
        supported=joint < IDENTITY_MAX_RESIDUAL and conditional < IDENTITY_MAX_RESIDUAL,
        evidence={
            "max_rel_residual_joint": joint,
            "max_rel_residual_conditional": conditional,
            "batches": float(batches),
        },
        rule=f"max relative residual of both forms < {IDENTITY_MAX_RESIDUAL:g} (float64)",
    )


def low_dim_gain_claim(results: list[dict[str, Any]], dims: list[int]) -> Claim:
    """``student_t_low_dim_gain``: at each of ``LOW_DIMS``, on the test split and the shifted
    one, student_t's mean output-space kNN accuracy minus cosine's > ``MIN_GAIN``; not supported
    when one of ``LOW_DIMS`` was not run (the gains of those that were are still reported)."""
    low = [d for d in LOW_DIMS if d in dims]
    evidence = {
        f"gain_knn_{part}_d{d}": means(results, "student_t", d, f"output_knn_{part}")
        - means(results, "cosine", d, f"output_knn_{part}")
        for d in low
        for part in TESTS
    }
    return Claim(
        id="student_t_low_dim_gain",
        statement="A Student-t kernel (t-SimCLR) gives better features than the cosine kernel "
        "(SimCLR) at low feature dimension, in distribution and out of distribution.",
        supported=low == list(LOW_DIMS) and all(v > MIN_GAIN for v in evidence.values()),
        evidence=evidence or {"low_dims_run": 0.0},
        rule=f"at each feature dimension in {list(LOW_DIMS)} and on both the test split and the "
        f"shifted one, student_t's mean output-space kNN accuracy minus cosine's > {MIN_GAIN}",
    )


def embed2d_claim(metrics: dict[str, Any]) -> Claim:
    """``embed2d_versus_tsne``: contrastive 2-D kNN accuracy >= t-SNE's - ``TSNE_TOLERANCE``;
    not supported (not decidable) when t-SNE did not run."""
    contrastive = metrics["contrastive"]["knn_2d"]
    statement = (
        "A parametric 2-D map by contrastive learning with the Cauchy kernel "
        "(t-SimCNE) is comparable to t-SNE in 2-D kNN accuracy."
    )
    rule = f"contrastive 2-D kNN >= t-SNE 2-D kNN - {TSNE_TOLERANCE}"
    if not metrics["tsne"]["ran"]:
        return Claim(
            "embed2d_versus_tsne",
            statement,
            False,
            {"knn_2d_contrastive": contrastive, "tsne_ran": 0.0},
            f"{rule}; not decidable: {metrics['tsne']['note']}",
        )
    tsne = metrics["tsne"]["knn_2d"]
    return Claim(
        "embed2d_versus_tsne",
        statement,
        contrastive >= tsne - TSNE_TOLERANCE,
        {
            "knn_2d_contrastive": contrastive,
            "knn_2d_tsne": tsne,
            "seconds_contrastive": metrics["contrastive"]["seconds"],
            "seconds_tsne": metrics["tsne"]["seconds"],
        },
        rule,
    )
