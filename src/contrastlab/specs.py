"""Kernel and loss specifications: one shape for every kernel a user, config or experiment names.

A kernel specification is a mapping ``{"name": NAME, **parameters}``, e.g.
``{"name": "laplacian", "t": 0.3}``. Wherever a specification is taken, two shorthands are
accepted too and normalised on load by :func:`kernel_spec`:

* the command-line string ``"laplacian"``, ``"student_t:nu=5,s=0.2"``,
  ``"concat:mode=loss,normalize=parts"`` (grammar of :func:`contrastlab.kernels.parse_kernel`);
* a :class:`~contrastlab.kernels.Kernel` object.

The canonical mapping has the canonical name (``KERNEL_NAMES``), every parameter with its value
(defaults filled in), and for ``kernel_sum`` and ``concat`` the parts as canonical mappings under
``"kernels"`` (``concat`` also gives its ``split`` widths, so ``dim`` is gone). Normalising twice
changes nothing, and ``build_kernel(kernel_spec(x))`` is the kernel ``x`` names, so a resolved
``config.yaml`` holds mappings that ``--set loss.kernel.t=0.3`` can reach key by key.

A loss specification is a kernel specification (one ``KernelInfoNCE`` loss) or
``{"name": "loss_sum", "terms": [[kernel spec, weight], ...]}``, separate losses added with
weights (what the official Kernel-InfoNCE code trains); the string ``"loss_sum"`` stands for
:data:`LOSS_SUM_DEFAULT_TERMS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from contrastlab.kernels import (
    Concat,
    Kernel,
    KernelSum,
    from_name,
    kernel_name,
    parse_kernel,
)

LOSS_SUM = "loss_sum"

#: The terms ``"loss_sum"`` stands for: the paper's exponential and Gaussian kernels trained as
#: two losses added with ``lambda = 0.5``, as the official Kernel-InfoNCE code does.
LOSS_SUM_DEFAULT_TERMS: tuple[tuple[dict[str, Any], float], ...] = (
    ({"name": "exponential", "gamma": 0.5, "t": 0.5}, 0.5),
    ({"name": "gaussian", "t": 0.4}, 0.5),
)


def spec_of(kernel: Kernel) -> dict[str, Any]:
    """The canonical specification of a kernel object (inverse of :func:`build_kernel`)."""
    if isinstance(kernel, KernelSum):
        return {
            "name": "kernel_sum",
            "kernels": [spec_of(k) for k in kernel.kernels],
            "weights": list(kernel.weights),
            "normalize": kernel.normalization,
        }
    if isinstance(kernel, Concat):
        return {
            "name": "concat",
            "kernels": [spec_of(k) for k in kernel.kernels],
            "split": list(kernel.split),
            "mode": kernel.mode,
            "normalize": kernel.normalize,
            "weights": list(kernel.weights),
        }
    if not dataclasses.is_dataclass(kernel):
        raise TypeError(f"cannot describe kernel {kernel!r}: not a contrastlab kernel")
    spec: dict[str, Any] = {"name": kernel_name(kernel)}
    for field in dataclasses.fields(kernel):
        value = getattr(kernel, field.name)
        if field.init and not (field.name == "normalization" and value == field.default):
            spec[field.name] = value
    return spec


def build_kernel(value: str | Mapping[str, Any] | Kernel, embed_dim: int | None = None) -> Kernel:
    """The kernel a specification names.

    Args:
        value: a mapping ``{"name": ..., **params}``, a command-line string or a kernel.
        embed_dim: the embedding width; a ``concat`` given neither ``split`` nor ``dim`` splits
            it evenly (``from_name``'s default of 128 otherwise).

    Raises:
        ValueError: unknown name, unknown or bad parameter. TypeError: not a spec at all.
    """
    if isinstance(value, Kernel):
        return value
    if isinstance(value, str):
        name = value.partition(":")[0]
        if (
            embed_dim is not None
            and _is_concat(name)
            and "dim=" not in value
            and "split" not in value
        ):
            value = f"{value}{',' if ':' in value else ':'}dim={embed_dim}"
        return parse_kernel(value)
    if not isinstance(value, Mapping):
        raise TypeError(f"a kernel spec is a mapping, a string or a kernel, got {value!r}")
    params = dict(value)
    name = params.pop("name", None)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"kernel spec {dict(value)!r} needs a 'name'")
    if "kernels" in params:
        params["kernels"] = [build_kernel(p, embed_dim) for p in params["kernels"]]
    if _is_concat(name) and embed_dim is not None and "split" not in params:
        params.setdefault("dim", embed_dim)
    return from_name(name, **params)


def kernel_spec(
    value: str | Mapping[str, Any] | Kernel, embed_dim: int | None = None
) -> dict[str, Any]:
    """The canonical mapping of a kernel specification (see the module docstring).

    Raises:
        ValueError: the specification names no valid kernel.
    """
    return spec_of(build_kernel(value, embed_dim))


def is_loss_sum(value: Any) -> bool:
    """Whether a loss specification is a ``loss_sum`` (separate losses) rather than a kernel."""
    if isinstance(value, Mapping):
        name = value.get("name", "")
    elif isinstance(value, str):
        name = value.partition(":")[0]
    else:
        return False
    return isinstance(name, str) and name.strip().lower().replace("-", "_") == LOSS_SUM


def loss_spec(
    value: str | Mapping[str, Any] | Kernel, embed_dim: int | None = None
) -> dict[str, Any]:
    """The canonical mapping of a loss specification: a kernel spec, or a ``loss_sum`` with its
    terms as ``[[canonical kernel spec, weight], ...]``.

    Raises:
        ValueError: bad kernel, unknown key, a term that is not ``[kernel, weight > 0]``.
    """
    if not is_loss_sum(value):
        return kernel_spec(value, embed_dim)
    if not isinstance(value, Mapping):
        if str(value).strip().lower().replace("-", "_") != LOSS_SUM:
            raise ValueError(f"loss_sum takes its terms as a mapping, not {value!r}")
        raw: Any = [list(term) for term in LOSS_SUM_DEFAULT_TERMS]
    else:
        unknown = set(value) - {"name", "terms"}
        if unknown:
            raise ValueError(f"loss_sum: unknown keys {sorted(unknown)}; use 'terms'")
        raw = value.get("terms", [list(term) for term in LOSS_SUM_DEFAULT_TERMS])
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError("loss_sum: 'terms' must list [kernel, weight] pairs")
    return {"name": LOSS_SUM, "terms": [_term(item, embed_dim) for item in raw]}


def _term(item: Any, embed_dim: int | None) -> list[Any]:
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        raise ValueError(f"loss_sum: term {item!r} is not [kernel, weight]")
    kernel, weight = item
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise ValueError(f"loss_sum: weight {weight!r} must be a number > 0")
    return [kernel_spec(kernel, embed_dim), float(weight)]


def _is_concat(name: str) -> bool:
    return name.strip().lower().replace("-", "_") == "concat"
