"""Kernel-valued experiment settings: normalisers naming their key, and a short text form.

An experiment's kernel setting holds the canonical specification of :mod:`contrastlab.specs`
(``{"name": "cosine", "t": 0.2}``); a user may give the string shorthand (``cosine:t=0.2``) or
a mapping, and :func:`spec_normaliser` turns either into the canonical mapping when the settings
are built, raising :class:`~contrastlab.errors.InputError` with the setting's name in front.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from contrastlab.errors import InputError
from contrastlab.specs import kernel_spec, loss_spec


def spec_normaliser(key: str, loss: bool = False) -> Callable[[Any], dict[str, Any]]:
    """A ``normalise=`` function for one kernel setting ``key``.

    Args:
        key: the setting's name, put in front of every error.
        loss: accept loss specifications too (``loss_sum``), not only kernels.
    """
    canonical = loss_spec if loss else kernel_spec

    def normalise(value: Any) -> dict[str, Any]:
        try:
            return canonical(value)
        except (ValueError, TypeError) as err:
            raise InputError(f"{key}: {err}") from err

    return normalise


def spec_list_normaliser(key: str, loss: bool = False) -> Callable[[Any], list[dict[str, Any]]]:
    """A ``normalise=`` function for a list of kernel specifications ``key``.

    Unknown kernel names are reported together (``kernels: unknown ['sinc']; choose from ...``);
    any other bad specification as ``kernels[i]: ...``.
    """
    canonical = loss_spec if loss else kernel_spec

    def normalise(value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{key}: must be a list of kernel specifications, got {value!r}")
        specs, unknown = [], []
        for i, item in enumerate(value):
            try:
                specs.append(canonical(item))
            except (ValueError, TypeError) as err:
                if "unknown kernel" not in str(err):
                    raise InputError(f"{key}[{i}]: {err}") from err
                unknown.append(_name(item))
        if unknown:
            from contrastlab.kernels import KERNEL_NAMES

            names = ", ".join([*KERNEL_NAMES, *(["loss_sum"] if loss else [])])
            raise InputError(f"{key}: unknown {unknown}; choose from {names}")
        return specs

    return normalise


def _name(item: Any) -> str:
    if isinstance(item, Mapping):
        return str(item.get("name"))
    return str(item).partition(":")[0]


def spec_text(spec: Mapping[str, Any]) -> str:
    """A one-line form of a canonical spec for reports: ``cosine:t=0.2``,
    ``kernel_sum(gaussian:t=0.4, laplacian:t=0.5)``, ``loss_sum(0.5 exponential:..., ...)``."""
    name = str(spec["name"])
    if "terms" in spec:
        terms = ", ".join(f"{weight:g} {spec_text(kernel)}" for kernel, weight in spec["terms"])
        return f"{name}({terms})"
    if "kernels" in spec:
        return f"{name}({', '.join(spec_text(part) for part in spec['kernels'])})"
    params = ",".join(
        f"{k}={v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k}={v}"
        for k, v in spec.items()
        if k != "name"
    )
    return f"{name}:{params}" if params else name
