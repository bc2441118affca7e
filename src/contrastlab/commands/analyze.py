"""Diagnose embeddings in an .npz file: RLD, purity, probes, cluster preservation, a 2-D view.

The file holds ``features`` (N x D) and ``labels`` (N), optionally ``source`` and ``cluster``
(N each). Writes ``metrics.json`` and ``report.html`` into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.errors import InputError

DEFAULT_TS = (1.0, 0.5, 0.2, 0.1, 0.05)
DEFAULT_KS = (1, 10, 100, 500, 1000)
MAX_SCATTER_POINTS = 5000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help=".npz with features, labels (and optional source, cluster)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--ts",
        type=float,
        nargs="+",
        default=list(DEFAULT_TS),
        help="RLD temperatures (default 1 0.5 0.2 0.1 0.05)",
    )
    parser.add_argument(
        "--ks",
        type=int,
        nargs="+",
        default=list(DEFAULT_KS),
        help="neighbour purity k values (default 1 10 100 500 1000)",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of rows held out as the probes' test set (default 0.2)",
    )
    parser.add_argument("--no-probes", action="store_true", help="skip the three probes")
    parser.add_argument("--seed", type=int, default=0)


def load_embeddings(path: str | Path) -> dict[str, np.ndarray]:
    """Read and validate ``features``, ``labels`` and the optional ``source`` and ``cluster``.

    Raises:
        InputError: for a file that is not an .npz, a missing key, a wrong shape, a non-numeric
            or non-finite feature, or a length mismatch; FileNotFoundError for a missing file.
    """
    from contrastlab.analysis._inputs import check_features, check_labels

    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"no such file: {file}")
    try:
        archive = np.load(file, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise InputError(f"{file} holds a single array, not an .npz archive of named arrays")
        with archive:
            arrays = {key: archive[key] for key in archive.files}
    except (IsADirectoryError, PermissionError, InputError):
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise InputError(f"{file} is not a readable .npz file ({type(err).__name__})") from err
    for key in ("features", "labels"):
        if key not in arrays:
            raise InputError(
                f"{file} has no '{key}' array (found: {', '.join(sorted(arrays)) or 'none'})"
            )
    out = {"features": check_features(arrays["features"], "features")}
    n = out["features"].shape[0]
    for key in ("labels", "source", "cluster"):
        if key in arrays:
            check_labels(arrays[key], n, key)
            out[key] = np.asarray(arrays[key])
    return out


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def analyze(data: dict[str, np.ndarray], args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Run every diagnostic that applies; returns the metrics and the filled-in report."""
    from contrastlab import analysis
    from contrastlab.report import Report
    from contrastlab.report import figures as report_figures

    X, y = data["features"], data["labels"]
    n, dim = X.shape
    classes = np.unique(y)
    report = Report(f"Embedding diagnostics: {Path(args.file).name}")
    report.text(
        f"{n} embeddings of dimension {dim}, {len(classes)} classes. RLD and purity are computed "
        "on L2-normalised embeddings, exactly (RLD blockwise, purity by an exact faiss search). "
        "The authors' RLD code uses the raw features instead (no L2-normalisation), so unless "
        "these embeddings are already unit length their value differs from the one here; "
        "contrastlab.analysis.rld(X, y, t, normalize=False) gives theirs."
    )
    metrics: dict[str, Any] = {
        "file": str(args.file),
        "rows": n,
        "dim": dim,
        "classes": len(classes),
    }

    start = time.perf_counter()
    _say(f"analyze: RLD at t = {', '.join(f'{t:g}' for t in args.ts)} ({n} rows)")
    profile = analysis.rld_profile(X, y, args.ts)
    metrics["rld"] = profile.to_json()
    report.heading("Local density (RLD) and global density (Calinski-Harabasz)")
    report.figure(
        report_figures.rld_curve({"embeddings": (profile.ts, profile.values)}),
        "RLD against temperature; small t measures local density.",
    )
    rows = [[t, v, ub] for t, v, ub in zip(profile.ts, profile.values, profile.upper_bound)]
    report.table(["t", "RLD", "upper bound 1 - sum a_c^2"], rows)
    if 2 <= len(classes) < n:
        metrics["calinski_harabasz"] = analysis.calinski_harabasz(X, y)
        report.text(f"Calinski-Harabasz score: {metrics['calinski_harabasz']:.4g}.")

    ks = tuple(sorted(set(args.ks)))
    _say(f"analyze: neighbour purity for k = {', '.join(map(str, ks))}")
    purity = analysis.neighbour_purity(X, y, ks)
    metrics["purity"] = {str(k): v for k, v in purity.items()}
    report.heading("Neighbour label purity")
    report.figure(
        report_figures.purity_curve({"embeddings": purity}),
        "Share of each point's k nearest neighbours (cosine) with its label (k capped at N - 1).",
    )

    if not args.no_probes:
        _run_probes(X, y, args, metrics, report)

    if "cluster" in data:
        _say("analyze: cluster preservation")
        cluster_metrics = analysis.cluster_preservation(X, data["cluster"], data.get("source"))
        metrics["clusters"] = cluster_metrics
        report.heading("Cluster preservation")
        report.text(
            "Operational version of the cluster-preservation result (Parulekar et al. 2023); "
            "the paper's formal constants were not confirmed."
        )
        report.table(["measure", "value"], [[k, v] for k, v in cluster_metrics.items()])

    report.heading("2-D view")
    points, labels = _two_d_view(X, y, args.seed)
    report.figure(
        report_figures.scatter_2d(points, labels, "PCA of the L2-normalised embeddings"),
        f"First two principal components, coloured by label ({len(points)} points shown).",
    )
    metrics["seconds"] = time.perf_counter() - start
    return metrics, report


def _run_probes(
    X: np.ndarray, y: np.ndarray, args: argparse.Namespace, metrics: dict[str, Any], report: Any
) -> None:
    from contrastlab import analysis
    from contrastlab.analysis.probes import split_indices

    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2 or y.size < 10:
        _say("analyze: probes skipped (need 2+ classes and 10+ rows)")
        return
    train, test = split_indices(y, args.test_fraction, args.seed)
    results = []
    for name, probe in (
        ("linear", analysis.linear_probe),
        ("knn", analysis.knn_probe),
        ("gcn", analysis.gcn_probe),
    ):
        _say(f"analyze: {name} probe ({train.size} train / {test.size} test rows)")
        results.append(probe(X[train], y[train], X[test], y[test], seed=args.seed))
    metrics["probes"] = {r.name: r.to_json() for r in results}
    report.heading("Probes")
    report.text(
        "Model choice on a validation split (10% of the training rows); test labels are "
        "used only for the reported accuracy. kNN: cosine, votes exp(sim / T)."
    )
    report.table(
        ["probe", "test accuracy", "validation accuracy", "parameters", "choice"],
        [[r.name, r.accuracy, r.val_accuracy, r.params, _choice(r)] for r in results],
    )
    knn = next(r for r in results if r.name == "knn")
    report.table(
        ["k, T", "test accuracy"],
        [[k, v] for k, v in knn.info["test_accuracy"].items()],
        title="Weighted kNN, every setting",
    )


def _choice(result: Any) -> str:
    if result.name == "linear":
        return f"C = {result.info['C']:g}"
    if result.name == "knn":
        return str(result.info["chosen"])
    return f"{result.info['graph']} graph, epoch {result.info['best_epoch']}"


def _two_d_view(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from contrastlab.analysis._inputs import l2_normalise

    rng = np.random.default_rng(seed)
    keep = (
        np.sort(rng.choice(len(X), MAX_SCATTER_POINTS, replace=False))
        if len(X) > MAX_SCATTER_POINTS
        else np.arange(len(X))
    )
    Z = l2_normalise(X[keep].astype(np.float64))
    Z = Z - Z.mean(axis=0)
    if Z.shape[1] == 1:
        return np.concatenate([Z, np.zeros_like(Z)], axis=1), y[keep]
    _, _, vt = np.linalg.svd(Z, full_matrices=False)
    return Z @ vt[:2].T, y[keep]


def run(args: argparse.Namespace) -> int:
    data = load_embeddings(args.file)
    if any(t <= 0 for t in args.ts):
        raise InputError(f"--ts must be positive, got {args.ts}")
    if any(k < 1 for k in args.ks):
        raise InputError(f"--ks must be >= 1, got {args.ks}")
    if not 0.0 < args.test_fraction < 1.0:
        raise InputError(f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    metrics, report = analyze(data, args)
    path = report.save(Path(args.out), metrics)
    print(f"report: {path}")
    return 0
