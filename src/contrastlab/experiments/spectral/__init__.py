"""Reproduction: contrastive learning is spectral clustering on the similarity graph.

Claim (Tan, Zhang, Yang, Yuan, ICLR 2024): the full-batch InfoNCE with soft targets ``P`` and the
Gaussian kernel is ``(2/t) trace(Z^T L(A) Z) + log R(Z)`` with ``A = (P + P^T) / 2``, so InfoNCE
does spectral clustering on ``A`` (the identity and its constant: :mod:`.compute`).

Experiment (``spectral.md``): planted-partition graphs, free embeddings trained with
``losses.soft_target_infonce`` for several kernels, compared with the bottom eigenvectors of
``L(A)`` and with spectral clustering (:mod:`.compute`); claim rules in :mod:`.claims`, the
report in :mod:`.report`, the settings in :mod:`.settings`.
"""

from __future__ import annotations

from contrastlab.experiments import ExperimentResult
from contrastlab.experiments.recorded import compare_with_recorded, recorded_run_section
from contrastlab.experiments.spectral.claims import RECORDED_FULL_RUN
from contrastlab.experiments.spectral.claims import claims as decide
from contrastlab.experiments.spectral.compute import compute
from contrastlab.experiments.spectral.regimes import detection_threshold
from contrastlab.experiments.spectral.report import build_report
from contrastlab.experiments.spectral.settings import QUICK, Settings, check

__all__ = ["QUICK", "Settings", "check", "run"]


def run(settings: Settings) -> ExperimentResult:
    """Run the experiment of ``spectral.md``: check -> compute -> claims -> report -> metrics."""
    check(settings)
    found = compute(settings)
    claims = decide(found.summary, settings.pq, found.sweep, found.minibatch, found.bipartite)
    against_full = compare_with_recorded(claims, RECORDED_FULL_RUN)
    metrics = {
        "summary": found.summary,
        "bipartite": found.bipartite,
        "runs": found.runs,
        "sweep": found.sweep,
        "detection_threshold": detection_threshold(settings.k, settings.m, settings.regime_p),
        "minibatch": found.minibatch,
        "recorded_full_run": against_full["recorded"],
        "differs_from_recorded_full": against_full["differs"],
    }
    report = build_report(settings, found, claims)
    recorded_run_section(report, claims, against_full)
    return ExperimentResult(claims, report, metrics)
