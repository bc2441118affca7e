"""The index page of ``reproduce all``: one row per experiment, then every claim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contrastlab.report.claims import verdict_of
from contrastlab.report.html import Link, Report

__all__ = ["index_report"]

QUICK_NOTE = " Quick mode: every verdict is indicative; full mode decides."


def _experiment_rows(out: Path, experiments: dict[str, dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for name, entry in experiments.items():
        exists = (out / name / "report.html").is_file() and "error" not in entry
        rows.append(
            [
                Link(name, f"{name}/report.html") if exists else name,
                f"{entry['supported']} / {entry['total']}",
                entry.get("inconclusive", 0),
                entry["seconds"],
                entry.get("error", "ok"),
            ]
        )
    return rows


def _claim_rows(claims: dict[str, list[dict[str, Any]]]) -> list[list[Any]]:
    return [
        [
            name,
            c["id"],
            c["statement"],
            verdict_of(c["supported"], c.get("conclusive", True))
            + (f": {c['reason']}" if c.get("reason") else ""),
            c.get("rule", ""),
            ", ".join(f"{k}={v:.4g}" for k, v in c["evidence"].items() if v is not None),
        ]
        for name, found in claims.items()
        for c in found
    ]


def index_report(out: Path, result: dict[str, Any]) -> Report:
    """The index of ``reproduce all`` written into ``out``.

    Args:
        out: the folder holding ``<name>/report.html`` of each experiment (linked when present).
        result: ``{"quick": bool, "seconds": float, "experiments": {name: {"supported", "total",
            "seconds", ["error"]}}, "claims": {name: [claim json, ...]}}``.
    """
    report = Report("contrastlab: every reproduction")
    report.text(
        f"Each experiment ran with its {'quick' if result['quick'] else 'full'} settings into "
        "its own folder; follow a link for its report (what was done, data, settings, tables, "
        f"figures and verdicts). Total time {result['seconds']:.0f} s. Each claim is supported, "
        "not supported, or inconclusive (the setting cannot decide it, with the reason)."
        + (QUICK_NOTE if result["quick"] else "")
    )
    report.table(
        ["experiment", "claims supported", "inconclusive", "seconds", "status"],
        _experiment_rows(out, result["experiments"]),
        "Experiments",
    )
    report.heading("Every claim")
    report.table(
        ["experiment", "claim", "statement", "verdict", "rule", "evidence"],
        _claim_rows(result["claims"]),
    )
    return report
