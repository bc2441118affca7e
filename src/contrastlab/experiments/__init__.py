"""Reproductions of the papers' claims, one package per experiment.

Each experiment (``EXPERIMENTS``) is a package ``<name>/`` of ``settings.py`` (the frozen
``Settings`` dataclass with ranges, ``QUICK``, ``check``), ``compute.py`` (the numbers),
``claims.py`` (the claim rules, pure functions of the evidence) and ``report.py``; its
``__init__`` exposes ``Settings``, ``QUICK``, ``check(settings)`` and
``run(settings) -> ExperimentResult``. Settings are built and checked only by
:mod:`contrastlab.experiments.runner` (``runner.settings_for(name, quick, overrides, data)``),
which ``contrastlab reproduce NAME|all`` calls; it writes ``metrics.json`` and ``report.html``.
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
