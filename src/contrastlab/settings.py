"""``--set key=value`` overrides for nested settings dictionaries.

Values are parsed as YAML scalars or lists (``3`` -> int, ``0.1`` -> float, ``[1, 2]`` -> list,
``true`` -> bool), keys may be dotted (``optim.lr=0.3``). Unknown keys are an error, so a typo
never silently does nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from contrastlab.errors import InputError


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``"key=value"`` and parse the value as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--set expects key=value, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise InputError(f"--set {key}: cannot parse value {raw!r}") from err
    return key.strip(), _exponent_floats(value)


# YAML 1.1 reads "1e-3" (no dot in the mantissa) as a string; users mean a number.
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _exponent_floats(value: Any) -> Any:
    if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
        return float(value)
    if isinstance(value, list):
        return [_exponent_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _exponent_floats(v) for k, v in value.items()}
    return value


def apply_overrides(settings: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a deep copy of ``settings`` with each ``key=value`` override applied.

    Raises:
        InputError: for a malformed override or a key that ``settings`` does not have.
    """
    result = copy.deepcopy(dict(settings))
    for text in overrides:
        key, value = parse_override(text)
        node: dict[str, Any] = result
        parts = key.split(".")
        for depth, part in enumerate(parts):
            if part not in node:
                known = ", ".join(sorted(node))
                raise InputError(
                    f"unknown setting {'.'.join(parts[: depth + 1])!r} (known: {known})"
                )
            if depth == len(parts) - 1:
                node[part] = _coerce(value, node[part], key)
            else:
                if not isinstance(node[part], dict):
                    raise InputError(f"setting {'.'.join(parts[: depth + 1])!r} has no sub-keys")
                node = node[part]
    return result


def _coerce(value: Any, current: Any, key: str) -> Any:
    """Keep the default's type where unambiguous (an int default given 2.0 stays int)."""
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise InputError(f"--set {key}: expected true or false, got {value!r}")
        return value
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(current, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(current, (int, float)) and not isinstance(value, (int, float)):
        raise InputError(f"--set {key}: expected a number, got {value!r}")
    return value
