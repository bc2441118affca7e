"""Every diagnostic of one set of embeddings in one call: ``diagnose(X, y) -> DiagnosticsResult``.

What it computes, each by the function of this package that defines it:

- local density: RLD at every temperature of ``ts`` (:func:`~contrastlab.analysis.rld_profile`,
  exact and blockwise, on L2-normalised rows);
- global density: the Calinski-Harabasz score of the L2-normalised rows
  (:func:`~contrastlab.analysis.calinski_harabasz`), when ``2 <= classes < N``;
- neighbour label purity for every ``k`` of ``ks`` (:func:`~contrastlab.analysis.neighbour_purity`);
- the linear, weighted-kNN and GCN probes on one stratified split that holds out
  ``round(test_fraction * N)`` rows (:func:`~contrastlab.analysis.probes.split_indices`), when
  asked for and there are 2+ classes and 10+ rows;
- cluster preservation (:func:`~contrastlab.analysis.cluster_preservation`) when a ``cluster``
  id per row is given (with ``source``, also the intertwining gap);
- collapse measures: uniformity (Wang and Isola, t = 2) and the effective rank (RankMe) of
  :mod:`~contrastlab.analysis.collapse` (alignment needs two views of each sample, which an
  embeddings file does not have; ``train`` logs it);
- a 2-D view: the first two principal components of the L2-normalised rows (centred), on a
  seeded subsample of ``MAX_SCATTER_POINTS`` rows when there are more.

``load_embeddings`` reads the ``.npz`` file the ``analyze`` command takes (``features``,
``labels``, optional ``source`` and ``cluster``); ``contrastlab.report.diagnostics`` renders a
result as ``metrics.json`` and ``report.html``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 30)
    >>> X = rng.normal(size=(60, 4)) + 3 * np.eye(4)[y]
    >>> result = diagnose(X, y, ts=(0.1,), ks=(5,), probes=False)
    >>> result.purity[5] > 0.9, result.probes is None
    (True, True)
"""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.analysis._inputs import (
    check_features,
    check_ks,
    check_labels,
    check_positive,
    l2_normalise,
    to_numpy,
)
from contrastlab.analysis.clusters import cluster_preservation
from contrastlab.analysis.collapse import effective_rank, uniformity
from contrastlab.analysis.density import RLDProfile, calinski_harabasz, rld_profile
from contrastlab.analysis.neighbours import PURITY_KS, neighbour_purity
from contrastlab.analysis.probes import (
    ProbeResult,
    gcn_probe,
    knn_probe,
    linear_probe,
    split_indices,
)
from contrastlab.errors import InputError

__all__ = ["DIAGNOSE_TS", "MAX_SCATTER_POINTS", "DiagnosticsResult", "diagnose", "load_embeddings"]

DIAGNOSE_TS: tuple[float, ...] = (1.0, 0.5, 0.2, 0.1, 0.05)
MAX_SCATTER_POINTS = 5000
PROBES_MIN_ROWS = 10


@dataclass(frozen=True)
class DiagnosticsResult:
    """What :func:`diagnose` measured.

    Attributes:
        rows, dim, classes: the shape of the embeddings and the number of distinct labels.
        rld: RLD at every temperature with its per-class terms.
        purity: ``{k: neighbour label purity}``, k ascending.
        view: (M, 2) first two principal components of the (subsampled) rows.
        view_labels: the M labels of ``view``'s rows.
        calinski_harabasz: the Calinski-Harabasz score, None when ``2 <= classes < rows`` fails.
        probes: ``{"linear", "knn", "gcn"}`` results, None when not run.
        probes_note: why the probes did not run (empty when they ran or were not asked for).
        clusters: the cluster-preservation measures, None without ``cluster``.
        collapse: ``uniformity`` (t = 2, on at most ``MAX_SCATTER_POINTS`` seeded rows) and
            ``effective_rank`` (all rows) of :mod:`contrastlab.analysis.collapse`.
        seconds: wall time of :func:`diagnose`.
    """

    rows: int
    dim: int
    classes: int
    rld: RLDProfile
    purity: dict[int, float]
    view: np.ndarray = field(compare=False, repr=False)
    view_labels: np.ndarray = field(compare=False, repr=False)
    calinski_harabasz: float | None = None
    probes: dict[str, ProbeResult] | None = None
    probes_note: str = ""
    clusters: dict[str, float] | None = None
    collapse: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``metrics.json`` fields (``rld``, ``purity`` keyed by ``str(k)``, ...)."""
        out: dict[str, Any] = {"rows": self.rows, "dim": self.dim, "classes": self.classes}
        out["rld"] = self.rld.to_json()
        if self.calinski_harabasz is not None:
            out["calinski_harabasz"] = self.calinski_harabasz
        out["purity"] = {str(k): v for k, v in self.purity.items()}
        if self.probes is not None:
            out["probes"] = {name: probe.to_json() for name, probe in self.probes.items()}
        if self.clusters is not None:
            out["clusters"] = dict(self.clusters)
        out["collapse"] = dict(self.collapse)
        out["seconds"] = self.seconds
        return out


def _check_fraction(value: float, name: str) -> float:
    number = check_positive(value, name)
    if not number < 1.0:
        raise InputError(f"{name} must be in (0, 1), got {value!r}")
    return number


def diagnose(
    X: Any,
    y: Any,
    *,
    ts: float | Sequence[float] = DIAGNOSE_TS,
    ks: int | Sequence[int] = PURITY_KS,
    probes: bool = True,
    test_fraction: float = 0.2,
    cluster: Any = None,
    source: Any = None,
    seed: int = 0,
    log: Callable[[str], Any] | None = None,
) -> DiagnosticsResult:
    """Every diagnostic that applies to embeddings ``X`` with labels ``y`` (module docstring).

    Args:
        X: embeddings (N, D), N >= 2, numpy array or tensor.
        y: N labels (integers or strings).
        ts: RLD temperatures, each > 0.
        ks: neighbour counts for purity, each an integer >= 1 (capped at N - 1).
        probes: run the linear, kNN and GCN probes.
        test_fraction: share of the rows the probes hold out as their test set, in (0, 1).
        cluster: optional cluster id per row: adds the cluster-preservation measures.
        source: optional id per row of the sample it was made from (used with ``cluster``).
        seed: seeds the probes' split and model choice and the 2-D view's subsample.
        log: called with one line before each step (progress), if given.

    Raises:
        InputError: a wrong shape, a non-finite feature, a label count that does not match the
            rows, or a parameter out of its range; checked before any work.
    """
    say = log if log is not None else (lambda _: None)
    features = check_features(X, "X")
    check_labels(y, features.shape[0], "y")
    labels = to_numpy(y)
    temperatures = tuple(check_positive(t, "ts") for t in np.atleast_1d(np.asarray(ts)))
    neighbour_ks = tuple(sorted(check_ks(ks)))
    fraction = _check_fraction(test_fraction, "test_fraction")
    if cluster is not None:
        check_labels(cluster, features.shape[0], "cluster")
    if cluster is not None and source is not None:
        check_labels(source, features.shape[0], "source")
    n, dim = features.shape
    n_classes = len(np.unique(labels))

    start = time.perf_counter()
    say(f"RLD at t = {', '.join(f'{t:g}' for t in temperatures)} ({n} rows)")
    profile = rld_profile(features, labels, temperatures)
    ch = calinski_harabasz(features, labels) if 2 <= n_classes < n else None
    say(f"neighbour purity for k = {', '.join(map(str, neighbour_ks))}")
    purity = neighbour_purity(features, labels, neighbour_ks)
    probe_results, note = None, ""
    if probes:
        probe_results, note = _probes(features, labels, fraction, seed, say)
    clusters = None
    if cluster is not None:
        say("cluster preservation")
        clusters = cluster_preservation(features, cluster, source)
    view, view_labels = _two_d_view(features, labels, seed)
    say("collapse measures: uniformity and effective rank")
    collapse = _collapse_measures(features, seed)
    return DiagnosticsResult(
        rows=n,
        dim=dim,
        classes=n_classes,
        rld=profile,
        purity=purity,
        view=view,
        view_labels=view_labels,
        calinski_harabasz=ch,
        probes=probe_results,
        probes_note=note,
        clusters=clusters,
        collapse=collapse,
        seconds=time.perf_counter() - start,
    )


def _probes(
    X: np.ndarray, y: np.ndarray, fraction: float, seed: int, say: Callable[[str], Any]
) -> tuple[dict[str, ProbeResult] | None, str]:
    """The three probes on one split, or ``(None, why not)`` when the data are too small."""
    if len(np.unique(y)) < 2 or y.size < PROBES_MIN_ROWS:
        note = f"probes skipped (need 2+ classes and {PROBES_MIN_ROWS}+ rows)"
        say(note)
        return None, note
    train, test = split_indices(y, fraction, seed)
    results: dict[str, ProbeResult] = {}
    for name, probe in (("linear", linear_probe), ("knn", knn_probe), ("gcn", gcn_probe)):
        say(f"{name} probe ({train.size} train / {test.size} test rows)")
        results[name] = probe(X[train], y[train], X[test], y[test], seed=seed)
    return results, ""


def _collapse_measures(X: np.ndarray, seed: int) -> dict[str, float]:
    """Uniformity on a seeded subsample of ``MAX_SCATTER_POINTS`` rows (its pairs grow as N^2)
    and the effective rank of all rows; uniformity needs rows that are not all zero."""
    rng = np.random.default_rng(seed)
    rows = (
        X[rng.choice(len(X), MAX_SCATTER_POINTS, replace=False)]
        if len(X) > MAX_SCATTER_POINTS
        else X
    )
    found = {"effective_rank": effective_rank(X)} if np.abs(X).sum() > 0 else {}
    if (np.linalg.norm(rows, axis=1) > 0).all():
        found["uniformity"] = uniformity(rows)
    return found


def _two_d_view(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components of the centred L2-normalised rows (a second axis of
    zeros for 1-D embeddings), on a seeded subsample of ``MAX_SCATTER_POINTS`` rows."""
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


def load_embeddings(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read and validate ``features``, ``labels`` and the optional ``source`` and ``cluster``.

    Raises:
        InputError: for a file that is not an .npz, a missing key, a wrong shape, a non-numeric
            or non-finite feature, or a length mismatch; FileNotFoundError for a missing file.
    """
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
