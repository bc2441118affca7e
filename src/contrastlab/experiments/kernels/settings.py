"""Settings of ``reproduce kernels``: the compared kernels as specs, the recipe, the checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from contrastlab.errors import InputError
from contrastlab.experiments._kernel_settings import spec_list_normaliser
from contrastlab.settings import from_mapping, setting
from contrastlab.specs import loss_spec

#: The compared kernels of the full run, as canonical specs: the parameters of ``configs/`` and
#: the kernels' documented defaults (Student-t with s = 1 as in ``configs/cifar10_student_t.yaml``).
COMPARED: list[dict[str, Any]] = [
    loss_spec(shorthand)
    for shorthand in (
        "cosine:t=0.2",
        "gaussian:t=0.4",
        "laplacian:t=0.5",
        "exponential:gamma=0.5,t=0.5",
        "student_t:nu=5,s=1",
        "cauchy:s=1",
        "kernel_sum",
        "concat",
        "loss_sum",
    )
]
MIXTURES = ("kernel_sum", "concat")
FULL_SCALE_SOURCES = ("cifar10", "cifar100")
SCALES = ("auto", "cpu", "full")


@dataclass(frozen=True)
class Settings:
    """What ``reproduce kernels`` runs (defaults: the full CPU-scale run)."""

    data: str = setting("digits")
    kernels: tuple[dict[str, Any], ...] = setting(
        COMPARED,
        normalise=spec_list_normaliser("kernels", loss=True),
        doc="kernel (or loss_sum) specs, one run per kernel and seed; names must differ",
    )
    seeds: int = setting(4, low=1, doc="runs per kernel, seeds seed, seed + 1, ...")
    seed: int = setting(0, low=0)
    epochs: int = setting(40, low=1, doc="CPU scale")
    batch_size: int = setting(256, low=2, doc="CPU scale")
    cpu_backbone: str = setting(
        "small_cnn",
        choices=("auto", "small_cnn", "mlp", "linear", "resnet18", "resnet34", "resnet50"),
        doc="CPU scale: the backbone of every run, fixed so that all kernels share it (the "
        "trainer's auto choice for 8 x 8 digits; mlp for vector data, auto for the trainer's)",
    )
    budget_minutes: float | None = setting(
        None,
        above=0,
        doc="stop before a round of seeds that would end past this many minutes (None: no "
        "limit); the first round always runs, the claim uses the rounds completed",
    )
    raw_baseline: bool = setting(True, doc="raw inputs through the same kNN / linear probe, once")
    train_overrides: tuple[str, ...] = setting(
        [], doc="trainer settings 'key=value' for every run; they win over the experiment's"
    )
    scale: str = setting("auto", doc="auto: full for cifar10/100 on a GPU, cpu otherwise")
    full_model: str = setting(
        "resnet18",
        choices=("resnet18", "resnet50"),
        doc="full scale: the project's ResNet-18 configs or the official code's ResNet-50 "
        "default (configs/cifar10_<kernel>_resnet50.yaml, the cosine one for other kernels)",
    )
    full_epochs: int | None = setting(None, low=1, doc="full scale: None keeps the configs' 400")
    configs: str | None = setting(None, doc="folder with cifar10_<kernel>.yaml")
    runs_dir: str | None = setting(None, doc="keep the run folders here (None: deleted)")


QUICK: Mapping[str, Any] = {"seeds": 2, "epochs": 10}


def as_settings(settings: Settings | Mapping[str, Any]) -> Settings:
    """``settings`` itself, or the :class:`Settings` of a plain mapping (the runner's old form)."""
    return settings if isinstance(settings, Settings) else from_mapping(Settings, settings)


def names(settings: Settings) -> list[str]:
    """The names of the compared kernels, in order (they label the runs)."""
    return [str(spec["name"]) for spec in settings.kernels]


def full_scale(settings: Settings) -> bool:
    """Whether to run the GPU configs; refuses CIFAR on a CPU unless ``scale=full`` is explicit."""
    if settings.scale != "auto":
        return settings.scale == "full"
    if settings.data.lower() not in FULL_SCALE_SOURCES:
        return False
    if not torch.cuda.is_available():
        raise InputError(
            f"--data {settings.data} runs the 400-epoch ResNet-18 recipe of "
            "configs/cifar10_*.yaml, which needs a GPU and none was found "
            "(--set scale=full forces it on the CPU, --set scale=cpu runs the CPU recipe)"
        )
    return True


def _config_folder(settings: Settings) -> Path:
    """The folder of the GPU configs: ``configs`` if set, else the recipes shipped with the
    package (:func:`contrastlab.train.config.find_config`)."""
    from contrastlab.train.config import find_config

    if not settings.configs:
        return find_config("cifar10_cosine").parent
    folder = Path(settings.configs)
    if not (folder / "cifar10_cosine.yaml").is_file():
        raise InputError(f"configs: no cifar10_cosine.yaml in {folder} (set configs=FOLDER)")
    return folder
