"""The trainer's settings as frozen dataclasses: one class per section, each field with its range.

:class:`TrainConfig` is what a user may write (YAML, ``--set``, an experiment's mapping): values
``"auto"`` (:data:`~contrastlab.settings.AUTO`) are allowed where the data or the device decide
(the rules are in :mod:`contrastlab.train.config`). :class:`RunConfig` is the resolved form the
trainer runs on, the same sections and keys with every ``auto`` filled, so each field has one
plain type. Both are built with :func:`contrastlab.settings.from_mapping`, which rejects unknown
keys and values of the wrong type or out of range, naming the dotted key; ``to_mapping`` gives
the plain YAML form written to ``config.yaml``.

``loss.kernel`` is a loss specification (:func:`contrastlab.specs.loss_spec`): a string
shorthand such as ``"laplacian:t=0.3"`` is normalised on load to its canonical mapping
``{"name": "laplacian", "t": 0.3}``, so ``--set loss.kernel.t=0.3`` reaches the temperature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from contrastlab.errors import InputError
from contrastlab.settings import AUTO, Auto, from_mapping, setting
from contrastlab.specs import loss_spec

Optimiser = Literal["sgd", "lars", "adamw"]
AUGMENT_PRESETS = ("vector", "none", "small_gray", "cifar", "imagenet")


def loss_kernel(value: Any, embed_dim: int | None = None) -> dict[str, Any]:
    """``value`` as a canonical loss specification, or :class:`InputError` naming
    ``loss.kernel`` (a ``concat`` without widths splits ``embed_dim``)."""
    try:
        return loss_spec(value, embed_dim)
    except (ValueError, TypeError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"loss.kernel {value!r}: {err}") from err


def _at_least(name: str, low: int, whole: bool) -> Callable[[Any], Any]:
    """A normaliser keeping the trainer's messages for its main numbers: ``optim.lr must be a
    number >= 0, got -1``, ``train.epochs must be a whole number >= 1, got 0`` (type and range in
    one line); ``auto`` and values of other types pass on to the type check."""
    kind = "a whole number" if whole else "a number"

    def check(value: Any) -> Any:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        fractional = number and whole and not float(value).is_integer()
        if number and (value < low or fractional):
            raise InputError(f"{name} must be {kind} >= {low}, got {value!r}")
        return value

    return check


@dataclass(frozen=True)
class DataSection:
    """Where the data come from (:func:`contrastlab.data.sources.load_source`)."""

    source: str = setting("digits")
    root: str | None = setting(None)
    download: bool = setting(True)
    test_fraction: float = setting(0.2, above=0, below=1)
    split_seed: int = setting(0, low=0)
    image_size: int | None = setting(None, low=1)


@dataclass(frozen=True)
class AugmentSection:
    """Augmentation preset and per-setting overrides (``None``: the preset's value)."""

    preset: Auto | str = setting(AUTO, choices=(AUTO, *AUGMENT_PRESETS))
    crop_scale: tuple[float, ...] | None = setting(None, above=0, high=1)
    crop_ratio: tuple[float, ...] | None = setting(None, above=0)
    rotation: float | None = setting(None, low=0, high=180)
    hflip: float | None = setting(None, low=0, high=1)
    color_jitter: tuple[float, ...] | None = setting(None, low=0)
    color_jitter_p: float | None = setting(None, low=0, high=1)
    grayscale_p: float | None = setting(None, low=0, high=1)
    blur_p: float | None = setting(None, low=0, high=1)
    solarize_p: float | None = setting(None, low=0, high=1)
    crop_size: int | None = setting(None, low=1)
    noise: float = setting(0.1, low=0)
    mixup: float = setting(0.0, low=0, high=1)
    function: str | None = setting(None)
    mean: Auto | tuple[float, ...] | None = setting(AUTO)
    std: Auto | tuple[float, ...] | None = setting(AUTO, above=0)


@dataclass(frozen=True)
class ModelSection:
    """Backbone and projector head."""

    backbone: Auto | str = setting(AUTO)
    cifar_stem: Auto | bool = setting(AUTO)
    widths: tuple[int, ...] | None = setting(None, low=1)
    projector_hidden: int = setting(512, low=1)
    projector_dim: int = setting(128, low=1)
    projector_layers: int = setting(2, low=1)
    sync_batchnorm: bool = setting(False)
    init_from: str | None = setting(None)


@dataclass(frozen=True)
class LossSection:
    """The loss: a kernel or ``loss_sum`` specification, the engine's block size, and the
    method: ``simclr`` (two views, in-batch negatives) or ``moco`` (a momentum encoder's keys
    against a queue of earlier keys, :mod:`contrastlab.train.moco`, settings in ``moco``)."""

    kernel: dict[str, Any] = setting({"name": "cosine", "t": 0.5}, normalise=loss_kernel)
    block_size: int | None = setting(None, low=1)
    method: str = setting("simclr", choices=("simclr", "moco"))


@dataclass(frozen=True)
class MocoSection:
    """MoCo's settings (used with ``loss.method: moco``; :mod:`contrastlab.train.moco`).

    ``queue_size`` keys K; the key encoder follows the trained one by EMA with momentum
    ``momentum`` (``momentum_schedule: constant``, MoCo v2) or from ``momentum`` to
    ``momentum_end`` along a half cosine over the run's steps (``cosine``, MoCo v3);
    ``symmetric``: both views as queries (else view 1 queries, view 2 keys, as MoCo v2).
    """

    queue_size: int = setting(4096, low=1)
    momentum: float = setting(0.99, low=0, high=1)
    momentum_end: float = setting(1.0, low=0, high=1)
    momentum_schedule: str = setting("constant", choices=("constant", "cosine"))
    symmetric: bool = setting(False)


@dataclass(frozen=True)
class OptimSection:
    """Optimiser, global batch size and the warm-up + cosine schedule."""

    name: Auto | Optimiser = setting(AUTO)
    lr: Auto | float = setting(AUTO, above=0, normalise=_at_least("optim.lr", 0, False))
    batch_size: int = setting(256, low=1, normalise=_at_least("optim.batch_size", 1, True))
    weight_decay: Auto | float = setting(
        AUTO, low=0, normalise=_at_least("optim.weight_decay", 0, False)
    )
    momentum: float = setting(0.9, low=0, normalise=_at_least("optim.momentum", 0, False))
    warmup_epochs: Auto | int = setting(AUTO, low=0)
    min_lr_ratio: float = setting(0.0, low=0, high=1)
    clip_grad: float | None = setting(None, above=0)


@dataclass(frozen=True)
class TrainSection:
    """Length, seed, device and the run folder's files."""

    epochs: Auto | int = setting(AUTO, low=1, normalise=_at_least("train.epochs", 1, True))
    seed: int = setting(0)
    device: Auto | str = setting(AUTO)
    amp: bool = setting(True)
    compile: bool = setting(False)
    threads: int | None = setting(None, low=1)
    progress: bool = setting(True)
    checkpoint_every: int = setting(1, low=1)
    checkpoint_every_steps: int | None = setting(None, low=1)
    save_epochs: tuple[int, ...] = setting([], low=1)
    time_budget: Auto | float | None = setting(AUTO, above=0)


@dataclass(frozen=True)
class MonitorSection:
    """The kNN and online-probe monitors during training."""

    every: Auto | int = setting(AUTO, low=1, normalise=_at_least("monitor.every", 1, True))
    knn: bool = setting(True)
    online_probe: bool = setting(True)
    collapse: bool = setting(True)
    max_train: int = setting(10_000, low=1)


@dataclass(frozen=True)
class EvalSection:
    """The final evaluation on frozen backbone features."""

    knn_ks: tuple[int, ...] = setting([20, 200], low=1)
    knn_temperature: float = setting(0.1, above=0)
    linear_probe: bool = setting(True)
    raw_baseline: Auto | bool = setting(AUTO)


@dataclass(frozen=True)
class TrainConfig:
    """A training configuration as given (``auto`` values allowed)."""

    data: DataSection = setting(DataSection)
    augment: AugmentSection = setting(AugmentSection)
    model: ModelSection = setting(ModelSection)
    loss: LossSection = setting(LossSection)
    moco: MocoSection = setting(MocoSection)
    optim: OptimSection = setting(OptimSection)
    train: TrainSection = setting(TrainSection)
    monitor: MonitorSection = setting(MonitorSection)
    eval: EvalSection = setting(EvalSection)


# The resolved sections: the same keys, every ``auto`` replaced by a value of one plain type.


@dataclass(frozen=True)
class ResolvedAugment(AugmentSection):
    """The augment section resolved: a preset; ``mean``/``std`` per channel (images) or none."""

    preset: str = setting("none", choices=AUGMENT_PRESETS)
    mean: tuple[float, ...] | None = setting(None)
    std: tuple[float, ...] | None = setting(None, above=0)


@dataclass(frozen=True)
class ResolvedModel(ModelSection):
    """The model section resolved: a backbone name and whether it has the CIFAR stem."""

    backbone: str = setting("mlp")
    cifar_stem: bool = setting(False)


@dataclass(frozen=True)
class ResolvedOptim(OptimSection):
    """The optim section resolved: the optimiser, its rate, decay and warm-up epochs."""

    name: Optimiser = setting("adamw")
    lr: float = setting(1e-3, above=0)
    weight_decay: float = setting(0.0, low=0)
    warmup_epochs: int = setting(0, low=0)


@dataclass(frozen=True)
class ResolvedTrain(TrainSection):
    """The train section resolved: the number of epochs, the device and the time budget."""

    epochs: int = setting(1, low=1)
    device: str = setting("cpu")
    time_budget: float | None = setting(None, above=0)


@dataclass(frozen=True)
class ResolvedMonitor(MonitorSection):
    """The monitor section resolved: how often the monitors run."""

    every: int = setting(1, low=1)


@dataclass(frozen=True)
class ResolvedEval(EvalSection):
    """The eval section resolved: whether the raw-input baseline runs."""

    raw_baseline: bool = setting(False)


@dataclass(frozen=True)
class RunConfig(TrainConfig):
    """A resolved configuration (no ``auto`` left): what a run trains with and writes."""

    augment: ResolvedAugment = setting(ResolvedAugment)
    model: ResolvedModel = setting(ResolvedModel)
    optim: ResolvedOptim = setting(ResolvedOptim)
    train: ResolvedTrain = setting(ResolvedTrain)
    monitor: ResolvedMonitor = setting(ResolvedMonitor)
    eval: ResolvedEval = setting(ResolvedEval)


def train_config(mapping: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a plain mapping (missing keys: defaults), or the instance
    itself. ``loss.kernel`` is normalised with the mapping's ``model.projector_dim``.

    Raises:
        InputError: an unknown key, a wrong type or a value out of range, naming the key.
    """
    if isinstance(mapping, TrainConfig):
        return mapping
    return from_mapping(TrainConfig, _with_kernel_spec(mapping))


def run_config(mapping: Any) -> RunConfig:
    """A :class:`RunConfig` from the plain mapping of a resolved configuration.

    Raises:
        InputError: as :func:`train_config`, or an ``auto`` left unresolved.
    """
    if isinstance(mapping, RunConfig):
        return mapping
    return from_mapping(RunConfig, _with_kernel_spec(mapping))


def _with_kernel_spec(mapping: Any) -> Any:
    """``mapping`` with ``loss.kernel`` normalised knowing the projector's width."""
    if not isinstance(mapping, dict) or not isinstance(mapping.get("loss"), dict):
        return mapping
    if "kernel" not in mapping["loss"]:
        return mapping
    model = mapping.get("model")
    dim = model.get("projector_dim") if isinstance(model, dict) else None
    dim = dim if isinstance(dim, int) and not isinstance(dim, bool) else None
    kernel = _fit_concat(loss_kernel(mapping["loss"]["kernel"], dim), dim)
    return {**mapping, "loss": {**mapping["loss"], "kernel": kernel}}


def _fit_concat(kernel: dict[str, Any], dim: int | None) -> dict[str, Any]:
    """A ``concat`` kernel whose even split was made for another width (``loss.kernel=concat``
    given before ``model.projector_dim``) split evenly over ``dim`` instead; an uneven split
    that does not add up to ``dim`` is an error."""
    split = kernel.get("split") if kernel.get("name") == "concat" else None
    if dim is None or not isinstance(split, list) or sum(split) == dim:
        return kernel
    if len(set(split)) == 1 and dim % len(split) == 0:
        return loss_kernel({**kernel, "split": [dim // len(split)] * len(split)})
    raise InputError(
        f"loss.kernel concat splits {sum(split)} dimensions {split}, "
        f"but model.projector_dim is {dim}"
    )
