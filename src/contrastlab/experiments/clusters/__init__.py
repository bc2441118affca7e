"""Reproduction: InfoNCE with finitely many negatives keeps clusters (``clusters.md``).

Claim (Parulekar et al., COLT 2023): the InfoNCE minimiser over a function class, with a finite
number of negatives, keeps the underlying clusters together when the augmentation sets inside a
cluster are close and intertwined relative to the complexity of the class (they may be
disjoint). The paper's formal conditions and constants could not be confirmed; what is run here
is the project's operational version, and the report says so.

Settings in :mod:`.settings`, the grid (and the real-data section with ``data``) in
:mod:`.compute`, claim rules and what the defaults gave in :mod:`.claims`, the report in
:mod:`.report`.
"""

from __future__ import annotations

from typing import Any

from contrastlab.experiments import ExperimentResult
from contrastlab.experiments.clusters.claims import RECORDED_FULL_RUN, rule_constants
from contrastlab.experiments.clusters.claims import claims as decide
from contrastlab.experiments.clusters.compute import compute
from contrastlab.experiments.clusters.report import build_report
from contrastlab.experiments.clusters.settings import QUICK, Settings, check
from contrastlab.experiments.recorded import compare_with_recorded

__all__ = ["QUICK", "Settings", "check", "run"]


def run(settings: Settings) -> ExperimentResult:
    """Run the grid (and the real-data section when ``data`` is set): check -> compute ->
    claims -> report -> metrics."""
    check(settings)
    found = compute(settings)
    claims = decide(found.points, settings.capacities)
    against_full = compare_with_recorded(claims, RECORDED_FULL_RUN)
    metrics: dict[str, Any] = {
        "grid": found.points,
        "untrained": found.untrained,
        "rule_constants": rule_constants(),
        "data": settings.data,
        "real_data": found.real,
        "recorded_full_run": against_full["recorded"],
        "differs_from_recorded_full": against_full["differs"],
    }
    report = build_report(settings, found, claims, against_full)
    return ExperimentResult(claims, report, metrics)
