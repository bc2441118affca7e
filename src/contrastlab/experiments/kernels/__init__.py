"""Reproduction: the kernel comparison (Kernel-InfoNCE, t-SimCLR) with one recipe for all kernels.

Claims compared: Kernel-InfoNCE (Tan, Zhang, Yang, Yuan, ICLR 2024) reports that mixtures of
kernels, its "Simple Sum" ``gaussian(t=0.4) + laplacian(t=0.5)`` inside one softmax and its
"Concatenation Sum" (laplacian on the first half of the embedding, gaussian on the second), give
a higher linear-probe accuracy than SimCLR's Gaussian / cosine kernel (CIFAR-10 ResNet-50, 400
epochs: 91.72 versus 90.60); t-SimCLR reports the same of its Student-t kernel.

CPU scale (any ``data`` but the CIFAR sets, default ``digits``; a user's harder set with
``--data npz:PATH``): every kernel of ``losses.md`` is trained by ``contrastlab.train`` with the
same recipe (data split, the backbone ``cpu_backbone``, small_cnn by default, fixed so that no
run picks another, the trainer's augmentation, AdamW, batch, epochs, seed set); only the kernel
differs,
and the projector's end that the kernel needs (Student-t and Cauchy are not L2-normalised: the
projector ends in a BatchNorm without affine parameters). Each run is evaluated on frozen
backbone features of the final epoch (kNN k = 20 and 200, linear probe); mean and sample
standard deviation over seeds. Raw pixels are evaluated once as a reference row.

The verdict is seed-paired against cosine, per mixture, Holm-corrected, with a ceiling and an
effect-size check that make it inconclusive where the setting cannot decide (``claims``).
``budget_minutes`` bounds the CPU time: rounds of seeds stop when the next would end past it.

Full scale (``data`` cifar10 / cifar100 on a GPU): each ``configs/cifar10_<name>.yaml``
(the project's ResNet-18 recipe, LARS, 400 epochs; ``configs/cifar10_*_resnet50.yaml`` hold the
official code's ResNet-50 default) with ``data.source`` set to the given set and ``loss.kernel`` set
to the compared kernel's spec (for the default specs the same kernel as the file's); kernels
without a config file (gaussian, cauchy) use the cosine config, since the configs differ only in
``loss.kernel``. On a CPU this refuses unless ``scale=full`` is set explicitly.

Documented choices (the papers' exact settings for a CPU-sized run do not exist): the kernels'
parameters are those of ``configs/`` and of the kernels' defaults (``settings.COMPARED``),
given as kernel specs (``contrastlab.specs``; a bare name such as ``student_t`` means the
kernel's library defaults, so ``student_t:s=1`` is written out); the runs are labelled by the
kernels' names, so each name appears once. The experiment's choices for the trainer are the
base of its configuration and a user's ``train_overrides`` win over every one of them;
``loss_sum`` is the official code's sum of separate losses (``losses.LossSum``, two softmaxes),
run beside the paper's mixtures but not part of the claim's rule. The monitors are
off (only the final evaluation is used). The 40-epoch, 4-seed default was sized to a ~20 minute
budget on two CPU cores before any result was seen.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contrastlab.experiments import ExperimentResult
from contrastlab.experiments.kernels.checks import check
from contrastlab.experiments.kernels.claims import comparison_claim
from contrastlab.experiments.kernels.compute import summarise, train_all
from contrastlab.experiments.kernels.report import build_report
from contrastlab.experiments.kernels.settings import (
    QUICK,
    Settings,
    as_settings,
    full_scale,
    names,
)
from contrastlab.settings import to_mapping

#: The full settings as a plain mapping, for the runner that still builds settings from one.
DEFAULTS: dict[str, Any] = to_mapping(Settings())


def run(settings: Settings | Mapping[str, Any]) -> ExperimentResult:
    """Train every kernel of ``settings.kernels`` over the seeds, summarise, decide the claim.

    ``settings`` may be a plain mapping (built into :class:`Settings` first).
    """
    settings = as_settings(settings)
    check(settings)
    full = full_scale(settings)
    if settings.runs_dir:
        trained = train_all(settings, Path(settings.runs_dir), full)
    else:
        with tempfile.TemporaryDirectory(prefix="contrastlab-kernels-") as folder:
            trained = train_all(settings, Path(folder), full)
    summary = summarise(trained["runs"])
    claim = comparison_claim(trained["runs"])
    report = build_report(settings, full, trained, summary, claim)
    metrics = {
        "scale": "full" if full else "cpu",
        "summary": summary,
        "runs": trained["runs"],
        "raw_inputs": trained["raw"],
        "rounds": trained["rounds"],
        "stopped_by_budget": trained["stopped_by_budget"],
        "seconds": trained["seconds"],
        "kernel_specs": dict(zip(names(settings), to_mapping(settings.kernels))),
    }
    return ExperimentResult(claims=[claim], report=report, metrics=metrics)


__all__ = ["DEFAULTS", "QUICK", "Settings", "check", "run"]
