"""Build the pieces a run needs from its resolved configuration: kernel, loss, model, transforms.

``contrastlab embed`` rebuilds the same model and evaluation transform from a run's
``config.yaml``, so everything that shapes them is in the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from contrastlab.data.augment import (
    EvalTransform,
    ImageAugment,
    VectorAugment,
    image_settings,
)
from contrastlab.errors import InputError
from contrastlab.kernels import Kernel, from_name, parse_kernel
from contrastlab.models import ContrastiveModel, ProjectionHead, build_backbone

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


# The official Kernel-InfoNCE code's "sum": lambda L(exponential) + (1 - lambda) L(gaussian),
# each term its own softmax (losses.LossSum); lambda = 0.5 and the kernels' project defaults.
LOSS_SUM_DEFAULT_TERMS: tuple[tuple[str, float], ...] = (
    ("exponential:gamma=0.5,t=0.5", 0.5),
    ("gaussian:t=0.4", 0.5),
)


def loss_sum_terms(spec: str | Mapping[str, Any]) -> list[tuple[Any, float]] | None:
    """The ``(kernel spec, weight)`` terms of a ``loss_sum`` loss spec, or ``None`` for a kernel.

    ``"loss_sum"`` uses :data:`LOSS_SUM_DEFAULT_TERMS`; ``{"name": "loss_sum", "terms":
    [[kernel spec, weight], ...]}`` gives them explicitly.
    """
    if isinstance(spec, Mapping):
        if str(spec.get("name", "")).replace("-", "_") != "loss_sum":
            return None
        unknown = set(spec) - {"name", "terms"}
        if unknown:
            raise InputError(f"loss.kernel loss_sum: unknown keys {sorted(unknown)}; use 'terms'")
        raw = spec.get("terms", LOSS_SUM_DEFAULT_TERMS)
    elif str(spec).strip().lower().replace("-", "_") == "loss_sum":
        raw = LOSS_SUM_DEFAULT_TERMS
    else:
        return None
    if not isinstance(raw, (list, tuple)) or not raw:
        raise InputError("loss.kernel loss_sum: 'terms' must list [kernel, weight] pairs")
    terms = []
    for item in raw:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError(f"loss.kernel loss_sum: term {item!r} is not [kernel, weight]")
        weight = item[1]
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise InputError(f"loss.kernel loss_sum: weight {weight!r} must be a number > 0")
        terms.append((item[0], float(weight)))
    return terms


def build_loss(
    spec: str | Mapping[str, Any], embed_dim: int = 128, block_size: int | None = None
) -> nn.Module:
    """The training loss of a ``loss.kernel`` spec: ``KernelInfoNCE`` of one kernel, or
    ``LossSum`` of several (a ``loss_sum`` spec, see :func:`loss_sum_terms`)."""
    from contrastlab import losses

    terms = loss_sum_terms(spec)
    if terms is None:
        return losses.KernelInfoNCE(kernel=build_kernel(spec, embed_dim), block_size=block_size)
    kernels = [(build_kernel(k, embed_dim), w) for k, w in terms]
    if len({k.normalization for k, _ in kernels}) > 1:
        raise InputError("loss.kernel loss_sum: the terms' kernels must share one normalisation")
    try:
        return losses.LossSum(kernels, block_size=block_size)
    except (ValueError, TypeError) as err:
        raise InputError(f"loss.kernel {spec!r}: {err}") from err


def build_kernel(spec: str | Mapping[str, Any], embed_dim: int = 128) -> Kernel:
    """A kernel from ``"cosine"``, ``"student_t:nu=5,s=0.2"`` or ``{"name": ..., **params}``.

    ``concat`` without an explicit ``dim`` splits the projector's ``embed_dim``. For a
    ``loss_sum`` spec (several losses, not one kernel) this is its first term's kernel: the
    terms share one normalisation, which is all the model needs from it (the projector's end).
    """
    terms = loss_sum_terms(spec)
    if terms is not None:
        spec = terms[0][0]
    try:
        if isinstance(spec, Mapping):
            params = dict(spec)
            name = params.pop("name", None)
            if not name:
                raise InputError("loss.kernel mapping needs a 'name'")
            if str(name).replace("-", "_") == "concat":
                params.setdefault("dim", embed_dim)
            return from_name(str(name), **params)
        text = str(spec)
        if text.split(":")[0].strip().lower() == "concat" and "dim=" not in text:
            text = f"{text}{',' if ':' in text else ':'}dim={embed_dim}"
        return parse_kernel(text)
    except InputError:
        raise
    except (ValueError, TypeError) as err:
        raise InputError(f"loss.kernel {spec!r}: {err}") from err


def build_model(
    config: Mapping[str, Any], sample_shape: tuple[int, ...], kernel: Kernel
) -> ContrastiveModel:
    """Backbone plus projector; Student-t kernels (no normalisation) end in a BatchNorm."""
    cfg = config["model"]
    backbone = build_backbone(
        cfg["backbone"], sample_shape, cifar_stem=bool(cfg["cifar_stem"]), widths=cfg["widths"]
    )
    projector = ProjectionHead(
        backbone.feature_dim,
        hidden_dim=int(cfg["projector_hidden"]),
        out_dim=int(cfg["projector_dim"]),
        layers=int(cfg["projector_layers"]),
        batchnorm_end=kernel.normalization == "none",
    )
    return ContrastiveModel(backbone, projector)


def build_transforms(
    config: Mapping[str, Any], is_image: bool, feature_std: torch.Tensor | None = None
) -> tuple[nn.Module, nn.Module]:
    """The training augmentation (called once per view) and the deterministic eval transform."""
    aug = config["augment"]
    if not is_image:
        if aug["preset"] not in ("vector", "none"):
            raise InputError(
                f"augment.preset {aug['preset']!r} is for images; the data are vectors"
            )
        noise, mixup = (0.0, 0.0) if aug["preset"] == "none" else (aug["noise"], aug["mixup"])
        return (
            VectorAugment(
                noise=float(noise),
                mixup=float(mixup),
                feature_std=feature_std,
                function=aug["function"],
            ),
            nn.Identity(),
        )
    if aug["preset"] == "vector":
        raise InputError("augment.preset 'vector' is for vectors; the data are images")
    settings = image_settings(aug["preset"], **{k: aug[k] for k in IMAGE_AUGMENT_KEYS})
    crop = aug["crop_size"]
    return (
        ImageAugment(settings, output_size=crop, mean=aug["mean"], std=aug["std"]),
        EvalTransform(output_size=crop, mean=aug["mean"], std=aug["std"]),
    )
