"""A wheel install (not ``pip install -e``) finds the shipped recipes: ``configs/`` is package data.

The wheel is built from a copy of the source tree and unpacked into a folder of its own; the
command runs from another folder with only that folder on ``PYTHONPATH``, so neither the
repository nor an editable install can supply the configs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

RUN = """
import sys
import contrastlab
from contrastlab.cli import main
assert contrastlab.__file__.startswith(sys.argv[1]), contrastlab.__file__
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_wheel_install_trains_from_a_packaged_recipe_by_name(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("contrastlab-*.whl")
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    assert (installed / "contrastlab" / "configs" / "cifar10_cosine.yaml").is_file()

    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    np.savez(
        data,
        images=rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8),
        labels=np.arange(10) % 2,
        test_images=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8),
        test_labels=np.arange(4) % 2,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = elsewhere / "run"
    sets = ["model.projector_hidden=16", "monitor.knn=false", "eval.linear_probe=false",
            "eval.raw_baseline=false", "train.threads=1", "optim.batch_size=8", "train.epochs=1",
            f"data.source=npz:{data}"]  # fmt: skip
    argv = ["train", "--config", "cifar10_cosine", "--out", str(out), "--quiet"]
    argv += [arg for s in sets for arg in ("--set", s)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(installed)
    result = subprocess.run(
        [sys.executable, "-c", RUN, str(installed), *argv],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = yaml.safe_load((out / "config.yaml").read_text())
    # the recipe's own settings reached the run: ResNet-18, LARS, the 3-layer projector
    assert written["model"]["backbone"] == "resnet18" and written["optim"]["name"] == "lars"
    assert written["model"]["projector_layers"] == 3 and written["loss"]["kernel"]["t"] == 0.2
    assert (out / "checkpoint.pt").is_file()
