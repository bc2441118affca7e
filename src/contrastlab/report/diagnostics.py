"""``metrics.json`` and ``report.html`` of :func:`contrastlab.analysis.diagnose`.

``analyze_file`` is the whole ``contrastlab analyze`` job: read an ``.npz`` of embeddings, run
every diagnostic, write both files. ``diagnostics_report`` renders any
:class:`~contrastlab.analysis.diagnostics.DiagnosticsResult` as a :class:`Report`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from contrastlab.analysis.diagnostics import (
    DIAGNOSE_TS,
    DiagnosticsResult,
    diagnose,
    load_embeddings,
)
from contrastlab.analysis.neighbours import PURITY_KS
from contrastlab.analysis.probes import ProbeResult
from contrastlab.report import figures
from contrastlab.report.html import Report, check_output_folder

__all__ = ["analyze_file", "diagnostics_report", "write_diagnostics"]

_INTRO = (
    "{rows} embeddings of dimension {dim}, {classes} classes. RLD and purity are computed "
    "on L2-normalised embeddings, exactly (RLD blockwise, purity by an exact faiss search). "
    "The authors' RLD code uses the raw features instead (no L2-normalisation), so unless "
    "these embeddings are already unit length their value differs from the one here; "
    "contrastlab.analysis.rld(X, y, t, normalize=False) gives theirs."
)


def analyze_file(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    ts: float | Sequence[float] = DIAGNOSE_TS,
    ks: int | Sequence[int] = PURITY_KS,
    probes: bool = True,
    test_fraction: float = 0.2,
    seed: int = 0,
    log: Callable[[str], Any] | None = None,
) -> Path:
    """Diagnose the embeddings of an ``.npz`` file and write ``metrics.json`` and ``report.html``.

    The file holds ``features`` (N x D) and ``labels`` (N), optionally ``source`` and
    ``cluster`` (N each); the keyword arguments are those of
    :func:`~contrastlab.analysis.diagnose`. Returns the path of ``report.html``.

    Raises:
        InputError: a bad file or parameter (see ``load_embeddings`` and ``diagnose``), or an
            output folder that is a file; FileNotFoundError for a missing file.
    """
    check_output_folder(out)
    data = load_embeddings(path)
    result = diagnose(
        data["features"],
        data["labels"],
        ts=ts,
        ks=ks,
        probes=probes,
        test_fraction=test_fraction,
        cluster=data.get("cluster"),
        source=data.get("source"),
        seed=seed,
        log=log,
    )
    return write_diagnostics(result, out, name=str(path))


def write_diagnostics(
    result: DiagnosticsResult, out: str | os.PathLike[str], name: str = "embeddings"
) -> Path:
    """Write ``out/metrics.json`` (``{"file": name, **result.to_json()}``) and
    ``out/report.html``; returns the path of the report."""
    metrics = {"file": name, **result.to_json()}
    return diagnostics_report(result, Path(name).name).save(out, metrics)


def diagnostics_report(result: DiagnosticsResult, name: str = "embeddings") -> Report:
    """The report of a diagnostics result: density, purity, probes, clusters, the 2-D view."""
    report = Report(f"Embedding diagnostics: {name}")
    report.text(_INTRO.format(rows=result.rows, dim=result.dim, classes=result.classes))
    _density(report, result)
    report.heading("Neighbour label purity")
    report.figure(
        figures.purity_curve({"embeddings": result.purity}),
        "Share of each point's k nearest neighbours (cosine) with its label (k capped at N - 1).",
    )
    if result.probes is not None:
        _probes(report, result.probes)
    if result.clusters is not None:
        report.heading("Cluster preservation")
        report.text(
            "Operational version of the cluster-preservation result (Parulekar et al. 2023); "
            "the paper's formal constants were not confirmed."
        )
        report.table(["measure", "value"], [[k, v] for k, v in result.clusters.items()])
    if result.collapse:
        report.heading("Collapse measures")
        report.text(
            "Uniformity (Wang and Isola 2020, t = 2, on the L2-normalised rows; 0 when every "
            "row is the same point, about -4 when spread evenly on a high-dimensional sphere) "
            "and effective rank (RankMe: exp of the entropy of the normalised singular values; "
            f"1 for a single direction, at most {min(result.rows, result.dim)} here)."
        )
        report.table(["measure", "value"], [[k, v] for k, v in result.collapse.items()])
    report.heading("2-D view")
    report.figure(
        figures.scatter_2d(result.view, result.view_labels, "PCA of the L2-normalised embeddings"),
        f"First two principal components, coloured by label ({len(result.view)} points shown).",
    )
    return report


def _density(report: Report, result: DiagnosticsResult) -> None:
    profile = result.rld
    report.heading("Local density (RLD) and global density (Calinski-Harabasz)")
    report.figure(
        figures.rld_curve({"embeddings": (profile.ts, profile.values)}),
        "RLD against temperature; small t measures local density.",
    )
    rows = [[t, v, ub] for t, v, ub in zip(profile.ts, profile.values, profile.upper_bound)]
    report.table(["t", "RLD", "upper bound 1 - sum a_c^2"], rows)
    if result.calinski_harabasz is not None:
        report.text(f"Calinski-Harabasz score: {result.calinski_harabasz:.4g}.")


def _probes(report: Report, probes: dict[str, ProbeResult]) -> None:
    report.heading("Probes")
    report.text(
        "Model choice on a validation split (10% of the training rows); test labels are "
        "used only for the reported accuracy. kNN: cosine, votes exp(sim / T)."
    )
    report.table(
        ["probe", "test accuracy", "validation accuracy", "parameters", "choice"],
        [[r.name, r.accuracy, r.val_accuracy, r.params, _choice(r)] for r in probes.values()],
    )
    report.table(
        ["k, T", "test accuracy"],
        [[k, v] for k, v in probes["knn"].info["test_accuracy"].items()],
        title="Weighted kNN, every setting",
    )


def _choice(result: ProbeResult) -> str:
    """The model each probe chose on validation, in words."""
    if result.name == "linear":
        return f"C = {result.info['C']:g}"
    if result.name == "knn":
        return str(result.info["chosen"])
    return f"{result.info['graph']} graph, epoch {result.info['best_epoch']}"
