"""Configuration: YAML files, overrides, the ``auto`` rules; every shipped config runs a step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from contrastlab.data.sources import load_source
from contrastlab.errors import InputError
from contrastlab.specs import loss_spec
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import AUTO, build_config, dump, resolve
from contrastlab.train.trainer import load_data, train

CONFIGS = sorted((Path(__file__).parents[2] / "src/contrastlab/configs").glob("*.yaml"))


def test_yaml_then_set_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("optim:\n  lr: 0.5\n  name: sgd\ntrain:\n  epochs: 7\n")
    config = build_config(
        file, ["optim.lr=0.25", "model.widths=[4, 8]"], **{"train.epochs": 3, "data.source": None}
    )
    assert config["optim"]["lr"] == 0.25 and config["optim"]["name"] == "sgd"
    assert config["train"]["epochs"] == 3 and config["model"]["widths"] == [4, 8]
    assert config["data"]["source"] == "digits"
    file.write_text("optim:\n  learning_rate: 0.5\n")
    with pytest.raises(InputError, match="unknown setting 'optim.learning_rate'"):
        build_config(file)
    file.write_text("- just\n- a list\n")
    with pytest.raises(InputError, match="expected a mapping"):
        build_config(file)
    with pytest.raises(InputError, match="not found"):
        build_config(tmp_path / "absent.yaml")
    with pytest.raises(InputError, match="unknown setting"):
        build_config(None, ["optim.momentun=0.5"])


def test_auto_rules_follow_the_data(tmp_path: Path) -> None:
    digits = load_source("digits")
    config = resolve(build_config(), digits, "cpu")
    assert config.model.backbone == "small_cnn" and config.augment.preset == "small_gray"
    assert config.train.epochs == round(300_000 / 1437)
    assert config.optim.name == "adamw" and config.optim.lr == pytest.approx(2e-3)
    assert AUTO not in dump(config)
    assert config.augment.mean is not None and config.augment.std is not None
    assert len(config.augment.mean) == 1 and 0 < config.augment.std[0] < 1
    path = tmp_path / "c.npz"
    rng = np.random.default_rng(0)
    np.savez(
        path, images=rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), labels=np.arange(40) % 2
    )
    colour = resolve(
        build_config(None, ["optim.batch_size=64"]), load_source(f"npz:{path}"), "cuda", 2
    )
    assert colour.model.backbone == "resnet18" and colour.model.cifar_stem is True
    assert colour.augment.preset == "cifar" and colour.train.epochs == 100
    assert colour.optim.batch_size == 32  # capped at the 32 training images
    with pytest.raises(InputError, match="not divisible"):
        resolve(build_config(None, ["optim.batch_size=15"]), digits, "cpu", 2)
    with pytest.raises(InputError, match="optim.lr must be a number"):
        resolve(build_config(None, ["optim.lr=-1"]), digits, "cpu")
    with pytest.raises(InputError, match="train.epochs must be a whole number"):
        resolve(build_config(None, ["train.epochs=0"]), digits, "cpu")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_each_shipped_config_runs_one_step(path: Path, tmp_path: Path) -> None:
    recipe = yaml.safe_load(path.read_text())
    # the file says which network it is: ResNet-50 (the official Kernel-InfoNCE default) or
    # the project's ResNet-18 recipe, never "the papers' recipe" for a ResNet-18
    backbone = "resnet50" if path.stem.endswith("_resnet50") else "resnet18"
    # SimCLR recipes train with LARS; the MoCo recipes with their authors' SGD
    moco = recipe["loss"].get("method") == "moco"
    assert recipe["model"]["backbone"] == backbone
    assert recipe["optim"]["name"] == ("sgd" if moco else "lars")
    header = path.read_text().split("\ndata:")[0]
    assert f"ResNet-{backbone[6:]}" in header and "The papers' recipe" not in header
    if backbone == "resnet50":
        assert recipe["model"]["projector_layers"] == 2 and "official code" in header
    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    np.savez(
        data,
        images=rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8),
        labels=np.arange(10) % 2,
        test_images=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8),
        test_labels=np.arange(4) % 2,
    )
    config = build_config(
        path,
        [
            "train.progress=false",
            "eval.linear_probe=false",
            "eval.raw_baseline=false",
            "monitor.knn=false",
        ],
        **{"data.source": f"npz:{data}", "optim.batch_size": 8, "train.epochs": 1},
    )
    metrics = train(config, tmp_path / "run", log=lambda _: None)
    assert metrics["history"][0]["step"] == 1 and np.isfinite(metrics["history"][0]["loss"])
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["epoch"] == 1
    if moco:  # the one step's 8 keys are in the queue, which travels in the checkpoint
        assert int(state["moco"]["queue.filled"]) == 8
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    # the recipe's kernel, written as its canonical mapping
    assert written["loss"]["kernel"] == loss_spec(recipe["loss"]["kernel"], 128)
    assert written["model"]["projector_layers"] == recipe["model"]["projector_layers"]


def test_data_settings_reach_the_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "pictures"
    for name in ("a", "b", "c"):
        (root / name).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(root / name / f"{i}.png")
    sets = ["data.test_fraction=0.5", "data.split_seed=3", "data.image_size=6"]
    data = load_data(build_config(None, sets, **{"data.source": f"folder:{root}"}))
    assert tuple(data.sample_shape) == (3, 6, 6) and len(data.test_x) == 15
    same = load_source(f"folder:{root}", test_fraction=0.5, split_seed=3, image_size=6)
    other = load_source(f"folder:{root}", test_fraction=0.5, split_seed=0, image_size=6)
    assert torch.equal(data.test_x, same.test_x) and torch.equal(data.test_y, same.test_y)
    assert not torch.equal(data.test_x, other.test_x)  # the seed decides the split
    # data.root and data.download: a torchvision set absent from that root, on an offline machine
    for proxy in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")  # a closed port: downloads fail at once
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    empty = tmp_path / "empty"
    for download, message in (("false", "downloading is off"), ("true", "download failed")):
        sets = [f"data.root={empty}", f"data.download={download}"]
        with pytest.raises(InputError, match=message) as error:
            load_data(build_config(None, sets, **{"data.source": "mnist"}))
        assert str(empty) in str(error.value)


def test_build_config_base_is_applied_before_the_users_overrides() -> None:
    from contrastlab.train.config import build_config

    config = build_config(
        None,
        ["optim.batch_size=32"],
        base={"optim": {"batch_size": 64, "lr": 0.5}, "train": {"epochs": 3}},
    )
    assert config["optim"]["batch_size"] == 32  # the user's word wins
    assert config["optim"]["lr"] == 0.5
    assert config["train"]["epochs"] == 3


def test_find_config_takes_a_path_or_a_shipped_recipe_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contrastlab.train.config import find_config, packaged_configs

    monkeypatch.chdir(tmp_path)  # nothing named like a recipe here
    shipped = sorted(p.stem for p in CONFIGS)
    assert packaged_configs() == shipped and "cifar10_cosine" in shipped
    by_name, by_file_name = find_config("cifar10_cosine"), find_config("cifar10_cosine.yaml")
    assert by_name == by_file_name and by_name.read_text() == CONFIGS[1].read_text()
    own = tmp_path / "cifar10_cosine.yaml"  # a file that exists wins over the recipe
    own.write_text("train:\n  epochs: 3\n")
    assert find_config(own) == own and find_config("cifar10_cosine.yaml") == Path(own.name)
    with pytest.raises(InputError, match="not found") as error:
        find_config("cifar10_cosinus")
    assert all(name in str(error.value) for name in shipped)  # the message lists the recipes
    with pytest.raises(InputError, match="not found"):
        find_config(tmp_path / "sub" / "cifar10_laplacian.yaml")  # a path is not a name


def test_kernel_spec_normalised_with_the_final_projector_width() -> None:
    # concat given before model.projector_dim: its even split follows the final width
    config = build_config(None, ["loss.kernel=concat", "model.projector_dim=64"])
    assert config["loss"]["kernel"]["split"] == [32, 32]
    assert config["loss"]["kernel"] == loss_spec("concat", 64)
    uneven = "loss.kernel={name: concat, kernels: [laplacian, gaussian], split: [100, 28]}"
    with pytest.raises(InputError, match="projector_dim is 64"):
        build_config(None, [uneven, "model.projector_dim=64"])
    # a string becomes its mapping, defaults filled in (StudentT's documented s = 0.2)
    written = build_config(None, ["loss.kernel=student_t:nu=5"])["loss"]["kernel"]
    assert written == {"name": "student_t", "nu": 5.0, "s": 0.2}
    with pytest.raises(InputError, match="loss.kernel"):
        build_config(None, ["loss.kernel=laplacian:tau=1"])
