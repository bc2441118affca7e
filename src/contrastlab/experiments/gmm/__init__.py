"""Reproduction: InfoNCE on Gaussian mixtures learns the Fisher subspace.

Claim (Bansal, Kavis, Sanghavi 2024): with data from a mixture of ``k`` Gaussians with one shared
covariance ``S`` and positives drawn as a second sample of the same component, a linear encoder
trained with InfoNCE spans ``F = span{S^-1 (mu_i - mu_bar)}`` (what LDA finds) even for strongly
anisotropic ``S``, where PCA finds the high-variance class-free directions instead, and (the
coupled generator) when ``S^-1`` turns ``F`` away from the span of the means. With noisy
positives InfoNCE learns a subset of ``F``; with two modalities (CLIP) each encoder learns a
subset of its own modality's Fisher subspace.

Settings in :mod:`.settings`, the sweeps in :mod:`.compute` (its docstring lists the choices made
where the paper's could not be confirmed), claim rules in :mod:`.claims`, the report in
:mod:`.report`.
"""

from __future__ import annotations

from contrastlab.experiments import ExperimentResult
from contrastlab.experiments.gmm.claims import RECORDED_FULL_RUN
from contrastlab.experiments.gmm.claims import claims as decide
from contrastlab.experiments.gmm.compute import compute
from contrastlab.experiments.gmm.report import build_report
from contrastlab.experiments.gmm.settings import QUICK, Settings, check
from contrastlab.experiments.recorded import compare_with_recorded, recorded_run_section

__all__ = ["QUICK", "Settings", "check", "run"]


def run(settings: Settings) -> ExperimentResult:
    """Run the sweeps of ``gmm.md``: check -> compute -> claims -> report -> metrics."""
    check(settings)
    found = compute(settings)
    claims = decide(found.sweeps, found.clip, found.real, settings.coupling_angle)
    against_full = compare_with_recorded(claims, RECORDED_FULL_RUN)
    metrics = {
        "sweeps": found.sweeps,
        "clip": found.clip,
        "real": found.real,
        "per_seed": found.per_seed,
        "recorded_full_run": against_full["recorded"],
        "differs_from_recorded_full": against_full["differs"],
    }
    report = build_report(settings, found, claims)
    recorded_run_section(report, claims, against_full)
    return ExperimentResult(claims, report, metrics)
