"""Settings classes (ranges, coercion, unknown keys) and ``--set key=value`` overrides."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import pytest

from contrastlab.errors import InputError
from contrastlab.settings import (
    AUTO,
    Auto,
    apply_overrides,
    from_mapping,
    parse_override,
    setting,
    to_mapping,
    with_overrides,
)

DEFAULTS = {"epochs": 10, "lr": 0.1, "kernel": "cosine", "flag": False, "optim": {"wd": 1e-4}}


def test_values_are_parsed_and_types_kept():
    out = apply_overrides(
        DEFAULTS, ["epochs=3", "lr=1", "kernel=laplacian", "flag=true", "optim.wd=0"]
    )
    assert out == {
        "epochs": 3,
        "lr": 1.0,
        "kernel": "laplacian",
        "flag": True,
        "optim": {"wd": 0.0},
    }
    assert isinstance(out["lr"], float) and isinstance(out["optim"]["wd"], float)
    assert DEFAULTS["epochs"] == 10  # the defaults are not modified


def test_lists_parse_as_yaml():
    assert parse_override("ks=[1, 10, 100]") == ("ks", [1, 10, 100])


def test_exponent_notation_is_a_number():
    # YAML 1.1 would read these as strings.
    assert parse_override("lr=1e-3") == ("lr", 0.001)
    assert parse_override("lrs=[2E5, -1e-2, 3.5e1]") == ("lrs", [200000.0, -0.01, 35.0])
    assert parse_override("name=e5") == ("name", "e5")
    assert apply_overrides(DEFAULTS, ["lr=5e-4"])["lr"] == 0.0005


@pytest.mark.parametrize(
    "override, message",
    [
        ("epochs", "key=value"),
        ("epoch=3", "unknown setting 'epoch'"),
        ("optim.momentum=0.9", "unknown setting 'optim.momentum'"),
        ("epochs.x=1", "has no sub-keys"),
        ("epochs=many", "expected a number"),
        ("flag=3", "expected true or false"),
    ],
)
def test_bad_overrides_raise_input_error(override, message):
    with pytest.raises(InputError, match=message):
        apply_overrides(DEFAULTS, [override])


# --- frozen-dataclass settings -------------------------------------------------------------


def _spec(value: Any) -> dict[str, Any]:
    """A stand-in normaliser: 'name:t=x' or a mapping -> {'name', 't'} with t filled."""
    if isinstance(value, str):
        name, _, rest = value.partition(":")
        value = {"name": name, **({"t": float(rest.split("=")[1])} if rest else {})}
    return {"name": value["name"], "t": float(value.get("t", 0.5))}


@dataclass(frozen=True)
class Optim:
    lr: float | Auto = setting(AUTO, above=0)
    epochs: int = setting(10, low=1, high=1000)
    name: str = setting("adamw", choices=("sgd", "adamw"))
    ks: tuple[int, ...] = setting([20, 200], low=1)
    clip: float | None = setting(None, above=0)


@dataclass(frozen=True)
class Run:
    optim: Optim = setting(Optim)
    kernel: dict[str, Any] = setting({"name": "cosine", "t": 0.2}, normalise=_spec)
    extra: dict[str, Any] = setting({}, open_keys=True)
    flag: bool = setting(False)


def test_from_mapping_coerces_and_fills_defaults():
    run = from_mapping(Run, {"optim": {"lr": 1, "epochs": 3.0, "ks": [5]}, "kernel": "lap:t=2"})
    assert run.optim.lr == 1.0 and isinstance(run.optim.lr, float)
    assert run.optim.epochs == 3 and isinstance(run.optim.epochs, int)
    assert run.optim.ks == (5,) and run.optim.name == "adamw" and run.optim.clip is None
    assert run.kernel == {"name": "lap", "t": 2.0}
    assert from_mapping(Run, {}).optim.lr == AUTO
    with pytest.raises(FrozenInstanceError):
        run.flag = True  # type: ignore[misc]


def test_to_mapping_is_the_inverse_of_from_mapping():
    run = from_mapping(Run, {"optim": {"lr": 0.5, "ks": [1, 2]}, "extra": {"a": {"b": 1}}})
    plain = to_mapping(run)
    assert plain["optim"] == {"lr": 0.5, "epochs": 10, "name": "adamw", "ks": [1, 2], "clip": None}
    assert from_mapping(Run, plain) == run


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"optim": {"lrr": 1}}, r"unknown setting 'optim\.lrr' \(known: clip, epochs, ks, lr"),
        ({"optimm": {}}, "unknown setting 'optimm'"),
        ({"optim": {"lr": 0}}, r"optim\.lr must be > 0, got 0"),
        ({"optim": {"lr": "fast"}}, r"optim\.lr: not valid"),
        ({"optim": {"epochs": 0}}, r"optim\.epochs must be >= 1, got 0"),
        ({"optim": {"epochs": 1001}}, r"optim\.epochs must be <= 1000"),
        ({"optim": {"epochs": 2.5}}, r"optim\.epochs: expected a whole number, got 2\.5"),
        ({"optim": {"epochs": True}}, "expected a whole number"),
        ({"optim": {"name": "lars"}}, r"optim\.name must be one of sgd, adamw, got 'lars'"),
        ({"optim": {"ks": [5, 0]}}, r"optim\.ks must be >= 1, got \(5, 0\)"),
        ({"optim": {"ks": 5}}, r"optim\.ks must be a list"),
        ({"optim": {"clip": -1.0}}, r"optim\.clip must be > 0"),
        ({"optim": 3}, "setting optim must be a mapping"),
        ({"flag": 1}, "flag: expected true or false"),
    ],
)
def test_from_mapping_names_the_bad_key(mapping, message):
    with pytest.raises(InputError, match=message):
        from_mapping(Run, mapping)


def test_with_overrides_runs_the_normaliser_between_overrides():
    run = with_overrides(Run(), ["kernel=lap", "kernel.t=0.3", "optim.lr=1e-3", "optim.ks=[7]"])
    assert run.kernel == {"name": "lap", "t": 0.3}
    assert run.optim.lr == 0.001 and run.optim.ks == (7,)
    assert Run().kernel == {"name": "cosine", "t": 0.2}  # the original is unchanged


def test_with_overrides_adds_keys_only_below_open_mappings():
    run = with_overrides(Run(), ["extra.optim.lr=0.5", "extra.seed=3"])
    assert run.extra == {"optim": {"lr": 0.5}, "seed": 3}
    with pytest.raises(InputError, match=r"unknown setting 'kernel\.nu' \(known: name, t\)"):
        with_overrides(Run(), ["kernel.nu=3"])
    with pytest.raises(InputError, match=r"unknown setting 'optim\.momentum'"):
        with_overrides(Run(), ["optim.momentum=0.9"])
    with pytest.raises(InputError, match=r"setting 'optim\.epochs' has no sub-keys"):
        with_overrides(Run(), ["optim.epochs.x=1"])
    with pytest.raises(InputError, match=r"optim\.epochs must be >= 1"):
        with_overrides(Run(), ["optim.epochs=0"])
