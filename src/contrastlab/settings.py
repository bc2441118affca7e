"""Settings: frozen dataclasses whose fields carry their ranges, and ``--set key=value`` overrides.

A settings class is a frozen dataclass whose fields are declared with :func:`setting`, which puts
the field's range (``low``/``high`` inclusive, ``above``/``below`` exclusive, ``choices``) and an
optional normaliser into the field's metadata. :func:`from_mapping` builds an instance from a plain
mapping (a YAML file, a ``--set`` result, an experiment's defaults): it rejects unknown keys,
recurses into nested settings classes, coerces values to the annotated types (an ``int`` field
given ``2.0`` gets ``2``, a ``float`` field given ``2`` gets ``2.0``, lists become tuples) and
checks the ranges, each failure one :class:`~contrastlab.errors.InputError` naming the dotted key.
:func:`to_mapping` is its inverse (plain dicts and lists, ready for YAML and JSON), and
:func:`with_overrides` applies ``key=value`` strings to an instance.

Override values are parsed as YAML scalars or lists (``3`` -> int, ``0.1`` -> float, ``[1, 2]``
-> list, ``true`` -> bool, ``1e-3`` -> float), keys may be dotted (``optim.lr=0.3``). Unknown keys
are an error, so a typo never silently does nothing.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Optim:
    ...     lr: float = setting(0.1, above=0)
    ...     epochs: int = setting(10, low=1)
    >>> from_mapping(Optim, {"lr": 1, "epochs": 3.0})
    Optim(lr=1.0, epochs=3)
    >>> with_overrides(Optim(), ["lr=2e-3"]).lr
    0.002
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from contrastlab.errors import InputError

T = TypeVar("T")

#: The value of a setting that is filled in later from the data or the device.
AUTO = "auto"
Auto = Literal["auto"]


@dataclass(frozen=True)
class Bounds:
    """What a setting admits beyond its type (see :func:`setting`)."""

    low: float | None = None
    high: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple[Any, ...] | None = None
    normalise: Callable[[Any], Any] | None = None
    open_keys: bool = False
    doc: str = ""

    def check(self, value: Any, name: str) -> None:
        """Raise :class:`InputError` when a number (or a number in a list) is out of range."""
        if self.choices is not None and value not in self.choices:
            options = ", ".join(map(str, self.choices))
            raise InputError(f"{name} must be one of {options}, got {value!r}")
        numbers = value if isinstance(value, (tuple, list)) else (value,)
        for number in numbers:
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                continue
            for limit, ok, words in (
                (self.low, lambda v, lim: v >= lim, ">="),
                (self.high, lambda v, lim: v <= lim, "<="),
                (self.above, lambda v, lim: v > lim, ">"),
                (self.below, lambda v, lim: v < lim, "<"),
            ):
                if limit is not None and not ok(number, limit):
                    raise InputError(f"{name} must be {words} {limit:g}, got {value!r}")


def setting(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    below: float | None = None,
    choices: Sequence[Any] | None = None,
    normalise: Callable[[Any], Any] | None = None,
    open_keys: bool = False,
    doc: str = "",
) -> Any:
    """A dataclass field with a default and a range.

    Args:
        default: the default value; a mutable default (list, dict) is copied per instance, and a
            settings class as default makes a fresh instance of it.
        low, high: inclusive bounds of a number, or of each number in a list.
        above, below: exclusive bounds.
        choices: the admitted values.
        normalise: applied to a given value before type checks (e.g. a kernel spec string into
            its mapping form).
        open_keys: for a mapping field, ``with_overrides`` may add keys below it (a free-form
            mapping such as an experiment's trainer settings); otherwise only existing keys.
        doc: one line for reports.
    """
    bounds = Bounds(
        low, high, above, below, tuple(choices) if choices is not None else None,
        normalise, open_keys, doc,
    )  # fmt: skip
    metadata = {"bounds": bounds}
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    if isinstance(default, (list, dict, set)):
        frozen = _freeze(default)
        return dataclasses.field(default_factory=lambda: copy.deepcopy(frozen), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    return value


def _bounds(field: dataclasses.Field[Any]) -> Bounds:
    bounds = field.metadata.get("bounds")
    return bounds if isinstance(bounds, Bounds) else Bounds()


def from_mapping(cls: type[T], mapping: Mapping[str, Any] | None, where: str = "") -> T:
    """An instance of the settings class ``cls`` from a plain mapping (missing keys: defaults).

    Raises:
        InputError: an unknown key, a value of the wrong type or out of its range; the message
            names the dotted key (``where`` is the prefix, e.g. ``"optim."``).
    """
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        raise InputError(f"setting {where.rstrip('.') or cls.__name__} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for key in mapping:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise InputError(f"unknown setting '{where}{key}' (known: {known})")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in mapping:
            continue
        bounds = _bounds(field)
        value = mapping[name]
        if bounds.normalise is not None:
            value = bounds.normalise(value)
        value = coerce(value, hints[name], f"{where}{name}")
        bounds.check(value, f"{where}{name}")
        values[name] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{where.rstrip('.') or cls.__name__}: {err}") from err


def coerce(value: Any, annotation: Any, name: str) -> Any:
    """``value`` as the type ``annotation`` says, or :class:`InputError` naming ``name``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return copy.deepcopy(value)
    if origin in (Union, types.UnionType):
        return _coerce_union(value, args, name)
    if origin is Literal:
        if value not in args:
            raise InputError(f"{name} must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return from_mapping(annotation, value, f"{name}.")
    if origin in (tuple, list, Sequence) or annotation in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{name} must be a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(coerce(v, item, f"{name}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise InputError(f"{name} must be a mapping, got {value!r}")
        item = args[1] if len(args) == 2 else Any
        return {str(k): coerce(v, item, f"{name}.{k}") for k, v in value.items()}
    return _coerce_scalar(value, annotation, name)


def _coerce_union(value: Any, args: tuple[Any, ...], name: str) -> Any:
    if value is None:
        if type(None) in args:
            return None
        raise InputError(f"{name} must be set, got null")
    errors = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return coerce(value, arg, name)
        except InputError as err:
            errors.append(str(err))
    raise InputError(errors[0] if len(errors) == 1 else f"{name}: not valid, got {value!r}")


def _coerce_scalar(value: Any, annotation: Any, name: str) -> Any:
    if annotation is bool:
        if not isinstance(value, bool):
            raise InputError(f"{name}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{name}: expected a whole number, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{name}: expected a number, got {value!r}")
        if math.isnan(value):
            raise InputError(f"{name}: expected a number, got nan")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise InputError(f"{name}: expected a string, got {value!r}")
        return value
    if annotation is type(None):
        if value is not None:
            raise InputError(f"{name} must be null, got {value!r}")
        return None
    raise TypeError(f"settings: unsupported annotation {annotation!r} for {name}")


def to_mapping(settings: Any) -> Any:
    """The plain form of a settings instance: dicts, lists and scalars (YAML and JSON ready)."""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return {
            f.name: to_mapping(getattr(settings, f.name))
            for f in dataclasses.fields(settings)
            if f.init
        }
    if isinstance(settings, (list, tuple)):
        return [to_mapping(v) for v in settings]
    if isinstance(settings, Mapping):
        return {str(k): to_mapping(v) for k, v in settings.items()}
    return settings


def with_overrides(settings: T, overrides: Iterable[str]) -> T:
    """A copy of the settings instance with each ``key=value`` override applied in order.

    Each override is applied to the plain form and the result is built again with
    :func:`from_mapping`, so normalisers run between overrides (``loss.kernel=laplacian`` then
    ``loss.kernel.t=0.3`` works). Keys below a mapping field must exist, except below a field
    declared with ``open_keys=True``.

    Raises:
        InputError: a malformed override, an unknown key, a bad value.
    """
    for text in overrides:
        key, value = parse_override(text)
        mapping = to_mapping(settings)
        _set_dotted(type(settings), mapping, key.split("."), value)
        settings = from_mapping(type(settings), mapping)
    return settings


def _set_dotted(cls: Any, node: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set the dotted key ``parts`` in ``node``, the plain form of settings class ``cls``.

    Below a settings class the keys are its fields; below a mapping field only the keys it has
    (a kernel spec's ``t``), unless the field was declared with ``open_keys=True``.
    """
    schema: Any = cls  # the settings class at this level, None below a mapping field
    closed = False  # below a closed mapping field: only existing keys
    for depth, part in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        if schema is not None:
            fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
            if part not in fields:
                raise InputError(f"unknown setting '{here}' (known: {', '.join(sorted(fields))})")
            annotation = get_type_hints(schema)[part]
            nested = isinstance(annotation, type) and dataclasses.is_dataclass(annotation)
            next_schema = annotation if nested else None
            next_closed = not nested and not _bounds(fields[part]).open_keys
        else:
            if closed and part not in node:
                raise InputError(f"unknown setting '{here}' (known: {', '.join(sorted(node))})")
            next_schema, next_closed = None, closed
        if depth == len(parts) - 1:
            node[part] = value
            return
        child = node.get(part)
        if child is None and next_schema is None and not next_closed:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise InputError(f"setting '{here}' has no sub-keys")
        node, schema, closed = child, next_schema, next_closed


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
    """Return a deep copy of the plain mapping ``settings`` with each ``key=value`` applied.

    The schema-free form of :func:`with_overrides`: a value keeps the type of the value it
    replaces where that is unambiguous (an int given 2.0 stays int).

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
                node[part] = _coerce_like(value, node[part], key)
            else:
                if not isinstance(node[part], dict):
                    raise InputError(f"setting {'.'.join(parts[: depth + 1])!r} has no sub-keys")
                node = node[part]
    return result


def _coerce_like(value: Any, current: Any, key: str) -> Any:
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


__all__ = [
    "AUTO",
    "Auto",
    "Bounds",
    "apply_overrides",
    "coerce",
    "from_mapping",
    "parse_override",
    "setting",
    "to_mapping",
    "with_overrides",
]
