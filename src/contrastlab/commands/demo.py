"""The main job: train on digits with the cosine and the Student-t kernel, compare, write a report.

Both runs use the same data split, backbone, augmentation, optimiser and seed; only the kernel
differs (and the projector's end, as each kernel needs). Each is evaluated on frozen backbone
features of the final epoch (kNN with k = 20 and 200, linear probe) beside the same evaluations
on raw pixels. Sized to finish in about a minute and a half on two CPU cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from contrastlab.errors import InputError

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--epochs", type=int, help=f"epochs per run (default {DEMO_SETTINGS['train.epochs']})"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a training setting for both runs (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run_demo(
    out: Path, epochs: int | None = None, overrides: list[str] | None = None, log: Any = print
) -> dict[str, Any]:
    """Train one run per kernel of :data:`DEMO_KERNELS` into ``out/<kernel>``; returns metrics."""
    from contrastlab.train.config import build_config
    from contrastlab.train.trainer import train

    started = time.perf_counter()
    runs: dict[str, Any] = {}
    baseline: dict[str, float] = {}
    for index, (name, spec) in enumerate(DEMO_KERNELS.items()):
        # The demo's settings first, then the user's --set, then --epochs and the kernel.
        settings = [f"{key}={value}" for key, value in DEMO_SETTINGS.items()]
        config = build_config(
            None,
            [*settings, *(overrides or []), "train.progress=false"],
            **{"loss.kernel": spec, "train.epochs": epochs},
        )
        config["eval"]["raw_baseline"] = index == 0  # the same split for every run: compute once
        log(f"[{name}] training with kernel {spec}")
        metrics = train(config, out / name, log=lambda text, n=name: log(f"[{n}] {text}"))
        baseline = metrics.pop("raw_pixels", baseline)
        metrics["diagnostics"] = diagnostics_on_test_split(out / name)
        runs[name] = metrics
    return {
        "runs": runs,
        "raw_pixels": baseline,
        "seconds": time.perf_counter() - started,
        "data": "digits",
    }


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


def run(args: argparse.Namespace) -> int:
    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {args.epochs}")
    out = Path(args.out)
    log = (
        (lambda _: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    )
    metrics = run_demo(out, args.epochs, args.overrides, log)
    write_demo_report(out, metrics)
    for name, result in metrics["runs"].items():
        final = result["final"]
        print(
            f"{name:>10}: kNN k=20 {final['knn_top1_k20']:.4f}  "
            f"k=200 {final['knn_top1_k200']:.4f}  "
            f"linear {final['linear_top1']:.4f}"
        )
    raw = metrics["raw_pixels"]
    print(
        f"{'raw pixels':>10}: kNN k=20 {raw['knn_top1_k20']:.4f}  "
        f"k=200 {raw['knn_top1_k200']:.4f}  "
        f"linear {raw['linear_top1']:.4f}"
    )
    print(f"report: {out / 'report.html'} ({metrics['seconds']:.0f} s)")
    return 0


def write_demo_report(out: Path, metrics: dict[str, Any]) -> None:
    """``report.html`` and ``metrics.json`` of the demo."""
    from contrastlab.report import Report
    from contrastlab.train.curves import training_curves

    columns = ("knn_top1_k20", "knn_top1_k200", "linear_top1")
    runs = metrics["runs"]
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
            *(result["final"][c] for c in columns),
            result["images_per_second"],
            result["seconds"],
        ]
        for name, result in runs.items()
    ]
    rows.append(
        ["raw pixels", *(metrics["raw_pixels"][c] for c in columns), float("nan"), float("nan")]
    )
    report.table(["features", *columns, "images/s", "seconds"], rows, title="Test accuracy")
    best = max(runs, key=lambda n: runs[n]["final"]["knn_top1_k20"])
    beats = runs[best]["final"]["knn_top1_k20"] > metrics["raw_pixels"]["knn_top1_k20"]
    report.text(
        f"Best kNN (k = 20): {best}, {runs[best]['final']['knn_top1_k20']:.4f}, versus "
        f"{metrics['raw_pixels']['knn_top1_k20']:.4f} on raw pixels: "
        f"{'better than' if beats else 'NOT better than'} raw pixels."
    )
    names = list(next(iter(runs.values()))["diagnostics"])
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
    report.save(out, metrics)
