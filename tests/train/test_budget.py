"""The time-budget planner: its choice from given step times against an independent reading of
the rules, real short timings of real models, and real runs that print and record their plan."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from contrastlab.cli import main
from contrastlab.data.sources import load_source
from contrastlab.train.budget import (
    SMALL_IMAGE_LADDER,
    Candidate,
    Costs,
    RunShape,
    choose_plan,
    epoch_range,
    epochs_within,
    estimate,
    measure_costs,
)
from contrastlab.train.config import build_config, resolve

from .conftest import TINY

SHAPE = RunShape(train_size=2000, test_size=500, steps_per_epoch=7, monitor_bank=2000)
SMALL, MEDIUM, LARGE = (Candidate("small_cnn", (8 * 2**i, 16 * 2**i)) for i in range(3))


def reference_seconds(costs: Costs, shape: RunShape, epochs: int) -> float:
    """The estimate written out by hand: monitors at epochs every, 2 every, ... and the last;
    a checkpoint every epoch; the final pass over both splits and the probe."""
    every = shape.monitor_every or max(1, math.ceil(epochs / 10))
    monitor_epochs = [e for e in range(1, epochs + 1) if e % every == 0 or e == epochs]
    per_pass = (shape.monitor_bank + shape.test_size) * costs.forward_per_image
    return (
        shape.startup
        + epochs * shape.steps_per_epoch * costs.step
        + len(monitor_epochs) * per_pass
        + epochs * costs.checkpoint
        + (shape.train_size + shape.test_size) * costs.forward_per_image
        + costs.probe
    )


@pytest.mark.parametrize("epochs", [1, 7, 10, 11, 23, 100])
def test_the_estimate_follows_its_formula(epochs: int) -> None:
    costs = Costs(step=0.3, forward_per_image=1e-3, checkpoint=0.05, probe=4.0)
    shape = RunShape(2000, 500, 7, monitor_bank=1000, startup=12.0)
    train, total = estimate(costs, shape, epochs)
    assert train == pytest.approx(epochs * 7 * 0.3)
    assert total == pytest.approx(reference_seconds(costs, shape, epochs))


def test_epochs_within_is_the_most_that_fit() -> None:
    costs = Costs(step=0.2, forward_per_image=2e-4, checkpoint=0.01, probe=1.0)
    for budget in (5.0, 60.0, 333.0):
        found = epochs_within(costs, SHAPE, budget, most=400)
        fitting = [e for e in range(401) if reference_seconds(costs, SHAPE, e) <= budget]
        assert found == max(fitting, default=0)


def test_the_largest_candidate_that_trains_the_least_epochs_is_picked() -> None:
    least, most = epoch_range(SHAPE.train_size)
    assert (least, most) == (150, 500)  # 300,000 and 1,000,000 pairs over 2,000 samples
    budget = 600.0
    # seconds per step: SMALL fits 500 epochs, MEDIUM about 150, LARGE about 20 in 90 % of it
    measured = [(SMALL, Costs(0.05)), (MEDIUM, Costs(0.5)), (LARGE, Costs(4.0))]
    plan = choose_plan(measured, SHAPE, budget)
    assert plan.candidate == MEDIUM and plan.fits and plan.chosen == "budget"
    filled = 0.9 * budget  # the plan leaves a tenth of the budget for the estimate's error
    assert plan.epochs == math.floor(filled / (7 * 0.5))  # = 154: 90 % of the budget, no more
    assert plan.estimate_seconds <= filled < reference_seconds(Costs(0.5), SHAPE, plan.epochs + 1)
    assert plan.budget_seconds == budget
    # a step a little slower and MEDIUM no longer trains its 150 epochs in 540 s: SMALL instead
    slower = [(SMALL, Costs(0.05)), (MEDIUM, Costs(0.55)), (LARGE, Costs(4.0))]
    assert choose_plan(slower, SHAPE, budget).candidate == SMALL
    assert plan.measured == {c.label: k.step for c, k in measured}
    # the smallest alone: the most epochs (the budget is not spent just because it is there)
    alone = choose_plan(measured[:1], SHAPE, budget, chosen="epochs from budget")
    assert alone.candidate == SMALL and alone.epochs == most and alone.fits


def test_the_search_stops_at_the_first_candidate_that_does_not_fit() -> None:
    measured = [(SMALL, Costs(0.05)), (MEDIUM, Costs(4.0)), (LARGE, Costs(0.06))]
    assert choose_plan(measured, SHAPE, 600.0).candidate == SMALL


def test_given_epochs_pick_the_largest_whose_run_fits() -> None:
    measured = [(SMALL, Costs(0.05)), (MEDIUM, Costs(1.0)), (LARGE, Costs(4.0))]
    plan = choose_plan(measured, SHAPE, 600.0, epochs=20)
    # 20 * 7 * 4 = 560 s: a given length may use the whole budget (no headroom)
    assert plan.candidate == LARGE and plan.epochs == 20 and plan.fits
    plan = choose_plan(measured, SHAPE, 500.0, epochs=20)
    assert plan.candidate == MEDIUM and plan.epochs == 20


def test_when_nothing_fits_the_smallest_runs_and_says_so() -> None:
    measured = [(SMALL, Costs(2.0)), (MEDIUM, Costs(8.0))]
    plan = choose_plan(measured, SHAPE, 60.0)
    assert plan.candidate == SMALL and not plan.fits and plan.epochs == 3  # 3 * 7 * 2 <= 54 s
    assert "over the budget" in plan.describe()
    tiny = choose_plan(measured, SHAPE, 1.0)
    assert tiny.epochs == 1 and not tiny.fits
    given = choose_plan(measured, SHAPE, 60.0, epochs=30)
    assert given.epochs == 30 and not given.fits


def test_without_a_budget_the_given_length_runs() -> None:
    plan = choose_plan([(LARGE, Costs(4.0))], SHAPE, None, epochs=100, chosen="given")
    assert plan.candidate == LARGE and plan.epochs == 100 and plan.fits
    assert plan.estimate_seconds == pytest.approx(reference_seconds(Costs(4.0), SHAPE, 100))
    assert "no budget" in plan.describe()
    with pytest.raises(ValueError, match="budget or a number of epochs"):
        choose_plan([(LARGE, Costs(4.0))], SHAPE, None)
    with pytest.raises(ValueError, match="at least one"):
        choose_plan([], SHAPE, 10.0)


def test_describe_reads_like_a_plan() -> None:
    plan = choose_plan([(SMALL, Costs(0.05))], SHAPE, 600.0, epochs=120)
    text = plan.describe()
    assert text.startswith("small_cnn 8-16, 120 epochs, about 42 s")  # 120 * 7 * 0.05
    assert "budget 10 min" in text and SMALL_IMAGE_LADDER[0].label == "small_cnn 32-64-128"


def test_real_timings_order_real_models_and_leave_the_rng_alone() -> None:
    digits = load_source("digits")
    config = build_config(None, ["train.threads=1", "optim.batch_size=256"])

    def costs_of(widths: list[int]) -> Costs:
        cfg = resolve(
            build_config(None, ["optim.batch_size=256", f"model.widths={widths}"]),
            digits,
            "cpu",
        )
        return measure_costs(cfg, digits, torch.device("cpu"), probe=True)

    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    small = costs_of([4, 8])
    assert torch.equal(torch.rand(3), expected)  # measuring draws from a forked generator
    large = costs_of([128, 256, 512])
    assert config["optim"]["batch_size"] == 256
    assert 0 < small.step and 0 < small.forward_per_image and 0 < small.checkpoint
    assert 0 < small.probe and 0 < large.probe
    # about 500 times the multiply-adds per image: no load on a shared machine hides that
    assert large.step > 3 * small.step
    assert large.forward_per_image > 3 * small.forward_per_image


def _train(tmp_path: Path, *args: str) -> tuple[dict, dict, str]:
    out = tmp_path / "run"
    code = main(["train", "--data", "digits", "--out", str(out), *args])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    config = yaml.safe_load((out / "config.yaml").read_text())
    return metrics, config, str(out)


def test_a_run_with_nothing_given_plans_from_the_budget(tmp_path: Path, capsys) -> None:
    sets = ["train.time_budget=4", "eval.linear_probe=false", "train.threads=1"]
    metrics, config, _ = _train(tmp_path, *[f"--set={s}" for s in sets])
    plan = metrics["plan"]
    err = capsys.readouterr().err
    assert f"plan: {plan['candidate']}, {plan['epochs']} epochs, about" in err
    # 4 s cannot hold the least epochs (100,000 pairs) of even the smallest candidate
    assert plan["chosen"] == "budget" and plan["fits"] is False
    assert plan["candidate"] == SMALL_IMAGE_LADDER[0].label
    assert list(plan["measured"]) == [plan["candidate"]]  # the next one was not worth timing
    assert config["model"]["backbone"] == "small_cnn"
    assert config["model"]["widths"] == list(SMALL_IMAGE_LADDER[0].widths or ())
    assert config["train"]["epochs"] == plan["epochs"] == metrics["epochs"] >= 1
    assert config["train"]["time_budget"] == 4.0
    assert 0 < plan["train_seconds"] < plan["estimate_seconds"]
    epoch_lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == plan["epochs"] and all(" left " in line for line in epoch_lines)


def test_given_model_and_epochs_are_kept_and_estimated(tmp_path: Path, capsys) -> None:
    sets = [*TINY, "eval.linear_probe=false", "monitor.every=1", "train.time_budget=600"]
    metrics, config, out = _train(tmp_path, "--epochs", "2", *[f"--set={s}" for s in sets])
    plan = metrics["plan"]
    assert plan["chosen"] == "given" and plan["epochs"] == 2 == config["train"]["epochs"]
    assert config["model"]["widths"] == [8, 16] and config["train"]["time_budget"] == 600.0
    assert "plan: small_cnn 8-16, 2 epochs, about" in capsys.readouterr().err
    lines = [json.loads(x) for x in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 2


def test_a_given_model_gets_its_epochs_from_the_budget(tmp_path: Path) -> None:
    sets = [*TINY, "eval.linear_probe=false", "monitor.knn=false", "train.time_budget=3"]
    assert "train.time_budget=null" in sets  # a later --set wins
    metrics, config, _ = _train(tmp_path, *[f"--set={s}" for s in sets])
    plan = metrics["plan"]
    assert plan["chosen"] == "epochs from budget" and plan["candidate"] == "small_cnn 8-16"
    least, most = epoch_range(metrics["train_size"])
    assert config["train"]["epochs"] == plan["epochs"] <= most
    assert plan["estimate_seconds"] <= 3.0 or not plan["fits"]


def test_a_null_budget_plans_nothing(tmp_path: Path, capsys) -> None:
    sets = [*TINY, "eval.linear_probe=false", "monitor.knn=false"]
    metrics, config, _ = _train(tmp_path, "--epochs", "1", *[f"--set={s}" for s in sets])
    assert "plan" not in metrics and "plan:" not in capsys.readouterr().err
    assert config["train"]["time_budget"] is None and config["train"]["epochs"] == 1


def test_threads_not_given_are_timed_and_the_faster_is_kept(tmp_path: Path) -> None:
    torch.set_num_threads(2)  # the autouse fixture restores the count afterwards
    sets = [f"--set={s}" for s in TINY if not s.startswith("train.threads")]
    sets += ["--set=train.time_budget=600", "--set=eval.linear_probe=false"]
    metrics, config, _ = _train(tmp_path, "--epochs", "1", *sets)
    plan = metrics["plan"]
    assert set(plan["thread_step_seconds"]) == {"1", "2"}
    one, two = plan["thread_step_seconds"]["1"], plan["thread_step_seconds"]["2"]
    assert plan["threads"] == (1 if one < two else None) == config["train"]["threads"]
    assert torch.get_num_threads() == 2  # the run's choice did not outlive it
