"""Build the pieces a run needs from its resolved configuration: kernel, loss, model, transforms.

``contrastlab embed`` rebuilds the same model and evaluation transform from a run's
``config.yaml``, so everything that shapes them is in the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from contrastlab import specs
from contrastlab.data.augment import (
    EvalTransform,
    ImageAugment,
    VectorAugment,
    image_settings,
)
from contrastlab.errors import InputError
from contrastlab.kernels import Kernel
from contrastlab.models import ContrastiveModel, ProjectionHead, build_backbone
from contrastlab.specs import is_loss_sum
from contrastlab.train.sections import RunConfig, loss_kernel, run_config

IMAGE_AUGMENT_KEYS = (
    "crop_scale",
    "crop_ratio",
    "rotation",
    "hflip",
    "color_jitter",
    "color_jitter_p",
    "grayscale_p",
    "blur_p",
    "solarize_p",
)


def build_loss(
    spec: str | Mapping[str, Any], embed_dim: int = 128, block_size: int | None = None
) -> nn.Module:
    """The training loss of a ``loss.kernel`` spec (:func:`contrastlab.specs.loss_spec`):
    ``KernelInfoNCE`` of one kernel, or ``LossSum`` of several (a ``loss_sum`` spec).

    Raises:
        InputError: a bad spec, or ``loss_sum`` terms whose kernels normalise differently.
    """
    from contrastlab import losses

    canonical = loss_kernel(spec, embed_dim)
    if not is_loss_sum(canonical):
        return losses.KernelInfoNCE(
            kernel=build_kernel(canonical, embed_dim), block_size=block_size
        )
    kernels = [(build_kernel(k, embed_dim), w) for k, w in canonical["terms"]]
    if len({k.normalization for k, _ in kernels}) > 1:
        raise InputError("loss.kernel loss_sum: the terms' kernels must share one normalisation")
    try:
        return losses.LossSum(kernels, block_size=block_size)
    except (ValueError, TypeError) as err:
        raise InputError(f"loss.kernel {spec!r}: {err}") from err


def build_kernel(spec: str | Mapping[str, Any], embed_dim: int = 128) -> Kernel:
    """The kernel of a ``loss.kernel`` spec (:func:`contrastlab.specs.build_kernel`).

    For a ``loss_sum`` spec (several losses, not one kernel) this is its first term's kernel:
    the terms share one normalisation, which is all the model needs from it (the projector's end).

    Raises:
        InputError: the spec names no valid kernel.
    """
    canonical = loss_kernel(spec, embed_dim)
    if is_loss_sum(canonical):
        canonical = canonical["terms"][0][0]
    try:
        return specs.build_kernel(canonical, embed_dim)
    except (ValueError, TypeError) as err:
        raise InputError(f"loss.kernel {spec!r}: {err}") from err


def build_model(
    config: RunConfig | Mapping[str, Any], sample_shape: tuple[int, ...], kernel: Kernel
) -> ContrastiveModel:
    """Backbone plus projector (``model.*`` of a resolved configuration); Student-t kernels (no
    normalisation) end in a BatchNorm."""
    cfg = run_config(config).model
    backbone = build_backbone(
        cfg.backbone,
        sample_shape,
        cifar_stem=cfg.cifar_stem,
        widths=cfg.widths,
    )
    feature_dim: int = backbone.feature_dim  # type: ignore[assignment]  # set by every backbone
    projector = ProjectionHead(
        feature_dim,
        hidden_dim=cfg.projector_hidden,
        out_dim=cfg.projector_dim,
        layers=cfg.projector_layers,
        batchnorm_end=kernel.normalization == "none",
    )
    return ContrastiveModel(backbone, projector)


def build_transforms(
    config: RunConfig | Mapping[str, Any], is_image: bool, feature_std: torch.Tensor | None = None
) -> tuple[nn.Module, nn.Module]:
    """The training augmentation (called once per view) and the deterministic eval transform."""
    aug = run_config(config).augment
    if not is_image:
        if aug.preset not in ("vector", "none"):
            raise InputError(f"augment.preset {aug.preset!r} is for images; the data are vectors")
        noise, mixup = (0.0, 0.0) if aug.preset == "none" else (aug.noise, aug.mixup)
        augment = VectorAugment(
            noise=noise, mixup=mixup, feature_std=feature_std, function=aug.function
        )
        return augment, nn.Identity()
    if aug.preset == "vector":
        raise InputError("augment.preset 'vector' is for vectors; the data are images")
    settings = image_settings(aug.preset, **{k: getattr(aug, k) for k in IMAGE_AUGMENT_KEYS})
    mean = aug.mean if aug.mean is not None else (0.0,)  # null: no normalisation
    std = aug.std if aug.std is not None else (1.0,)
    return (
        ImageAugment(settings, output_size=aug.crop_size, mean=mean, std=std),
        EvalTransform(output_size=aug.crop_size, mean=mean, std=std),
    )
