"""``--set key=value`` overrides."""

from __future__ import annotations

import pytest

from contrastlab.errors import InputError
from contrastlab.settings import apply_overrides, parse_override

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
