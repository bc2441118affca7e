"""Optimisers and schedules against hand-written references."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

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
