"""Reproductions of the papers' claims, one module per experiment.

Each module provides ``DEFAULTS`` (a settings dict), ``QUICK`` (overrides for ``--quick``) and
``run(settings) -> ExperimentResult``. ``contrastlab reproduce NAME`` merges the settings, applies
``--set key=value`` overrides, runs, and writes ``metrics.json`` and ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contrastlab.report import Claim, Report

EXPERIMENTS: dict[str, str] = {
    "spectral": "contrastlab.experiments.spectral",
    "gmm": "contrastlab.experiments.gmm",
    "clusters": "contrastlab.experiments.clusters",
    "rld": "contrastlab.experiments.rld",
    "sne": "contrastlab.experiments.sne",
    "kernels": "contrastlab.experiments.kernels",
}


@dataclass
class ExperimentResult:
    """What an experiment returns: its claims, extra metrics and a filled-in report."""

    claims: list[Claim]
    report: Report
    metrics: dict[str, Any] = field(default_factory=dict)
