"""Bad parameters and bad inputs raise ValueError with a message that names the problem."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from contrastlab import kernels, losses


def _names(err: pytest.ExceptionInfo, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", str(err.value)) is not None


def _integers(err: pytest.ExceptionInfo) -> set[int]:
    return {int(x) for x in re.findall(r"\d+", str(err.value))}


@pytest.mark.parametrize(
    ("build", "parameter"),
    [
        (lambda: kernels.Cosine(0.0), "t"),
        (lambda: kernels.Cosine(-0.2), "t"),
        (lambda: kernels.Gaussian(0.0), "t"),
        (lambda: kernels.Laplacian(-1.0), "t"),
        (lambda: kernels.Exponential(gamma=1.0, t=0.0), "t"),
        (lambda: kernels.Exponential(gamma=2.5, t=0.5), "gamma"),
        (lambda: kernels.Exponential(gamma=0.0, t=0.5), "gamma"),
        (lambda: kernels.Exponential(gamma=-1.0, t=0.5), "gamma"),
        (lambda: kernels.Cosine(float("nan")), "t"),
        (lambda: kernels.Laplacian(float("inf")), "t"),
        (lambda: kernels.StudentT(nu=0.0, s=1.0), "nu"),
        (lambda: kernels.StudentT(nu=-2.0, s=1.0), "nu"),
        (lambda: kernels.StudentT(nu=5.0, s=0.0), "s"),
        (lambda: kernels.Cauchy(-1.0), "s"),
        (
            lambda: kernels.KernelSum([kernels.Gaussian(), kernels.Laplacian()], [1.0, 0.0]),
            "weights",
        ),
        (
            lambda: kernels.KernelSum([kernels.Gaussian(), kernels.Laplacian()], [-1.0, 1.0]),
            "weights",
        ),
        (
            lambda: kernels.Concat(
                [kernels.Gaussian(), kernels.Laplacian()], [4, 4], mode="loss", weights=[0.5, -0.5]
            ),
            "weights",
        ),
        (lambda: losses.LossSum([(kernels.Gaussian(), 1.0), (kernels.Laplacian(), 0.0)]), "weight"),
        (lambda: losses.LossSum([(kernels.Gaussian(), -0.5)]), "weight"),
        (lambda: losses.KernelInfoNCE(kernels.Cosine(0.2), normalize=False), "normalize"),
        (lambda: losses.KernelInfoNCE(kernels.Laplacian(), block_size=0), "block_size"),
        (lambda: losses.KernelInfoNCE(kernels.Laplacian(), path="sparse"), "path"),
        (lambda: losses.KernelInfoNCE(kernels.Laplacian(), backward="twice"), "backward"),
    ],
)
def test_bad_parameter_names_the_parameter(build, parameter) -> None:
    with pytest.raises(ValueError) as err:
        build()
    # the parameter as a word ("weight" may also be written "weights")
    assert re.search(rf"\b{parameter}s?\b", str(err.value)), str(err.value)


@pytest.mark.parametrize(
    ("build", "value", "bound"),
    [
        (lambda: kernels.Laplacian(-1.5), "-1.5", "0"),
        (lambda: kernels.Exponential(gamma=-1.5, t=0.5), "-1.5", "2"),
        (lambda: kernels.Exponential(gamma=3.5, t=0.5), "3.5", "2"),
        (lambda: kernels.StudentT(nu=-3.5, s=1.0), "-3.5", "0"),
    ],
)
def test_bad_parameter_message_states_the_allowed_range(build, value, bound) -> None:
    # the allowed range is (0, inf) for t and nu, (0, 2] for gamma: with the bad value itself
    # removed from the message, the range's bound must still be there
    with pytest.raises(ValueError) as err:
        build()
    assert bound in str(err.value).replace(value, ""), str(err.value)


def test_split_not_summing_to_dimension() -> None:
    kernel = kernels.Concat([kernels.Laplacian(0.5), kernels.Gaussian(0.4)], split=[3, 3])
    z = torch.randn(4, 8, dtype=torch.float64)
    for module in (losses.KernelInfoNCE(kernel), losses.KernelCLIPLoss(kernel)):
        with pytest.raises(ValueError) as err:
            module(z, z + 1)
        assert _names(err, "split"), str(err.value)
        assert 8 in _integers(err), str(err.value)


@pytest.mark.parametrize("name", ["gausian", "cosine_similarity", "t-sne"])
def test_unknown_kernel_name(name) -> None:
    for build in (losses.KernelInfoNCE, losses.KernelCLIPLoss, kernels.from_name):
        with pytest.raises(ValueError) as err:
            build(name)
        assert name in str(err.value), str(err.value)


LOSSES = {
    "infonce": lambda: losses.KernelInfoNCE(kernels.Laplacian(0.5)),
    "infonce_blockwise": lambda: losses.KernelInfoNCE(
        kernels.Laplacian(0.5), path="blockwise", block_size=2
    ),
    "loss_sum": lambda: losses.LossSum([(kernels.Gaussian(0.4), 0.5), (kernels.Cauchy(), 0.5)]),
    "clip": lambda: losses.KernelCLIPLoss(kernels.Cosine(0.2)),
}


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize(
    ("shape1", "shape2"),
    [((4, 8), (5, 8)), ((6, 8), (6, 7)), ((5, 9), (5, 9, 1))],
)
def test_mismatched_shapes(name, shape1, shape2) -> None:
    with pytest.raises(ValueError) as err:
        LOSSES[name]()(torch.randn(*shape1), torch.randn(*shape2))
    assert set(shape1) | set(shape2) <= _integers(err), str(err.value)


@pytest.mark.parametrize("name", list(LOSSES))
def test_one_dimensional_input(name) -> None:
    with pytest.raises(ValueError):
        LOSSES[name]()(torch.randn(8), torch.randn(8))


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("batch", [0, 1])
def test_fewer_than_two_samples(name, batch) -> None:
    with pytest.raises(ValueError):
        LOSSES[name]()(torch.randn(batch, 8), torch.randn(batch, 8))


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("which", [0, 1])
def test_non_finite_embeddings_report_the_count(name, which) -> None:
    z = [torch.randn(6, 8), torch.randn(6, 8)]
    bad = z[which].view(-1)
    bad[[3, 17]] = float("nan")
    bad[[5, 30, 41]] = float("inf")
    bad[44] = float("-inf")
    with pytest.raises(ValueError) as err:
        LOSSES[name]()(*z)
    assert 6 in _integers(err), f"count of bad values (6) not in: {err.value}"


def test_soft_target_bad_inputs() -> None:
    z = torch.randn(5, 3, dtype=torch.float64)
    p = torch.full((5, 5), 0.25, dtype=torch.float64).fill_diagonal_(0.0)
    kernel = kernels.Cauchy()
    with pytest.raises(ValueError) as err:
        losses.soft_target_infonce(z, p[:, :4], kernel)
    assert {5, 4} <= _integers(err), str(err.value)
    with pytest.raises(ValueError):
        losses.soft_target_infonce(z[:1], p[:1, :1], kernel)
    z_bad = z.clone()
    z_bad[1, 2] = float("nan")
    z_bad[3, 0] = float("nan")
    with pytest.raises(ValueError) as err:
        losses.soft_target_infonce(z_bad, p, kernel)
    assert 2 in _integers(err), str(err.value)
    with pytest.raises(ValueError):
        losses.soft_target_infonce(z, p, "no_such_kernel")


def test_valid_edge_values_are_accepted() -> None:
    # the ends of the allowed ranges: gamma = 2 is allowed, tiny positive values too
    z = torch.tensor(np.random.default_rng(0).normal(size=(4, 6)))
    for kernel in (
        kernels.Exponential(gamma=2.0, t=0.5),
        kernels.Exponential(gamma=1e-3, t=0.5),
        kernels.StudentT(nu=1e-3, s=1e-3),
    ):
        assert torch.isfinite(losses.KernelInfoNCE(kernel)(z, z + 0.1))
