"""One training run as the command line asks for it: configuration, training, ``report.html``.

:func:`train_run` is what ``contrastlab train`` calls: it builds the configuration with the
command line's precedence (:func:`contrastlab.train.config.build_config` with ``strict=True``: a
``--set`` of a flag's own key that disagrees with the flag is an error naming both), checks the
loss specification before any data are loaded, trains, and writes ``report.html`` and
``metrics.json`` beside the run's other files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from contrastlab.errors import InputError

_COLUMNS = ("knn_top1_k20", "knn_top1_k200", "linear_top1")


def train_run(
    out: str | Path,
    *,
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    data: str | None = None,
    kernel: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train into the run folder ``out`` and write its report; returns the final metrics.

    Args:
        out: the run folder.
        config_file: a YAML file or the name of a shipped recipe (``cifar10_cosine``).
        overrides: ``key=value`` settings (``--set``).
        data, kernel, epochs, batch_size: the dedicated flags (``None``: not given).
        resume: continue the run in ``out`` (see :func:`contrastlab.train.trainer.train`).
        log: where progress lines go; ``None`` for a quiet run (no progress bar either).

    Raises:
        InputError: a bad flag or setting, a ``--set`` contradicting a flag, bad data.
    """
    from contrastlab.train.components import build_loss
    from contrastlab.train.config import build_config
    from contrastlab.train.lock import run_lock
    from contrastlab.train.resume import given_keys
    from contrastlab.train.trainer import train

    for flag, value in (("--epochs", epochs), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise InputError(f"{flag} must be >= 1, got {value}")
    flags: dict[str, Any] = {
        "data.source": data,
        "loss.kernel": kernel,
        "train.epochs": epochs,
        "optim.batch_size": batch_size,
    }
    config = build_config(config_file, overrides, strict=True, **flags)
    build_loss(config["loss"]["kernel"], config["model"]["projector_dim"])  # fail before data
    if log is None:
        config["train"]["progress"] = False
    with run_lock(out, log or (lambda _: None)):  # training and the report, as one holder
        keys = given_keys(config_file, overrides, flags) if resume else None
        metrics = train(config, out, resume=resume, given_keys=keys, log=log or (lambda _: None))
        if "history" in metrics:  # rank 0
            write_run_report(Path(out), metrics)
    return metrics


def summary_line(out: str | Path, metrics: dict[str, Any]) -> str:
    """One line for the terminal: the final accuracies, time and throughput."""
    final = ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items())
    return (
        f"{out}: {final or metrics.get('note', '')} ({metrics['seconds']:.0f} s, "
        f"{metrics['images_per_second']:.0f} img/s)"
    )


def write_run_report(out: Path, metrics: dict[str, Any]) -> None:
    """``report.html`` and ``metrics.json`` of one training run."""
    from contrastlab.report import Report
    from contrastlab.train.config import CONFIG_FILE_NAME
    from contrastlab.train.curves import training_curves

    report = Report(f"Training run: {metrics['kernel']} on {metrics['data']}")
    report.text(
        f"{metrics['epochs']} epochs on {metrics['train_size']} training images, "
        f"{metrics['seconds']:.0f} s, {metrics['images_per_second']:.0f} images per second "
        f"({metrics['augment_share'] * 100:.0f}% of step time in augmentation). The numbers are "
        "those of the final epoch, on frozen backbone features."
    )
    rows = [["this run", *(_cell(metrics["final"], k) for k in _COLUMNS)]]
    for key in ("raw_pixels", "raw_features"):
        if key in metrics:
            rows.append([key.replace("_", " "), *(_cell(metrics[key], k) for k in _COLUMNS)])
    if metrics["final"]:
        report.table(["features", *_COLUMNS], rows, title="Test accuracy")
    report.figure(training_curves({metrics["kernel"]: metrics["history"]}), "Training curves")
    if "collapse" in metrics:
        _collapse_section(report, metrics["collapse"], metrics["history"])
    report.heading("Configuration")
    report.code((out / CONFIG_FILE_NAME).read_text())
    report.save(out, metrics)


def _cell(values: dict[str, float], key: str) -> float:
    return float(values.get(key, float("nan")))


def _collapse_section(report: Any, collapse: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """The collapse monitor: a warning when the final epoch collapsed, the rule, the measures."""
    from contrastlab.train.collapse import MONITOR_SAMPLES

    report.heading("Collapse monitor")
    if collapse["collapsed"]:
        report.text(
            f"WARNING: the representation has collapsed ({collapse['reason']}). The embeddings "
            "carry (almost) no information; lower optim.lr or change the kernel's temperature."
        )
    elif collapse["collapsed_epochs"]:
        epochs = ", ".join(map(str, collapse["collapsed_epochs"]))
        report.text(f"The representation was collapsed at epoch(s) {epochs}, not at the end.")
    level = collapse.get("uniform_loss")
    report.text(
        f"Rule: {collapse['rule']}. Alignment and uniformity (t = 2) of Wang and Isola on the "
        f"L2-normalised embeddings of two views of up to {MONITOR_SAMPLES} training samples; "
        "effective rank as in RankMe"
        + (f"; log(2B - 1) = {level:.4f} here." if level is not None else ".")
    )
    keys = ("loss", "alignment", "uniformity", "effective_rank", "collapsed")
    rows = [[r["epoch"], *(r.get(k, float("nan")) for k in keys)] for r in history]
    report.table(["epoch", *keys], rows, title="Collapse measures per epoch")
