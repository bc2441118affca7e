"""Reproduction: the kernel comparison (Kernel-InfoNCE, t-SimCLR) with one recipe for all kernels.

Claims compared: Kernel-InfoNCE (Tan, Zhang, Yang, Yuan, ICLR 2024) reports that mixtures of
kernels, its "Simple Sum" ``gaussian(t=0.4) + laplacian(t=0.5)`` inside one softmax and its
"Concatenation Sum" (laplacian on the first half of the embedding, gaussian on the second), give
a higher linear-probe accuracy than SimCLR's Gaussian / cosine kernel (CIFAR-10 ResNet-50, 400
epochs: 91.72 versus 90.60); t-SimCLR reports the same of its Student-t kernel.

CPU scale (any ``data`` but the CIFAR sets, default ``digits``): every kernel of ``losses.md``
is trained by ``contrastlab.train`` with the same recipe (data split, backbone chosen by the
trainer's ``auto`` rules, augmentation, AdamW, batch, epochs, seed set); only the kernel differs,
and the projector's end that the kernel needs (Student-t and Cauchy are not L2-normalised: the
projector ends in a BatchNorm without affine parameters). Each run is evaluated on frozen
backbone features of the final epoch (kNN k = 20 and 200, linear probe); mean and sample
standard deviation over seeds. Raw pixels are evaluated once as a reference row.

Full scale (``data`` cifar10 / cifar100 on a GPU): each ``configs/cifar10_<kernel>.yaml``
(ResNet-18, LARS, 400 epochs) with ``data.source`` set to the given set; kernels without a
config file (gaussian, cauchy) use the cosine config with their kernel swapped in, since the
configs differ only in ``loss.kernel``. On a CPU this refuses unless ``scale=full`` is set
explicitly.

Documented choices (the papers' exact settings for a CPU-sized run do not exist): the kernels'
parameters are those of ``configs/`` and of the kernels' defaults (table ``KERNEL_SPECS``);
``loss_sum`` is the official code's sum of separate losses (``losses.LossSum``, two softmaxes),
run beside the paper's mixtures but not part of the claim's rule. The monitors are
off (only the final evaluation is used). The 40-epoch, 4-seed default was sized to a ~20 minute
budget on two CPU cores before any result was seen.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from contrastlab.errors import InputError
from contrastlab.experiments import ExperimentResult
from contrastlab.experiments._common import figure, mean_sd, progress
from contrastlab.report import Claim, Report

KERNEL_SPECS: dict[str, str] = {
    "cosine": "cosine:t=0.2",
    "gaussian": "gaussian:t=0.4",
    "laplacian": "laplacian:t=0.5",
    "exponential": "exponential:gamma=0.5,t=0.5",
    "student_t": "student_t:nu=5,s=1",
    "cauchy": "cauchy:s=1",
    "kernel_sum": "kernel_sum",
    "concat": "concat",
    "loss_sum": "loss_sum",
}
KERNEL_NOTES: dict[str, str] = {
    "cosine": "SimCLR / NT-Xent, temperature 0.2 (solo-learn's CIFAR recipe)",
    "gaussian": "-d^2/0.4 on the sphere: the same loss as cosine(t=0.2)",
    "laplacian": "-d/0.5 (Kernel-InfoNCE)",
    "exponential": "-d^0.5/0.5 (Kernel-InfoNCE's gamma = 0.5)",
    "student_t": "t-SimCLR, nu = 5, s = 1; projector ends in BatchNorm, no L2 norm",
    "cauchy": "Student-t with nu = 1, s = 1; projector ends in BatchNorm",
    "kernel_sum": "Simple Sum: gaussian(0.4) + laplacian(0.5) inside one softmax",
    "concat": "Concatenation Sum: laplacian(0.5) on dims 1-64, gaussian(0.4) on 65-128, "
    "one softmax, one L2 norm over the whole vector",
    "loss_sum": "the official code's 'sum': 0.5 L(exponential(0.5, 0.5)) + 0.5 L(gaussian(0.4)), "
    "two separate softmaxes (losses.LossSum); reported, not in the claim's rule",
}
MIXTURES = ("kernel_sum", "concat")
FULL_SCALE_SOURCES = ("cifar10", "cifar100")
SCORES = ("knn_top1_k20", "knn_top1_k200", "linear_top1")
SHORT = {"knn_top1_k20": "knn20", "knn_top1_k200": "knn200", "linear_top1": "linear"}

DEFAULTS: dict[str, Any] = {
    "data": "digits",
    "kernels": list(KERNEL_SPECS),
    "seeds": 4,  # runs per kernel, seeds seed, seed + 1, ...
    "seed": 0,
    "epochs": 40,  # CPU scale
    "batch_size": 256,  # CPU scale
    "raw_baseline": True,  # raw inputs through the same kNN / linear probe, once
    "train_overrides": [],  # extra trainer settings "key=value" for every run
    "scale": "auto",  # auto: full for cifar10/100 on a GPU, cpu otherwise; or cpu, full
    "full_epochs": None,  # full scale: None keeps the configs' 400
    "configs": None,  # folder with cifar10_<kernel>.yaml (None: the repository's configs/)
    "runs_dir": None,  # keep the run folders here (None: a temporary folder, deleted)
}
QUICK: dict[str, Any] = {"seeds": 2, "epochs": 10}

# Decision rule, fixed before any result was seen: the better mixture must beat cosine in mean
# linear accuracy by more than GAIN_IN_STANDARD_ERRORS pooled standard errors of the difference.
GAIN_IN_STANDARD_ERRORS = 1.0

# Published top-1 linear accuracies (training.md): (source, data, model, epochs, SimCLR, mixture).
PUBLISHED: list[tuple[str, str, str, int, float, float]] = [
    ("Kernel-InfoNCE", "CIFAR-10", "ResNet-50", 400, 90.60, 91.72),
    ("Kernel-InfoNCE", "CIFAR-100", "ResNet-50", 400, 66.29, 68.62),
    ("solo-learn SimCLR", "CIFAR-10", "ResNet-18", 1000, 90.74, float("nan")),
    ("solo-learn SimCLR", "CIFAR-100", "ResNet-18", 1000, 65.78, float("nan")),
]


def check(settings: dict[str, Any]) -> None:
    """Check the settings before any training (``reproduce all`` calls this first).

    Raises:
        InputError: unknown kernel, a kernel list without the claim's kernels, seeds < 2 (the
            rule needs a spread), a bad scale, or CIFAR on a CPU without ``scale=full``.
    """
    names = settings["kernels"]
    if not isinstance(names, list) or not names:
        raise InputError(f"kernels: must be a non-empty list, got {names!r}")
    unknown = [n for n in names if n not in KERNEL_SPECS]
    if unknown:
        raise InputError(f"kernels: unknown {unknown}; choose from {', '.join(KERNEL_SPECS)}")
    if "cosine" not in names or not any(m in names for m in MIXTURES):
        raise InputError("kernels: the claim needs cosine and at least one of kernel_sum, concat")
    for key, low in (("seeds", 2), ("epochs", 1), ("batch_size", 2)):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"{key}: must be a whole number >= {low}, got {value!r}")
    if settings["scale"] not in ("auto", "cpu", "full"):
        raise InputError(f"scale: must be auto, cpu or full, got {settings['scale']!r}")
    if not isinstance(settings["train_overrides"], list):
        raise InputError("train_overrides: must be a list of 'key=value' strings")
    if full_scale(settings):
        _config_folder(settings)


def full_scale(settings: dict[str, Any]) -> bool:
    """Whether to run the GPU configs; refuses CIFAR on a CPU unless ``scale=full`` is explicit."""
    if settings["scale"] != "auto":
        return bool(settings["scale"] == "full")
    if str(settings["data"]).lower() not in FULL_SCALE_SOURCES:
        return False
    if not torch.cuda.is_available():
        raise InputError(
            f"--data {settings['data']} runs the 400-epoch ResNet-18 recipe of "
            "configs/cifar10_*.yaml, which needs a GPU and none was found "
            "(--set scale=full forces it on the CPU, --set scale=cpu runs the CPU recipe)"
        )
    return True


def _config_folder(settings: dict[str, Any]) -> Path:
    """The folder of the GPU configs: ``configs`` if set, else ./configs or the repository's."""
    candidates = (
        [Path(settings["configs"])]
        if settings["configs"]
        else [Path.cwd() / "configs", Path(__file__).resolve().parents[3] / "configs"]
    )
    for folder in candidates:
        if (folder / "cifar10_cosine.yaml").is_file():
            return folder
    raise InputError(f"configs: no cifar10_cosine.yaml in {candidates[0]} (set configs=FOLDER)")


def run_config(settings: dict[str, Any], kernel: str, seed: int, full: bool) -> dict[str, Any]:
    """The trainer configuration of one run (the GPU config file at full scale)."""
    from contrastlab.train.config import build_config

    common = ["train.progress=false", "monitor.knn=false", "monitor.online_probe=false"]
    common += [f"train.seed={seed}", *settings["train_overrides"]]
    flags: dict[str, Any] = {"data.source": str(settings["data"])}
    if full:
        folder = _config_folder(settings)
        own = folder / f"cifar10_{kernel}.yaml"
        config_file = own if own.is_file() else folder / "cifar10_cosine.yaml"
        if not own.is_file():
            flags["loss.kernel"] = KERNEL_SPECS[kernel]
        flags["train.epochs"] = settings["full_epochs"]
        return build_config(config_file, common, **flags)
    flags.update(
        {
            "loss.kernel": KERNEL_SPECS[kernel],
            "train.epochs": int(settings["epochs"]),
            "optim.batch_size": int(settings["batch_size"]),
            # One thread: on a busy two-core machine a second thread mostly waits (see demo).
            "train.threads": 1,
        }
    )
    return build_config(None, common, **flags)


def train_all(settings: dict[str, Any], runs_dir: Path, full: bool) -> dict[str, Any]:
    """Train every kernel with every seed; returns per-run results and the raw-input reference."""
    from contrastlab.train.trainer import train

    seeds = [int(settings["seed"]) + i for i in range(int(settings["seeds"]))]
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in settings["kernels"]}
    raw: dict[str, float] = {}
    first = True
    with progress(len(runs) * len(seeds), "kernels") as tick:
        for seed in seeds:  # seed-major: a partial run still covers every kernel
            for kernel in runs:
                config = run_config(settings, kernel, seed, full)
                config["eval"]["raw_baseline"] = bool(settings["raw_baseline"]) and first
                result = train(config, runs_dir / f"{kernel}_seed{seed}", log=lambda _: None)
                raw = result.get("raw_pixels", result.get("raw_features", raw))
                first = False
                runs[kernel].append(
                    {
                        "seed": seed,
                        **{s: float(result["final"][s]) for s in SCORES},
                        "train_seconds": float(sum(r["step_seconds"] for r in result["history"])),
                        "seconds": float(result["seconds"]),
                        "images_per_second": float(result["images_per_second"]),
                        "epochs": int(result["epochs"]),
                        "train_size": int(result["train_size"]),
                        "test_size": int(result["test_size"]),
                        "kernel_repr": str(result["kernel"]),
                    }
                )
                tick()
    return {"runs": runs, "raw": {k: float(v) for k, v in raw.items()}}


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Per kernel: mean and sample standard deviation over seeds of each score and the time."""
    summary: dict[str, dict[str, float]] = {}
    for kernel, rows in runs.items():
        entry: dict[str, float] = {"n": float(len(rows))}
        for key in (*SCORES, "train_seconds", "images_per_second"):
            entry[f"{key}_mean"], entry[f"{key}_sd"] = mean_sd([r[key] for r in rows])
        summary[kernel] = entry
    return summary


# --- claim rule: the verdict a pure function of the summary (``summarise``) ---------------------


def comparison_claim(summary: dict[str, dict[str, float]]) -> Claim:
    """``kernel_comparison``: gain = linear_mean(best mixture) - linear_mean(cosine);
    pooled SE = sqrt(sd_mix^2 / n_mix + sd_cos^2 / n_cos); supported iff gain > c * SE."""
    evidence: dict[str, float] = {}
    for kernel, entry in summary.items():
        for score in SCORES:
            evidence[f"{SHORT[score]}_mean.{kernel}"] = entry[f"{score}_mean"]
            evidence[f"{SHORT[score]}_sd.{kernel}"] = entry[f"{score}_sd"]
        evidence[f"train_seconds_mean.{kernel}"] = entry["train_seconds_mean"]
    present = [m for m in MIXTURES if m in summary]
    best = max(present, key=lambda m: summary[m]["linear_top1_mean"])
    gain, se = _gain(summary, best, "cosine")
    evidence.update({"best_mixture_gain": gain, "pooled_standard_error": se})
    evidence["best_mixture_is_concat"] = float(best == "concat")
    evidence["seeds"] = summary["cosine"]["n"]
    if "student_t" in summary:
        t_gain, t_se = _gain(summary, "student_t", "cosine")
        evidence.update({"student_t_gain": t_gain, "student_t_pooled_standard_error": t_se})
    return Claim(
        id="kernel_comparison",
        statement="Mixtures of kernels (Kernel-InfoNCE's Simple Sum or Concatenation Sum) give "
        "a higher linear-probe accuracy than SimCLR's cosine (Gaussian) kernel with the same "
        "recipe (t-SimCLR claims the same of the Student-t kernel; reported, not in the rule).",
        supported=bool(gain > GAIN_IN_STANDARD_ERRORS * se),
        evidence=evidence,
        rule=f"max over kernel_sum, concat of mean linear top-1 minus cosine's > "
        f"{GAIN_IN_STANDARD_ERRORS:g} x pooled standard error sqrt(sd_a^2/n_a + sd_b^2/n_b)",
    )


def _gain(summary: dict[str, dict[str, float]], a: str, b: str) -> tuple[float, float]:
    ea, eb = summary[a], summary[b]
    gain = ea["linear_top1_mean"] - eb["linear_top1_mean"]
    se = float(
        np.hypot(ea["linear_top1_sd"] / np.sqrt(ea["n"]), eb["linear_top1_sd"] / np.sqrt(eb["n"]))
    )
    return float(gain), se


def run(settings: dict[str, Any]) -> ExperimentResult:
    """Train every kernel of ``settings["kernels"]`` over the seeds, summarise, decide the claim."""
    check(settings)
    full = full_scale(settings)
    if settings["runs_dir"]:
        trained = train_all(settings, Path(settings["runs_dir"]), full)
    else:
        with tempfile.TemporaryDirectory(prefix="contrastlab-kernels-") as folder:
            trained = train_all(settings, Path(folder), full)
    summary = summarise(trained["runs"])
    claim = comparison_claim(summary)
    report = build_report(settings, full, trained, summary, claim)
    metrics = {
        "scale": "full" if full else "cpu",
        "summary": summary,
        "runs": trained["runs"],
        "raw_inputs": trained["raw"],
        "kernel_specs": {k: KERNEL_SPECS[k] for k in settings["kernels"]},
    }
    return ExperimentResult(claims=[claim], report=report, metrics=metrics)


def build_report(
    settings: dict[str, Any],
    full: bool,
    trained: dict[str, Any],
    summary: dict[str, dict[str, float]],
    claim: Claim,
) -> Report:
    """The report: what was run, the table of means and spreads, figures, published numbers."""
    runs, raw = trained["runs"], trained["raw"]
    first = next(iter(runs.values()))[0]
    report = Report("Kernel comparison: one recipe, every kernel, several seeds")
    scale = (
        f"full scale: configs/cifar10_<kernel>.yaml on {settings['data']}"
        if full
        else f"CPU scale on {settings['data']}, {settings['epochs']} epochs, batch "
        f"{settings['batch_size']}, AdamW with the trainer's automatic learning rate, "
        "backbone and augmentation (small CNN and the small_gray preset for 8 x 8 digits)"
    )
    report.text(
        f"Each kernel below was trained with the same recipe ({scale}); only the kernel "
        "differs, with the projector end it needs (Student-t and Cauchy end in a BatchNorm "
        "instead of the unit sphere). Data: "
        f"{first['train_size']} training and {first['test_size']} test samples (fixed split); "
        f"{int(settings['seeds'])} seeds per kernel ({settings['seed']} onwards: initialisation, "
        "augmentation and batch order). Scores are test top-1 accuracies on frozen backbone "
        "features of the final epoch: kNN (k = 20 and 200, cosine similarity-weighted votes) and "
        "a logistic-regression linear probe. Table entries are mean ± sample standard deviation "
        "over seeds; time is the seconds of training steps per run (one thread)."
    )
    report.table(
        ["kernel", "spec", "what it is"],
        [[k, KERNEL_SPECS[k], KERNEL_NOTES[k]] for k in runs],
        title="Kernels (parameters of configs/ and of the kernels' documented defaults)",
    )

    def pm(entry: dict[str, float], key: str, scale_by: float = 100.0) -> str:
        return f"{scale_by * entry[key + '_mean']:.2f} ± {scale_by * entry[key + '_sd']:.2f}"

    rows = [
        [k, *(pm(e, s) for s in SCORES), pm(e, "train_seconds", 1.0), e["images_per_second_mean"]]
        for k, e in summary.items()
    ]
    if raw:
        rows.append(["raw inputs", *(f"{100 * raw[s]:.2f}" for s in SCORES), "", float("nan")])
    report.table(
        ["kernel", "kNN k=20 (%)", "kNN k=200 (%)", "linear (%)", "train s", "images/s"],
        rows,
        title="Test accuracy, mean ± sd over seeds",
    )
    report.figure(_accuracy_figure(runs), "Per-seed test accuracy (dots) and mean (bar) per kernel")
    ev = claim.evidence
    best = "concat" if ev["best_mixture_is_concat"] else "kernel_sum"
    verdict = "supports" if claim.supported else "does NOT support"
    report.text(
        f"Rule: {claim.rule}. The better mixture is {best}; its mean linear accuracy minus "
        f"cosine's is {100 * ev['best_mixture_gain']:+.2f} points with a pooled standard error "
        f"of {100 * ev['pooled_standard_error']:.2f} points, so this run {verdict} the claim "
        "that a kernel mixture beats the cosine kernel."
    )
    if "student_t_gain" in ev:
        t_ok = (
            ev["student_t_gain"] > GAIN_IN_STANDARD_ERRORS * ev["student_t_pooled_standard_error"]
        )
        report.text(
            f"t-SimCLR's Student-t kernel versus cosine, same test (not part of the verdict): "
            f"{100 * ev['student_t_gain']:+.2f} points, pooled standard error "
            f"{100 * ev['student_t_pooled_standard_error']:.2f}: "
            f"{'better' if t_ok else 'not better'} by the same rule."
        )
    if "gaussian" in summary:
        noise = summary["gaussian"]["linear_top1_mean"] - summary["cosine"]["linear_top1_mean"]
        report.text(
            "gaussian(t=0.4) and cosine(t=0.2) are the same loss on the sphere; their runs differ "
            "only through floating-point rounding, which training amplifies. Their gap in mean "
            f"linear accuracy, {100 * noise:+.2f} points, is a yardstick for run-to-run noise. "
            "Training times are wall-clock on a possibly shared machine and are noisy."
        )
    _published(report, summary, full, settings)
    per_seed = [
        [k, r["seed"], *(r[s] for s in SCORES), r["train_seconds"]] for k in runs for r in runs[k]
    ]
    report.table(["kernel", "seed", *SCORES, "train s"], per_seed, title="Every run")
    return report


def _published(
    report: Report, summary: dict[str, dict[str, float]], full: bool, settings: dict[str, Any]
) -> None:
    report.heading("Beside the published numbers")
    ours = summary["cosine"]["linear_top1_mean"] * 100
    mix = max(summary[m]["linear_top1_mean"] for m in MIXTURES if m in summary) * 100
    rows = [[*p[:4], p[4], p[5], round(p[5] - p[4], 2)] for p in PUBLISHED]
    rows.append(
        [
            "this run",
            str(settings["data"]),
            "configs' ResNet-18" if full else "trainer's auto backbone",
            int(settings["full_epochs"] or 400) if full else int(settings["epochs"]),
            round(ours, 2),
            round(mix, 2),
            round(mix - ours, 2),
        ]
    )
    report.table(
        ["source", "data", "model", "epochs", "SimCLR / cosine", "best mixture", "difference"],
        rows,
        title="Top-1 linear accuracy (%)",
    )
    report.text(
        "The published numbers are for CIFAR at full scale (ResNet-18/50, hundreds of epochs, "
        "LARS, large batches, colour augmentation); they are set here for orientation only. "
        + ("" if full else _cpu_caveat(str(settings["data"])))
    )


def _cpu_caveat(data: str) -> str:
    what = (
        "8 x 8 greyscale digits (1,797 images, a small CNN, tens of epochs, AdamW) is not "
        "CIFAR: accuracies are near the ceiling, so kernel differences of a point or less are "
        "within seed noise,"
        if data == "digits"
        else f"{data} (a small model, tens of epochs, AdamW) is not the papers' recipe,"
    )
    return (
        f"A CPU-scale run on {what} and a verdict here says nothing about CIFAR at full "
        "scale. Run with --data cifar10 on a GPU for the papers' setting."
    )


def _accuracy_figure(runs: dict[str, list[dict[str, Any]]]) -> Any:
    fig, axes = figure(width=4.8, ncols=2)
    names = list(runs)
    for ax, score in zip(axes[0], ("linear_top1", "knn_top1_k20")):
        values = [[r[score] for r in runs[k]] for k in names]
        ax.bar(range(len(names)), [np.mean(v) for v in values], color="#9cc3e6")
        for i, v in enumerate(values):
            ax.plot([i] * len(v), v, "o", color="#1f4e79", markersize=3)
        low = min(min(v) for v in values)
        ax.set_ylim(max(0.0, low - 0.05), 1.0)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_title({"linear_top1": "linear probe", "knn_top1_k20": "kNN, k = 20"}[score])
        ax.set_ylabel("test top-1")
    return fig
