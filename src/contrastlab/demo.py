"""The main job: train on digits with the cosine and the Student-t kernel, compare, write a report.

Both runs use the same data split, backbone, augmentation, optimiser and seed; only the kernel
differs (and the projector's end, as each kernel needs). Each is evaluated on frozen backbone
features of the final epoch (kNN with k = 20 and 200, linear probe) beside the same evaluations
on raw pixels, and its test features get the cluster diagnostics of ``rld_gcn.md`` (neighbour
purity, RLD, Calinski-Harabasz). Sized to finish in about a minute and a half on two CPU cores.

Example:
    >>> from contrastlab.demo import run_demo
    >>> metrics = run_demo("demo-out", epochs=2)  # doctest: +SKIP
    >>> sorted(metrics["runs"])  # doctest: +SKIP
    ['cosine', 'student_t']
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from contrastlab.errors import InputError
from contrastlab.report import Report, check_output_folder

__all__ = ["DEMO_KERNELS", "DEMO_SETTINGS", "diagnostics_on_test_split", "run_demo"]

DEMO_KERNELS: dict[str, str] = {
    "cosine": "cosine:t=0.2",
    "student_t": "student_t:nu=5,s=1",
}
DEMO_SETTINGS: dict[str, Any] = {
    "data.source": "digits",
    "train.epochs": 40,
    "optim.batch_size": 256,
    # One thread: on this tiny model a second OpenMP thread mostly waits on the first, and on a
    # busy two-core machine it made the demo several times slower (measured: 8.5 min vs ~2 min).
    "train.threads": 1,
}
ACCURACY_COLUMNS = ("knn_top1_k20", "knn_top1_k200", "linear_top1")


def run_demo(
    out: str | os.PathLike[str],
    epochs: int | None = None,
    overrides: Iterable[str] = (),
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Train one run per kernel of :data:`DEMO_KERNELS` into ``out/<kernel>``, diagnose each,
    write ``out/metrics.json`` and ``out/report.html``; returns the metrics.

    Settings, later ones winning: :data:`DEMO_SETTINGS`, then ``overrides`` (``key=value``
    training settings for both runs), then ``epochs`` and each run's kernel.

    Args:
        out: the output folder.
        epochs: epochs per run (default ``DEMO_SETTINGS["train.epochs"]``), >= 1.
        overrides: ``key=value`` settings of :func:`contrastlab.train.config.build_config`.
        log: called with each progress line.

    Returns:
        ``{"runs": {kernel: train metrics + "diagnostics"}, "raw_pixels": {accuracy: float},
        "seconds": float, "data": "digits"}``.

    Raises:
        InputError: ``epochs`` < 1, a bad override, or an output folder that is a file.
    """
    from contrastlab.train.config import build_config
    from contrastlab.train.trainer import train

    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1
    ):
        raise InputError(f"epochs must be an integer >= 1, got {epochs!r}")
    folder = check_output_folder(out)
    started = time.perf_counter()
    runs: dict[str, Any] = {}
    baseline: dict[str, float] = {}
    for index, (name, spec) in enumerate(DEMO_KERNELS.items()):
        settings = [f"{key}={value}" for key, value in DEMO_SETTINGS.items()]
        config = build_config(
            None,
            [*settings, *overrides, "train.progress=false"],
            **{"loss.kernel": spec, "train.epochs": epochs},
        )
        config["eval"]["raw_baseline"] = index == 0  # the same split for every run: compute once
        log(f"[{name}] training with kernel {spec}")
        metrics = train(config, folder / name, log=_prefixed(log, name))
        baseline = metrics.pop("raw_pixels", baseline)
        metrics["diagnostics"] = diagnostics_on_test_split(folder / name)
        runs[name] = metrics
    result = {
        "runs": runs,
        "raw_pixels": baseline,
        "seconds": time.perf_counter() - started,
        "data": "digits",
    }
    _report(folder, result).save(folder, result)
    return result


def _prefixed(log: Callable[[str], Any], name: str) -> Callable[[str], None]:
    """``log`` with each line marked by the run's name."""

    def say(text: str) -> None:
        log(f"[{name}] {text}")

    return say


def diagnostics_on_test_split(run_dir: Path) -> dict[str, float]:
    """Cluster diagnostics of a run's backbone features on the test split (``rld_gcn.md``):
    neighbour purity (k = 10), RLD (t = 0.1, local density) and Calinski-Harabasz (global)."""
    from contrastlab import analysis
    from contrastlab.train.runs import embed, load_run

    features, labels = embed(load_run(run_dir), "test")
    return {
        "neighbour_purity_k10": analysis.neighbour_purity(features, labels, ks=(10,))[10],
        "rld_t0.1": analysis.rld(features, labels, t=0.1, compile=False),
        "calinski_harabasz": analysis.calinski_harabasz(features, labels),
    }


def _report(out: Path, metrics: dict[str, Any]) -> Report:
    """The demo's report: accuracies, diagnostics, training curves."""
    from contrastlab.train.curves import training_curves

    runs, raw = metrics["runs"], metrics["raw_pixels"]
    report = Report("contrastlab demo: two kernels on handwritten digits")
    first = next(iter(runs.values()))
    report.text(
        f"SimCLR-style training on scikit-learn's 8 x 8 digits ({first['train_size']} training, "
        f"{first['test_size']} test images, stratified split), "
        f"{first['epochs']} epochs per kernel, "
        "same seed, backbone, augmentation and optimiser; only the kernel differs. Student-t "
        "(t-SimCLR's heavy-tailed kernel) ends the projector in a BatchNorm instead of the sphere. "
        "Accuracies are those of the final epoch on frozen backbone features: kNN (cosine, "
        "similarity-weighted votes) and a logistic-regression probe; raw pixels are evaluated the "
        "same way."
    )
    rows = [
        [
            f"{name} ({DEMO_KERNELS.get(name, result['kernel'])})",
            *(result["final"][c] for c in ACCURACY_COLUMNS),
            result["images_per_second"],
            result["seconds"],
        ]
        for name, result in runs.items()
    ]
    rows.append(["raw pixels", *(raw[c] for c in ACCURACY_COLUMNS), float("nan"), float("nan")])
    report.table(
        ["features", *ACCURACY_COLUMNS, "images/s", "seconds"], rows, title="Test accuracy"
    )
    best = max(runs, key=lambda n: runs[n]["final"]["knn_top1_k20"])
    beats = runs[best]["final"]["knn_top1_k20"] > raw["knn_top1_k20"]
    report.text(
        f"Best kNN (k = 20): {best}, {runs[best]['final']['knn_top1_k20']:.4f}, versus "
        f"{raw['knn_top1_k20']:.4f} on raw pixels: "
        f"{'better than' if beats else 'NOT better than'} raw pixels."
    )
    names = list(first["diagnostics"])
    report.table(
        ["kernel", *names],
        [[name, *(result["diagnostics"][k] for k in names)] for name, result in runs.items()],
        title="Cluster diagnostics of the test features (higher: denser classes)",
    )
    report.figure(
        training_curves({n: r["history"] for n, r in runs.items()}),
        "Training loss and monitors (kNN k = 20, online linear probe) per epoch",
    )
    report.text(
        f"Total time {metrics['seconds']:.0f} s. Run folders (config.yaml, checkpoint.pt, "
        f"metrics.jsonl): {', '.join(str(out / n) for n in runs)}."
    )
    return report
