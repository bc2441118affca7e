"""``contrastlab train``, ``embed`` and ``demo`` end to end on digits, and every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from contrastlab.cli import main
from contrastlab.specs import loss_spec

TINY = [
    "--set",
    "model.widths=[8, 16]",
    "--set",
    "model.projector_hidden=32",
    "--set",
    "model.projector_dim=16",
    "--set",
    "train.threads=1",
]


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "runs" / "run"  # folders created as needed
    code = main(
        [
            "train",
            "--data",
            "digits",
            "--out",
            str(out),
            "--epochs",
            "2",
            "--batch-size",
            "128",
            "--kernel",
            "laplacian:t=0.5",
            "--quiet",
            *TINY,
        ]
    )
    assert code == 0
    return out


def test_train_writes_the_run_folder(run_dir: Path) -> None:
    assert {p.name for p in run_dir.iterdir()} >= {
        "config.yaml",
        "checkpoint.pt",
        "metrics.jsonl",
        "metrics.json",
        "report.html",
    }
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert "auto" not in (run_dir / "config.yaml").read_text()
    assert config["loss"]["kernel"] == {"name": "laplacian", "t": 0.5}  # canonical mapping
    assert config["train"]["epochs"] == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["final"]) == {"knn_top1_k20", "knn_top1_k200", "linear_top1"}
    assert all(0 <= v <= 1 for v in metrics["final"].values())
    assert metrics["epochs"] == 2 and metrics["images_per_second"] > 0 and metrics["seconds"] > 0
    assert set(metrics["raw_pixels"]) == set(metrics["final"])
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2] and "knn_top1_k20" in lines[-1]
    for record in lines:  # the documented fields of a record
        assert set(record) >= {"epoch", "step", "loss", "lr", "images", "step_seconds", "seconds"}
        assert record["images"] == (1437 // 128) * 128  # full global batches only
        assert record["images_per_second"] == pytest.approx(
            record["images"] / record["step_seconds"]
        )
        assert 0 < record["augment_share"] < 1 and 0 < record["step_seconds"] < record["seconds"]
    images, seconds = (sum(r[k] for r in lines) for k in ("images", "step_seconds"))
    assert metrics["images_per_second"] == pytest.approx(images / seconds)
    assert "<img" in (run_dir / "report.html").read_text()


def test_embed_gives_backbone_features(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.npz"
    assert main(["embed", "--run", str(run_dir), "--out", str(out)]) == 0
    with np.load(out) as saved:
        assert saved["features"].shape == (1797, 16) and saved["labels"].shape == (1797,)
        assert np.isfinite(saved["features"]).all() and set(saved["labels"]) == set(range(10))
    assert main(["embed", "--run", str(run_dir), "--split", "test", "--out", str(out)]) == 0
    with np.load(out) as saved:
        assert saved["features"].shape == (360, 16)


def _bad_npz(tmp_path: Path) -> Path:
    path = tmp_path / "flat.npz"
    np.savez(path, images=np.zeros((10, 64), np.uint8), labels=np.zeros(10, int))
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "npz:{tmp}/absent.npz", "--out", "{tmp}/o"], "file not found"),
        (["train", "--data", "npz:{bad}", "--out", "{tmp}/o"], "expected N x H x W"),
        (["train", "--data", "folder:{tmp}/none", "--out", "{tmp}/o"], "folder not found"),
        (["train", "--kernel", "gaussianish", "--out", "{tmp}/o"], "unknown kernel"),
        (["train", "--kernel", "laplacian:t=-1", "--out", "{tmp}/o"], "t must be"),
        (["train", "--set", "optim.lrate=1", "--out", "{tmp}/o"], "unknown setting"),
        (["train", "--set", "optim.lr=-0.1", "--out", "{tmp}/o"], "optim.lr"),
        (["train", "--epochs", "0", "--out", "{tmp}/o"], "--epochs must be"),
        (["train", "--config", "{tmp}/absent.yaml", "--out", "{tmp}/o"], "config file"),
        (["train", "--resume", "--out", "{tmp}/o"], "no checkpoint.pt"),
        (["train", "--set", "augment.preset=vector", "--out", "{tmp}/o"], "is for vectors"),
        (["embed", "--run", "{tmp}/norun", "--out", "{tmp}/f.npz"], "not found"),
        (["demo", "--out", "{tmp}/o", "--epochs", "-1"], "--epochs must be"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_npz(tmp_path)
    argv = [a.format(tmp=tmp_path, bad=bad) for a in args]
    assert main([*argv, "--quiet"] if argv[0] == "train" else argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_corrupt_checkpoint_is_one_clear_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    data = (run_dir / "checkpoint.pt").read_bytes()
    (broken / "checkpoint.pt").write_bytes(data[: len(data) // 3])
    assert main(["train", "--out", str(broken), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "truncated or not a contrastlab checkpoint" in err
    assert main(["embed", "--run", str(broken), "--out", str(tmp_path / "f.npz")]) == 2
    assert "truncated" in capsys.readouterr().err


def test_demo_tiny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "1", "--quiet", *TINY]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["runs"]) == {"cosine", "student_t", "simple_sum"}
    for run in metrics["runs"].values():
        assert set(run["final"]) == {"knn_top1_k20", "knn_top1_k200", "linear_top1"}
        assert run["epochs"] == 1 and run["images_per_second"] > 0 and run["seconds"] > 0
    assert set(metrics["raw_pixels"]) == {"knn_top1_k20", "knn_top1_k200", "linear_top1"}
    assert metrics["raw_pixels"]["knn_top1_k20"] > 0.9  # raw-pixel kNN on digits is strong
    html = (out / "report.html").read_text()
    assert "raw pixels" in html and "<img" in html
    printed = capsys.readouterr().out
    assert "student_t" in printed and "simple_sum" in printed


def test_unlabelled_images_and_labelled_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = tmp_path / "unlabelled.npz"
    np.savez(images, images=rng.integers(0, 256, (40, 10, 10), dtype=np.uint8))
    out = tmp_path / "u"
    assert (
        main(
            [
                "train",
                "--data",
                f"npz:{images}",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--batch-size",
                "16",
                "--quiet",
                *TINY,
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final"] == {} and "no labels" in metrics["note"]
    vectors = tmp_path / "vectors.npz"
    np.savez(vectors, features=rng.normal(size=(60, 5)), labels=np.arange(60) % 3)
    out = tmp_path / "v"
    assert (
        main(
            [
                "train",
                "--data",
                str(vectors),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--batch-size",
                "16",
                "--quiet",
                "--set",
                "train.threads=1",
                "--set",
                "augment.mixup=0.3",
            ]
        )
        == 0
    )
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["model"]["backbone"] == "mlp" and config["augment"]["preset"] == "vector"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["final"]) == {"knn_top1_k20", "knn_top1_k200", "linear_top1"}
    assert "raw_features" in metrics


def test_offline_machine_asked_for_a_torchvision_dataset(tmp_path: Path) -> None:
    # Offline for real: every download goes to a closed port on this machine.
    closed = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "https_proxy": closed,
        "http_proxy": closed,
        "HTTPS_PROXY": closed,
        "HTTP_PROXY": closed,
        "no_proxy": "",
        "NO_PROXY": "",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "contrastlab",
            "train",
            "--data",
            "mnist",
            "--out",
            str(tmp_path / "o"),
            "--set",
            f"data.root={tmp_path / 'root'}",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "download failed" in result.stderr
    assert "offline?" in result.stderr and "Traceback" not in result.stderr


QUICK = [
    "--set",
    "monitor.knn=false",
    "--set",
    "eval.linear_probe=false",
    "--set",
    "eval.raw_baseline=false",
]


def test_config_file_then_set_overrides_drive_the_run(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "model:\n  widths: [8, 16]\n  projector_hidden: 32\n  projector_dim: 16\n"
        "loss:\n  kernel: 'student_t:nu=5,s=1'\n"
        "optim:\n  name: sgd\n  lr: 0.5\n  batch_size: 128\n  warmup_epochs: 1\n"
        "  min_lr_ratio: 0.5\n"
        "train:\n  epochs: 2\n  threads: 1\n"
    )
    out = tmp_path / "run"
    args = ["train", "--config", str(recipe), "--out", str(out), "--quiet"]
    assert main([*args, "--set", "optim.lr=0.02", *QUICK]) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["loss"]["kernel"] == {"name": "student_t", "nu": 5.0, "s": 1.0}
    assert config["model"]["widths"] == [8, 16]
    assert config["optim"]["name"] == "sgd" and config["optim"]["lr"] == 0.02  # --set wins
    assert config["train"]["epochs"] == 2 and config["optim"]["batch_size"] == 128
    # the file's schedule is the one applied: 11 steps an epoch, one of warm-up, floor 0.01
    logged = [json.loads(line)["lr"] for line in (out / "metrics.jsonl").open()]
    cosine = 0.01 + 0.01 * (1 + np.cos(np.pi * 10 / 11)) / 2  # step 21 of 22
    assert logged == pytest.approx([0.02, cosine], rel=1e-12)
    assert json.loads((out / "metrics.json").read_text())["kernel"].startswith("StudentT(")


def _tiny_colour_npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        images=rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8),
        labels=np.arange(10) % 2,
        test_images=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8),
        test_labels=np.arange(4) % 2,
    )
    return path


def test_a_shipped_config_with_tiny_overrides(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [
        "train",
        "--config",
        "cifar10_kernel_sum",
        "--data",
        f"npz:{_tiny_colour_npz(tmp_path)}",
    ]
    args += ["--out", str(out), "--epochs", "1", "--batch-size", "8", "--quiet", *QUICK]
    args += ["--set", "model.projector_hidden=32", "--set", "train.threads=1"]
    assert main(args) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["loss"]["kernel"] == loss_spec("kernel_sum") and config["optim"]["name"] == "lars"
    assert config["model"]["backbone"] == "resnet18" and config["model"]["projector_layers"] == 3
    assert config["model"]["projector_hidden"] == 32 and config["optim"]["batch_size"] == 8
    (record,) = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    # the recipe's lr 0.8 and 10 warm-up epochs: one step of 10 warm-up steps
    assert record["step"] == 1 and record["lr"] == pytest.approx(0.8 / 10)
    assert {p.name for p in out.iterdir()} >= {"checkpoint.pt", "metrics.json", "report.html"}


def test_kernel_loss_sum_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--kernel", "loss_sum", "--out", str(out), "--epochs", "1"]
    assert main([*args, "--batch-size", "128", "--quiet", *TINY, *QUICK]) == 0
    written = yaml.safe_load((out / "config.yaml").read_text())["loss"]["kernel"]
    assert written == loss_spec("loss_sum") and written["name"] == "loss_sum"
    metrics = json.loads((out / "metrics.json").read_text())
    # two separate losses, 0.5 L(exponential) + 0.5 L(gaussian), as the README documents
    first, second = metrics["kernel"].split(" + ")
    assert first.startswith("0.5 L(Exponential(") and second.startswith("0.5 L(Gaussian(")
    assert np.isfinite(metrics["history"][0]["loss"])


def test_folder_of_png_images(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "pictures"
    colours = {"blue": (0, 0, 200), "green": (0, 200, 0), "red": (200, 0, 0)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(12):
            pixels = np.clip(colour + rng.normal(0, 25, (12, 12, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "RGB").save(root / name / f"{i:02d}.png")
    out = tmp_path / "run"
    args = ["train", "--data", f"folder:{root}", "--out", str(out), "--epochs", "1"]
    args += ["--batch-size", "8", "--quiet", *TINY, "--set", "model.backbone=small_cnn"]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == f"folder:{root}"
    assert metrics["train_size"] + metrics["test_size"] == 36 and metrics["test_size"] > 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["augment"]["preset"] == "cifar" and len(config["augment"]["mean"]) == 3
    # labels follow the class folders: raw pixels of three colours are classified perfectly
    assert metrics["raw_pixels"]["knn_top1_k20"] == 1.0
    assert set(metrics["final"]) == {"knn_top1_k20", "knn_top1_k200", "linear_top1"}


def test_final_numbers_are_those_of_the_saved_backbone(tmp_path: Path) -> None:
    from contrastlab import analysis

    out = tmp_path / "run"
    sets = ["eval.knn_ks=[5, 200]", "eval.knn_temperature=2.0", "eval.raw_baseline=false"]
    args = ["train", "--out", str(out), "--epochs", "1", "--batch-size", "128", "--quiet", *TINY]
    assert main([*args, *[a for s in sets for a in ("--set", s)]]) == 0
    final = json.loads((out / "metrics.json").read_text())["final"]
    parts = {}
    for split in ("train", "test"):
        path = tmp_path / f"{split}.npz"
        assert main(["embed", "--run", str(out), "--split", split, "--out", str(path)]) == 0
        with np.load(path) as saved:
            parts[split] = (saved["features"], saved["labels"])
    (train_f, train_y), (test_f, test_y) = parts["train"], parts["test"]
    knn = analysis.knn_accuracy(train_f, train_y, test_f, test_y, ks=(5, 200), temperature=2.0)
    probe = analysis.linear_probe(train_f, train_y, test_f, test_y, seed=0)
    assert final == pytest.approx(
        {"knn_top1_k5": knn[5], "knn_top1_k200": knn[200], "linear_top1": probe.accuracy}
    )


def _trained_kernel(tmp_path: Path, *args: str) -> tuple[dict, str]:
    """config.yaml's loss.kernel and metrics.json's loss label of a 1-epoch tiny run."""
    out = tmp_path / "kernel-run"
    argv = ["train", "--out", str(out), "--epochs", "1", "--batch-size", "256", "--quiet"]
    assert main([*argv, *args, *TINY, *QUICK]) == 0
    written = yaml.safe_load((out / "config.yaml").read_text())["loss"]["kernel"]
    return written, json.loads((out / "metrics.json").read_text())["kernel"]


def test_set_reaches_the_kernel_temperature(tmp_path: Path) -> None:
    # --set loss.kernel.t=0.3 used to fail ("has no sub-keys"): the kernel is a mapping now.
    written, label = _trained_kernel(tmp_path, "--set", "loss.kernel.t=0.3")
    assert written == {"name": "cosine", "t": 0.3} and label == "Cosine(t=0.3)"
    # below a flag's key a --set refines the flag: the Laplacian kernel at t = 0.3
    written, label = _trained_kernel(
        tmp_path, "--kernel", "laplacian", "--set", "loss.kernel.t=0.3"
    )
    assert written == {"name": "laplacian", "t": 0.3} and label.startswith("Laplacian(t=0.3,")
    # a flag and a --set of the same key that agree are fine
    written, _ = _trained_kernel(
        tmp_path, "--kernel", "laplacian", "--set", "loss.kernel=laplacian"
    )
    assert written == {"name": "laplacian", "t": 0.5}


@pytest.mark.parametrize(
    ("args", "flag", "setting"),
    [
        # used to train at t = 0.5 without a word (flags were applied after --set)
        (["--kernel", "laplacian", "--set", "loss.kernel=laplacian:t=0.3"], "--kernel laplacian",
         "--set loss.kernel=laplacian:t=0.3"),
        (["--epochs", "1", "--set", "train.epochs=2"], "--epochs 1", "--set train.epochs=2"),
        (["--batch-size", "64", "--set", "optim={batch_size: 32}"], "--batch-size 64",
         "--set optim={batch_size: 32}"),
    ],
)  # fmt: skip
def test_a_flag_and_a_set_that_disagree_is_one_line_naming_both(
    args: list[str], flag: str, setting: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    rng = np.random.default_rng(0)  # tiny data, so that a run that wrongly starts ends soon
    np.savez(tmp_path / "v.npz", features=rng.normal(size=(40, 4)), labels=np.arange(40) % 2)
    tiny = ["--set", f"data.source=npz:{tmp_path / 'v.npz'}", *TINY, *QUICK]
    assert main(["train", "--out", str(out), "--quiet", *args, *tiny]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and setting in err and "Traceback" not in err
    assert not out.exists()  # refused before any work
