"""The main job: three kernels trained the same way on digits, measured against raw pixels.

The cosine kernel (SimCLR), the Student-t kernel (t-SimCLR's heavy tail, a BatchNorm end instead
of the sphere) and Kernel-InfoNCE's Simple Sum (a Gaussian and a Laplacian kernel in one
softmax) are trained with the same data split, backbone, augmentation, optimiser, schedule and
seed; only the kernel (and the projector's end it needs) differs. Each run's frozen backbone
features of the final epoch are evaluated on the test split (kNN with k = 20 and 200, linear
probe) beside raw pixels, and get the density diagnostics of ``rld_gcn.md``: RLD across
temperatures, the neighbour-purity curve over k, Calinski-Harabasz, and a 2-D t-SNE map
(scikit-learn's, PCA start, fixed seed). Runs whose accuracies coincide to the last digit are
checked for being different runs (their test predictions and features are compared). The
report (:mod:`contrastlab.demo_report`) reads the numbers in words. The three runs train side
by side, one process each on one thread (:mod:`contrastlab.workers`); sized for under three
minutes on two CPU cores.

Example:
    >>> from contrastlab.demo import run_demo
    >>> metrics = run_demo("demo-out", epochs=2)  # doctest: +SKIP
    >>> sorted(metrics["runs"])  # doctest: +SKIP
    ['cosine', 'simple_sum', 'student_t']
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.demo_report import ACCURACY_COLUMNS
from contrastlab.errors import check_count
from contrastlab.report import check_output_folder

__all__ = [
    "DEMO_KERNELS",
    "DEMO_SETTINGS",
    "PURITY_KS",
    "RLD_TEMPERATURES",
    "compare_runs",
    "diagnostics",
    "diagnostics_on_test_split",
    "run_demo",
]

DEMO_KERNELS: dict[str, str] = {
    "cosine": "cosine:t=0.2",  # kNN@20, seeds 0 / 1: t = 0.2 0.986 / 0.978, t = 0.1 0.981 / 0.975
    "student_t": "student_t:nu=5,s=1",
    "simple_sum": "kernel_sum",  # Gaussian(t=0.4) + Laplacian(t=0.5) in one softmax
}
DEMO_SETTINGS: dict[str, Any] = {
    "data.source": "digits",
    "train.epochs": 120,
    "optim.batch_size": 128,
    # Crops of half to all of an 8 x 8 digit (the preset's quarter leaves a 4 x 4 patch). kNN@20 of
    # the three kernels over seeds 0 and 1, mean: 0.985 with these crops, 0.982 with the preset's
    # (cosine at t = 0.2): a few test images. Every setting tried: the closing note of issue 15.
    "augment.crop_scale": [0.5, 1.0],
    # One thread: on this tiny model a second OpenMP thread mostly waits on the first, and on a
    # busy two-core machine it made the demo several times slower (measured: 8.5 min vs ~2 min).
    "train.threads": 1,
}
PURITY_KS = (1, 5, 10, 20, 50, 100)
#: A run's train features, train labels, test features, test labels.
Features = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
RLD_TEMPERATURES = (0.05, 0.1, 0.2, 0.5, 1.0)


def run_demo(
    out: str | os.PathLike[str],
    epochs: int | None = None,
    overrides: Iterable[str] = (),
    log: Callable[[str], Any] = print,
    workers: int | None = None,
) -> dict[str, Any]:
    """Train one run per kernel of :data:`DEMO_KERNELS` into ``out/<kernel>``, diagnose each
    and raw pixels, compare the runs, write ``out/metrics.json`` and ``out/report.html``.

    Settings, later ones winning: :data:`DEMO_SETTINGS`, then ``overrides`` (``key=value``
    training settings for every run), then ``epochs`` and each run's kernel.

    Args:
        out: the output folder.
        epochs: epochs per run (default ``DEMO_SETTINGS["train.epochs"]``), >= 1.
        overrides: ``key=value`` settings of :func:`contrastlab.train.config.build_config`.
        log: called with each progress line.
        workers: processes training side by side, each on one thread (default: one per
            kernel; on two quiet cores the system shares them: 136 s against 239 s one after
            another, measured); 1 trains here, one run after another, same results.

    Returns:
        ``{"runs": {kernel: train metrics + "diagnostics" + "map"}, "raw_pixels": {accuracy},
        "raw_diagnostics": {...}, "raw_map": {...}, "comparisons": [...], "reading": [str],
        "seconds": float, "data": "digits"}``.

    Raises:
        InputError: ``epochs`` or ``workers`` < 1, a bad override, or an output folder that
            is a file.
    """
    epochs = None if epochs is None else check_count("epochs", epochs)
    workers = None if workers is None else check_count("workers", workers)
    folder = check_output_folder(out)
    started = time.perf_counter()
    with single_threaded():
        result = _train_and_diagnose(
            folder, epochs, list(overrides), log, workers or len(DEMO_KERNELS)
        )
    from contrastlab.demo_report import reading, report

    result["reading"] = reading(result)
    result["seconds"] = time.perf_counter() - started
    report(folder, result).save(folder, result)
    return result


@contextmanager
def single_threaded() -> Iterator[None]:
    """Torch and the native libraries (OpenMP, BLAS: scikit-learn's t-SNE) on one thread. On
    these small arrays a second thread mostly waits, and on a busy machine spinning OpenMP
    threads made a 360-point t-SNE take 41 s instead of 1.8 s (measured here)."""
    from threadpoolctl import threadpool_limits

    from contrastlab.train.loop import torch_threads

    with torch_threads(1), threadpool_limits(1):
        yield


def _train_and_diagnose(
    folder: Path,
    epochs: int | None,
    overrides: list[str],
    log: Callable[[str], Any],
    workers: int,
) -> dict[str, Any]:
    """Every run trained and diagnosed, raw pixels beside them, the runs compared."""
    from contrastlab.workers import run_in_processes

    configs = _configs(epochs, overrides)  # a bad override fails here, before any work
    calls = [(folder / name, name, DEMO_KERNELS[name], c) for name, c in configs.items()]
    done = dict(zip(configs, run_in_processes(_train_one, calls, workers, log), strict=True))
    runs = {name: run for name, (run, _) in done.items()}
    features = {name: feats for name, (_, feats) in done.items()}
    first = next(iter(configs))  # the run that measured raw pixels
    baseline = runs[first].pop("raw_pixels")
    raw_x, raw_y = _raw_test_pixels(folder / first)
    result: dict[str, Any] = {
        "runs": runs,
        "raw_pixels": baseline,
        "raw_diagnostics": diagnostics(raw_x, raw_y),
        "raw_map": map_2d(raw_x, raw_y),
        "comparisons": compare_runs(runs, features),
        "data": "digits",
    }
    return result


def _configs(epochs: int | None, overrides: list[str]) -> dict[str, dict[str, Any]]:
    """Each kernel's training configuration: :data:`DEMO_SETTINGS`, the overrides, ``epochs``
    and the kernel; the first run also measures raw pixels (every run has the same split)."""
    from contrastlab.train.config import build_config

    configs = {}
    for index, (name, spec) in enumerate(DEMO_KERNELS.items()):
        settings = [f"{key}={value}" for key, value in DEMO_SETTINGS.items()]
        config = build_config(
            None,
            [*settings, *overrides, "train.progress=false"],
            **{"loss.kernel": spec, "train.epochs": epochs},
        )
        config["eval"]["raw_baseline"] = index == 0
        configs[name] = config
    return configs


def _train_one(
    run_dir: Path, name: str, spec: str, config: dict[str, Any], log: Callable[[str], Any]
) -> tuple[dict[str, Any], Features]:
    """One kernel's run trained into ``run_dir``, with its diagnostics and 2-D map of the test
    features; returns the run's metrics and its train and test features with labels."""
    from contrastlab.train.runs import embed, load_run
    from contrastlab.train.trainer import train

    say = _prefixed(log, name)
    log(f"[{name}] training with kernel {spec}")
    metrics = train(config, run_dir, log=say)
    run = load_run(run_dir)
    features: Features = (*embed(run, "train"), *embed(run, "test"))
    say("diagnostics: RLD across temperatures, purity over k, 2-D map")
    metrics["diagnostics"] = diagnostics(features[2], features[3])
    metrics["map"] = map_2d(features[2], features[3])
    return {**metrics, "spec": spec}, features


def _prefixed(log: Callable[[str], Any], name: str) -> Callable[[str], None]:
    """``log`` with each line marked by the run's name."""

    def say(text: str) -> None:
        log(f"[{name}] {text}")

    return say


def _raw_test_pixels(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The test split's raw pixels (0-1, flattened) and labels, the split the runs used."""
    from contrastlab.train.evaluate import raw_inputs
    from contrastlab.train.runs import load_run

    data = load_run(run_dir).data
    assert data.test_y is not None  # digits are labelled
    return raw_inputs(data.test_x), data.test_y.numpy()


def diagnostics(features: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Density diagnostics of features (``rld_gcn.md``): neighbour purity at :data:`PURITY_KS`
    (cosine neighbours, self excluded), RLD at :data:`RLD_TEMPERATURES` with the value a perfect
    separation would have, and Calinski-Harabasz; ``neighbour_purity_k10`` and ``rld_t0.1`` are
    the headline numbers."""
    from contrastlab import analysis

    purity = analysis.neighbour_purity(features, labels, ks=PURITY_KS)
    profile = analysis.rld_profile(features, labels, RLD_TEMPERATURES, compile=False)
    return {
        "neighbour_purity_k10": purity[10],
        "rld_t0.1": profile.value(0.1),
        "calinski_harabasz": analysis.calinski_harabasz(features, labels),
        "purity": {str(k): v for k, v in purity.items()},
        "rld": {str(t): v for t, v in zip(profile.ts, profile.values, strict=True)},
        "rld_upper_bound": {
            str(t): v for t, v in zip(profile.ts, profile.upper_bound, strict=True)
        },
    }


def diagnostics_on_test_split(run_dir: Path) -> dict[str, Any]:
    """:func:`diagnostics` of a run's backbone features on its test split."""
    from contrastlab.train.runs import embed, load_run

    return diagnostics(*embed(load_run(run_dir), "test"))


def map_2d(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """A 2-D t-SNE map of ``features`` (scikit-learn, perplexity ``min(30, (n - 1) / 3)``,
    PCA start, cosine distances, ``seed``) and the leave-one-out kNN (k = 10) accuracy of the
    map's points, how well the map keeps the classes apart."""
    from sklearn.manifold import TSNE
    from sklearn.neighbors import NearestNeighbors

    n = len(features)
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    start = time.perf_counter()
    points = TSNE(
        n_components=2, perplexity=perplexity, init="pca", metric="cosine", random_state=seed
    ).fit_transform(np.asarray(features, dtype=np.float64))
    seconds = time.perf_counter() - start
    k = min(10, n - 1)
    index = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)[1][:, 1:]
    codes = np.unique(labels, return_inverse=True)[1].reshape(-1)
    votes = np.array([np.bincount(codes[row]).argmax() for row in index])  # self excluded
    return {
        "points": points.astype(np.float32).tolist(),
        "labels": np.asarray(labels).tolist(),
        "knn_top1_k10": float(np.mean(votes == codes)),
        "seconds": seconds,
    }


def compare_runs(runs: dict[str, Any], features: dict[str, Features]) -> list[dict[str, Any]]:
    """For each pair of runs: the accuracies they share to the last digit, on how many test
    images their kNN (k = 20) predictions differ, and the largest difference between their test
    features' pairwise cosine similarities (genuinely different runs differ in both, even when
    their accuracies coincide)."""
    from contrastlab import analysis

    predicted, similarity = {}, {}
    for name, (train_f, train_y, test_f, _) in features.items():
        predicted[name] = analysis.knn_classify(train_f, train_y, test_f, k=20, temperature=0.1)
        unit = test_f / np.maximum(np.linalg.norm(test_f, axis=1, keepdims=True), 1e-12)
        similarity[name] = unit @ unit.T
    found = []
    for a, b in itertools.combinations(runs, 2):
        found.append(
            {
                "a": a,
                "b": b,
                "equal_accuracies": [
                    c for c in ACCURACY_COLUMNS if runs[a]["final"][c] == runs[b]["final"][c]
                ],
                "knn_predictions_differ": int(np.sum(predicted[a] != predicted[b])),
                "max_similarity_difference": float(np.max(np.abs(similarity[a] - similarity[b]))),
            }
        )
    return found
