"""Kernel and loss specifications: every shorthand normalises to one canonical mapping."""

from __future__ import annotations

import pytest
import torch

from contrastlab import kernels
from contrastlab.specs import build_kernel, kernel_spec, loss_spec, spec_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("laplacian", {"name": "laplacian", "t": 0.5}),
        ("laplacian:t=0.3", {"name": "laplacian", "t": 0.3}),
        ({"name": "Laplacian", "t": 0.3}, {"name": "laplacian", "t": 0.3}),
        (kernels.Laplacian(t=0.3), {"name": "laplacian", "t": 0.3}),
        ("student_t:nu=5,s=0.2", {"name": "student_t", "nu": 5.0, "s": 0.2}),
        ({"name": "studentt"}, {"name": "student_t", "nu": 5.0, "s": 0.2}),
        ("exponential:gamma=1", {"name": "exponential", "gamma": 1.0, "t": 0.5}),
        ("inner_product", {"name": "inner_product", "t": 0.2}),
        ("cauchy:s=2", {"name": "cauchy", "s": 2.0}),
    ],
)
def test_every_shorthand_normalises_to_the_canonical_mapping(value, expected) -> None:
    assert kernel_spec(value) == expected
    assert kernel_spec(kernel_spec(value)) == expected


def test_mixtures_give_their_parts_as_mappings() -> None:
    spec = kernel_spec("kernel_sum")
    assert spec == {
        "name": "kernel_sum",
        "kernels": [{"name": "gaussian", "t": 0.4}, {"name": "laplacian", "t": 0.5}],
        "weights": [1.0, 1.0],
        "normalize": "l2",
    }
    concat = kernel_spec("concat:mode=loss", embed_dim=10)
    assert concat["split"] == [5, 5]
    assert concat["mode"] == "loss"
    assert concat["kernels"][0] == {"name": "laplacian", "t": 0.5}
    assert "dim" not in concat
    assert kernel_spec(concat) == concat


def test_build_kernel_of_the_canonical_spec_computes_the_same_logits() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 8, generator=gen), torch.randn(5, 8, generator=gen)
    for text in ("kernel_sum", "concat:normalize=parts", "student_t:nu=3,s=0.5", "gaussian:t=0.2"):
        original = build_kernel(text, embed_dim=8)
        rebuilt = build_kernel(spec_of(original))
        za, zb = original.prepare(a), original.prepare(b)
        torch.testing.assert_close(rebuilt.logits(za, zb), original.logits(za, zb))


@pytest.mark.parametrize(
    "bad",
    ["gausian", {"t": 0.3}, {"name": "laplacian", "t": -1}, {"name": "laplacian", "temp": 1}],
)
def test_bad_specs_are_value_errors(bad) -> None:
    with pytest.raises(ValueError):
        kernel_spec(bad)


def test_a_spec_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        kernel_spec(3.0)  # type: ignore[arg-type]


def test_loss_sum_terms_are_canonical_kernel_specs() -> None:
    spec = loss_spec(
        {"name": "loss_sum", "terms": [["gaussian:t=0.2", 1], [{"name": "cosine"}, 2]]}
    )
    assert spec == {
        "name": "loss_sum",
        "terms": [[{"name": "gaussian", "t": 0.2}, 1.0], [{"name": "cosine", "t": 0.2}, 2.0]],
    }
    assert loss_spec("loss_sum")["terms"][1] == [{"name": "gaussian", "t": 0.4}, 0.5]
    assert loss_spec("cosine") == {"name": "cosine", "t": 0.2}
    for bad in (
        {"name": "loss_sum", "terms": []},
        {"name": "loss_sum", "terms": [["cosine", 0]]},
        {"name": "loss_sum", "kernel": "cosine"},
    ):
        with pytest.raises(ValueError):
            loss_spec(bad)
