"""The kernel comparison: its statistics, its rule, its configs, and ``reproduce kernels`` end to
end at a tiny size."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import torch

from contrastlab.cli import main
from contrastlab.experiments.kernels import Settings, compute
from contrastlab.experiments.kernels import claims as experiment
from contrastlab.settings import from_mapping
from contrastlab.specs import kernel_spec
from contrastlab.train.components import build_kernel


def _runs(linear: dict[str, list[float]]) -> dict[str, list[dict[str, float]]]:
    """Per-run rows with the given linear accuracies; the other scores are offset copies."""
    return {
        name: [
            {
                "seed": i,
                "linear_top1": v,
                "knn_top1_k20": v - 0.01,
                "knn_top1_k200": v - 0.02,
                "train_seconds": 1.0 + i,
                "images_per_second": 100.0 * (i + 1),
            }
            for i, v in enumerate(values)
        ]
        for name, values in linear.items()
    }


def test_summary_is_mean_and_sample_sd_over_seeds():
    values = [0.91, 0.95, 0.90]
    summary = compute.summarise(_runs({"cosine": values}))["cosine"]
    assert summary["linear_top1_mean"] == pytest.approx(statistics.fmean(values), abs=1e-12)
    assert summary["linear_top1_sd"] == pytest.approx(statistics.stdev(values), abs=1e-12)
    assert summary["knn_top1_k200_mean"] == pytest.approx(statistics.fmean(values) - 0.02)
    assert summary["train_seconds_sd"] == pytest.approx(1.0)  # stdev of 1, 2, 3
    assert summary["n"] == 3


def test_claim_gain_and_pooled_standard_error_follow_the_rule():
    cosine, concat, kernel_sum = [0.90, 0.92, 0.91], [0.95, 0.93, 0.96], [0.92, 0.90, 0.91]
    claim = experiment.comparison_claim(
        compute.summarise(_runs({"cosine": cosine, "concat": concat, "kernel_sum": kernel_sum}))
    )
    gain = statistics.fmean(concat) - statistics.fmean(cosine)
    se = math.sqrt(statistics.variance(concat) / 3 + statistics.variance(cosine) / 3)
    ev = claim.evidence
    assert claim.id == "kernel_comparison"
    assert ev["best_mixture_gain"] == pytest.approx(gain, abs=1e-12)
    assert ev["pooled_standard_error"] == pytest.approx(se, abs=1e-12)
    assert ev["best_mixture_is_concat"] == 1.0
    assert ev["linear_mean.kernel_sum"] == pytest.approx(0.91)
    assert claim.supported is (gain > experiment.GAIN_IN_STANDARD_ERRORS * se) is True


def test_claim_not_supported_when_the_gain_is_within_the_noise():
    claim = experiment.comparison_claim(
        compute.summarise(_runs({"cosine": [0.90, 0.96], "kernel_sum": [0.94, 0.93]}))
    )
    # gain 0.005, standard error about 0.022: not a difference the seeds can tell.
    assert claim.evidence["best_mixture_gain"] == pytest.approx(0.005)
    assert claim.supported is False
    assert "student_t_gain" not in claim.evidence


def test_every_kernel_spec_builds_and_heavy_tails_skip_the_sphere():
    specs = {spec["name"]: spec for spec in Settings().kernels}
    for name, spec in specs.items():
        kernel = build_kernel(spec, 128)
        assert (kernel.normalization == "none") is (name in ("student_t", "cauchy")), name
    z1, z2 = torch.randn(8, 128, dtype=torch.float64), torch.randn(8, 128, dtype=torch.float64)
    gaussian = build_kernel(specs["gaussian"])
    cosine = build_kernel(specs["cosine"])
    from contrastlab.losses import KernelInfoNCE

    # gaussian(t=0.4) is cosine(t=0.2) on the sphere: the report says so, check it.
    assert KernelInfoNCE(kernel=gaussian)(z1, z2).item() == pytest.approx(
        KernelInfoNCE(kernel=cosine)(z1, z2).item(), rel=1e-10
    )


def test_full_scale_reads_the_gpu_configs_and_swaps_kernels_without_one():
    settings = from_mapping(Settings, {"data": "cifar100", "full_epochs": 200})
    own = compute.run_config(settings, "kernel_sum", seed=3, full=True)
    assert own["loss"]["kernel"] == kernel_spec("kernel_sum") and own["optim"]["name"] == "lars"
    assert own["data"]["source"] == "cifar100" and own["train"]["epochs"] == 200
    assert own["model"]["backbone"] == "resnet18" and own["train"]["seed"] == 3
    swapped = compute.run_config(settings, "cauchy:s=1", seed=0, full=True)
    assert swapped["loss"]["kernel"] == kernel_spec("cauchy:s=1")
    assert swapped["optim"]["name"] == "lars"
    cpu = compute.run_config(settings, "cauchy:s=1", seed=0, full=False)
    assert cpu["model"]["backbone"] == "auto" and cpu["train"]["epochs"] == 40
    assert cpu["train"]["threads"] == 1 and cpu["optim"]["batch_size"] == 256


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without GPU")
def test_cifar_on_a_cpu_is_refused_before_any_work(tmp_path, capsys):
    code = main(["reproduce", "kernels", "--data", "cifar10", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a GPU" in err[0] and "scale=full" in err[0]
    assert not (tmp_path / "metrics.json").exists()


def test_full_scale_without_the_configs_folder_is_refused(tmp_path, capsys):
    args = ["reproduce", "kernels", "--quick", "--out", str(tmp_path / "out")]
    sets = ["--set", "scale=full", "--set", f"configs={tmp_path}"]
    assert main([*args, *sets]) == 2
    assert f"no cifar10_cosine.yaml in {tmp_path}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override, message",
    [
        ("kernels=[cosine, sinc]", "unknown ['sinc']"),
        ("kernels=[laplacian, concat]", "needs cosine"),
        ("seeds=1", "seeds: must be a whole number >= 2"),
        ("scale=gpu", "scale: must be auto, cpu or full"),
    ],
)
def test_bad_settings_exit_2_with_one_line(tmp_path, capsys, override, message):
    code = main(["reproduce", "kernels", "--quick", "--out", str(tmp_path), "--set", override])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_reproduce_kernels_tiny_end_to_end(tmp_path, capsys):
    out = tmp_path / "kernels"
    args = ["reproduce", "kernels", "--quick", "--out", str(out)]
    sets = ["kernels=[cosine, kernel_sum]", "epochs=1", "seeds=2", f"runs_dir={tmp_path / 'runs'}"]
    # A narrower CNN and projector keep the four runs to a few seconds each.
    sets.append('train_overrides=["model.widths=[8, 16, 16]", "model.projector_hidden=64"]')
    assert main([*args, *(x for s in sets for x in ("--set", s))]) == 0
    assert "kernel_comparison:" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["experiment"] == "kernels" and metrics["scale"] == "cpu"
    (claim,) = metrics["claims"]
    assert claim["id"] == "kernel_comparison"
    ev = claim["evidence"]
    for name in ("cosine", "kernel_sum"):
        rows = metrics["runs"][name]
        assert [r["seed"] for r in rows] == [0, 1]
        linear = [r["linear_top1"] for r in rows]
        assert ev[f"linear_mean.{name}"] == pytest.approx(statistics.fmean(linear))
        assert ev[f"linear_sd.{name}"] == pytest.approx(statistics.stdev(linear))
        assert all(0.0 <= r["knn_top1_k20"] <= 1.0 and r["epochs"] == 1 for r in rows)
    se = ev["pooled_standard_error"]
    assert claim["supported"] is (ev["best_mixture_gain"] > se)
    assert set(metrics["raw_inputs"]) == {"knn_top1_k20", "knn_top1_k200", "linear_top1"}
    saved = (tmp_path / "runs" / "kernel_sum_seed1" / "config.yaml").read_text()
    assert "name: kernel_sum" in saved and "projector_hidden: 64" in saved
    page = (out / "report.html").read_text()
    for text in ("90.74", "91.72", "68.62", "raw inputs", "Simple Sum", "is not CIFAR"):
        assert text in page


@pytest.mark.parametrize("full", [False, True])
def test_user_train_overrides_win_over_the_experiments_own_settings(full):
    # the bug: the experiment applied its kernel, epochs and batch size after these
    mine = ["loss.kernel.t=0.3", "train.epochs=7", "optim.batch_size=48", "train.threads=2"]
    settings = from_mapping(
        Settings, {"train_overrides": mine, "epochs": 40, "batch_size": 256, "full_epochs": 400}
    )
    config = compute.run_config(settings, "laplacian:t=0.5", seed=1, full=full)
    assert config["loss"]["kernel"] == {"name": "laplacian", "t": 0.3}
    assert config["train"]["epochs"] == 7 and config["optim"]["batch_size"] == 48
    assert config["train"]["threads"] == 2 and config["train"]["seed"] == 1
    # a whole kernel given by the user replaces the experiment's
    swapped = from_mapping(Settings, {"train_overrides": ["loss.kernel=cauchy:s=0.5"]})
    assert compute.run_config(swapped, "cosine", 0, full)["loss"]["kernel"] == {
        "name": "cauchy",
        "s": 0.5,
    }


def test_kernels_are_specs_in_any_form_and_bare_names_take_the_kernel_defaults():
    settings = from_mapping(
        Settings, {"kernels": ["cosine", {"name": "laplacian", "t": 0.3}, "student_t:s=1"]}
    )
    assert settings.kernels == (
        {"name": "cosine", "t": 0.2},
        {"name": "laplacian", "t": 0.3},
        {"name": "student_t", "nu": 5.0, "s": 1.0},
    )
    config = compute.run_config(settings, settings.kernels[1], seed=0, full=False)
    assert config["loss"]["kernel"] == {"name": "laplacian", "t": 0.3}
    assert config["train"]["epochs"] == 40 and config["optim"]["batch_size"] == 256


@pytest.mark.parametrize(
    "override, message",
    [
        ("kernels=[cosine, concat, 'cosine:t=0.5']", "['cosine'] twice"),
        ('train_overrides=["optim.no_such=1"]', "optim.no_such"),
        ("kernels=[cosine, 'laplacian:t=-1', concat]", "kernels[1]"),
    ],
)
def test_settings_the_runs_cannot_use_exit_2_before_any_work(tmp_path, capsys, override, message):
    code = main(["reproduce", "kernels", "--quick", "--out", str(tmp_path), "--set", override])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not any(tmp_path.iterdir())
