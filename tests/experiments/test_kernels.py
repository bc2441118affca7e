"""The kernel comparison: its statistics, its rule, its configs, and ``reproduce kernels`` end to
end at a tiny size."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
import torch
from scipy import stats

from contrastlab.cli import main
from contrastlab.experiments.kernels import Settings, compute
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
    assert cpu["model"]["backbone"] == "small_cnn" and cpu["train"]["epochs"] == 40
    assert cpu["train"]["threads"] == 1 and cpu["optim"]["batch_size"] == 256
    # every run the same fixed model and length: no timed plan that could pick another
    assert cpu["train"]["time_budget"] is None


def test_full_model_resnet50_reads_the_official_default_configs():
    settings = from_mapping(Settings, {"data": "cifar10", "full_model": "resnet50"})
    own = compute.run_config(settings, "kernel_sum", seed=0, full=True)
    assert own["model"]["backbone"] == "resnet50" and own["model"]["projector_layers"] == 2
    assert own["loss"]["kernel"] == kernel_spec("kernel_sum")
    other = compute.run_config(settings, "laplacian:t=0.5", seed=0, full=True)
    assert other["model"]["backbone"] == "resnet50"  # the cosine ResNet-50 file, kernel swapped
    assert other["loss"]["kernel"] == kernel_spec("laplacian:t=0.5")
    plain = compute.run_config(from_mapping(Settings, {"data": "cifar10"}), "cosine", 0, True)
    assert plain["model"]["backbone"] == "resnet18"


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
    # the verdict's paired test, recomputed from the runs by scipy
    linear = {n: [r["linear_top1"] for r in metrics["runs"][n]] for n in ("cosine", "kernel_sum")}
    reference = stats.ttest_rel(linear["kernel_sum"], linear["cosine"], alternative="greater")
    if np.isfinite(reference.pvalue):
        assert ev["p_one_sided.kernel_sum"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert ev["p_holm.kernel_sum"] == ev["p_one_sided.kernel_sum"]  # one mixture: no correction
    # two seeds (one degree of freedom) never rule out the effect asked: a gain that does not
    # pass leaves the claim inconclusive, one that passes below the ceiling supports it
    top = max(ev["linear_mean.cosine"], ev["linear_mean.kernel_sum"])
    passed = ev["p_holm.kernel_sum"] <= 0.02275 and top < 0.98
    assert (claim["supported"], claim["conclusive"]) == (passed, passed)
    assert metrics["rounds"] == 2 and metrics["stopped_by_budget"] is False
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


def test_a_users_npz_within_a_budget_stops_after_the_first_round(tmp_path, capsys):
    # a user's own colour images through --data npz:PATH; a budget of 0.001 minutes lets the
    # first round of seeds run and stops before the second, and the claim says why it cannot tell
    rng = np.random.default_rng(0)
    labels = np.arange(48) % 3
    images = rng.integers(0, 256, (48, 12, 12, 3), dtype=np.uint8)
    path = tmp_path / "mine.npz"
    np.savez(path, images=images, labels=labels)
    out = tmp_path / "out"
    sets = [
        "kernels=[cosine, concat]",
        "epochs=1",
        "seeds=3",
        "batch_size=16",
        "budget_minutes=0.001",
        'train_overrides=["model.widths=[4, 8, 8]", "model.projector_hidden=32"]',
    ]
    args = ["reproduce", "kernels", "--data", f"npz:{path}", "--out", str(out)]
    assert main([*args, *(x for s in sets for x in ("--set", s))]) == 0
    capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rounds"] == 1 and metrics["stopped_by_budget"] is True
    assert {n: len(r) for n, r in metrics["runs"].items()} == {"cosine": 1, "concat": 1}
    (claim,) = metrics["claims"]
    assert claim["conclusive"] is False and claim["evidence"]["seeds"] == 1.0
    page = (out / "report.html").read_text()
    assert "stopped by the budget" in page and "small_cnn" in page and "secondary" in page
