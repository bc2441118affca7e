"""Optimisers and schedules against hand-written references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from contrastlab.errors import InputError
from contrastlab.train.optim import LARS, build_optimizer, parameter_groups, warmup_cosine


def test_weight_decay_excludes_norms_and_biases() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    decay, no_decay = parameter_groups([model], 0.1)
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert {id(p) for p in no_decay["params"]} == {
        id(model[0].bias),
        id(model[1].weight),
        id(model[1].bias),
        id(model[3].bias),
    }
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    adamw = build_optimizer("adamw", parameter_groups([model], 0.1), lr=1e-3)
    assert [g["weight_decay"] for g in adamw.param_groups] == [0.1, 0.0]


def test_warmup_then_cosine() -> None:
    lrs = [warmup_cosine(s, 100, 10, 1.0, 0.1) for s in range(100)]
    np.testing.assert_allclose(lrs[:10], np.arange(1, 11) / 10)
    for step in (10, 40, 77, 99):
        progress = (step - 10) / 90
        assert math.isclose(lrs[step], 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
    assert warmup_cosine(100, 100, 10, 1.0) == 0.0
    # a one-step warm-up: the base rate at step 0, then the cosine from there
    assert warmup_cosine(0, 5, 1, 2.0) == 2.0
    assert math.isclose(warmup_cosine(3, 5, 1, 2.0), 1.0 + math.cos(math.pi * 2 / 4))


def test_each_optimiser_starts_at_the_given_rate_and_momentum() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    for name in ("sgd", "lars", "adamw"):
        optimizer = build_optimizer(name, parameter_groups([model], 0.1), lr=0.25, momentum=0.5)
        assert [g["lr"] for g in optimizer.param_groups] == [0.25, 0.25], name
        if name != "adamw":  # AdamW has betas, not momentum
            assert [g["momentum"] for g in optimizer.param_groups] == [0.5, 0.5], name


def test_lars_matches_a_numpy_reference() -> None:
    torch.manual_seed(0)
    weight = nn.Parameter(torch.randn(3, 4, dtype=torch.float64))
    bias = nn.Parameter(torch.randn(3, dtype=torch.float64))
    groups = [
        {"params": [weight], "weight_decay": 0.01, "lars_exclude": False},
        {"params": [bias], "weight_decay": 0.0, "lars_exclude": True},
    ]
    optimizer = LARS(groups, lr=0.5, momentum=0.9, eta=1e-3)
    w, b = weight.detach().numpy().copy(), bias.detach().numpy().copy()
    vw, vb = None, None
    for _ in range(3):
        grads = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
        weight.grad, bias.grad = grads[0].clone(), grads[1].clone()
        optimizer.step()
        gw = grads[0].numpy() + 0.01 * w
        gw = gw * 1e-3 * np.linalg.norm(w) / np.linalg.norm(gw)
        gb = grads[1].numpy()
        vw = gw if vw is None else 0.9 * vw + gw
        vb = gb if vb is None else 0.9 * vb + gb
        w, b = w - 0.5 * vw, b - 0.5 * vb
        np.testing.assert_allclose(weight.detach().numpy(), w, rtol=1e-12)
        np.testing.assert_allclose(bias.detach().numpy(), b, rtol=1e-12)


def _lars_reference(w: np.ndarray, grads: list[np.ndarray], lr: float, wd: float, adapt: bool):
    """SimCLR's LARS with momentum 0.9 and trust coefficient 1e-3, in float64 NumPy."""
    v = None
    for g in grads:
        g = g + wd * w
        if adapt:
            g = g * 1e-3 * np.linalg.norm(w) / np.linalg.norm(g)
        v = g if v is None else 0.9 * v + g
        w = w - lr * v
    return w


def test_lars_as_the_trainer_builds_it_and_its_defaults() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(4, 3).double()
    w0, b0 = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
    grads = [(torch.randn(3, 4, dtype=torch.float64), torch.randn(3, dtype=torch.float64))]
    grads.append((torch.randn(3, 4, dtype=torch.float64), torch.randn(3, dtype=torch.float64)))
    # build_optimizer("lars"): weights decayed and adapted, the bias neither (SimCLR)
    optimizer = build_optimizer("lars", parameter_groups([layer], 0.01), lr=0.5)
    for gw, gb in grads:
        layer.weight.grad, layer.bias.grad = gw.clone(), gb.clone()
        optimizer.step()
    weights = _lars_reference(w0, [g[0].numpy() for g in grads], 0.5, 0.01, adapt=True)
    bias = _lars_reference(b0, [g[1].numpy() for g in grads], 0.5, 0.0, adapt=False)
    np.testing.assert_allclose(layer.weight.detach().numpy(), weights, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.detach().numpy(), bias, rtol=1e-12)
    # LARS(params, lr) alone: momentum 0.9, no weight decay, eta 1e-3, every tensor adapted
    plain = nn.Parameter(torch.from_numpy(w0.copy()))
    alone = LARS([plain], lr=0.5)
    for gw, _ in grads:
        plain.grad = gw.clone()
        alone.step()
    expected = _lars_reference(w0, [g[0].numpy() for g in grads], 0.5, 0.0, adapt=True)
    np.testing.assert_allclose(plain.detach().numpy(), expected, rtol=1e-12)


def test_an_unknown_optimiser_is_named_in_one_line() -> None:
    with pytest.raises(InputError, match="unknown optimiser 'adam'; choose from sgd, lars, adamw"):
        build_optimizer("adam", parameter_groups([nn.Linear(2, 2)], 0.0), lr=0.1)
