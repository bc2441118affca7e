"""Opening a trained run folder (``train.runs``): the rebuilt model is the trained one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from contrastlab.errors import InputError
from contrastlab.train import trainer
from contrastlab.train.config import build_config
from contrastlab.train.runs import embed, features_and_outputs, load_run

from .conftest import TINY

SETS = [*TINY, "eval.raw_baseline=false", "eval.linear_probe=false", "monitor.knn=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 1-epoch digits run, with the features its in-memory model gave at the final evaluation
    (captured where the trainer hands its backbone and eval transform to the evaluation)."""
    out = tmp_path_factory.mktemp("runs") / "run"
    seen: dict[str, Any] = {}
    original = trainer.evaluate_backbone

    def capture(backbone, data, transform, device, **kwargs):  # type: ignore[no-untyped-def]
        backbone.eval()
        with torch.no_grad():
            seen["test"] = backbone(transform(data.test_x)).double().numpy()
            seen["train"] = backbone(transform(data.train_x)).double().numpy()
        seen["test_y"] = data.test_y.numpy()
        return original(backbone, data, transform, device, **kwargs)

    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "evaluate_backbone", capture)
        torch.set_num_threads(1)
        train_config = build_config(None, SETS, **{"train.epochs": 1})
        trainer.train(train_config, out, log=lambda _: None)
    torch.set_num_threads(threads)
    return {"out": out, **seen}


def test_loaded_run_gives_the_features_of_the_model_in_memory(trained: dict[str, Any]) -> None:
    run = load_run(trained["out"])
    test, test_y = embed(run, "test")
    np.testing.assert_allclose(test, trained["test"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(test_y, trained["test_y"])
    both, _ = embed(run, "all")
    np.testing.assert_allclose(both, np.concatenate([trained["train"], trained["test"]]), atol=1e-5)
    h, z = features_and_outputs(run, run.data.test_x)
    np.testing.assert_allclose(h, trained["test"], rtol=1e-5, atol=1e-6)
    # cosine kernel: the outputs the kernel sees lie on the unit sphere.
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)


def test_untrained_model_differs_from_the_trained_one(trained: dict[str, Any]) -> None:
    run = load_run(trained["out"])
    fresh = run.untrained_model()
    with torch.no_grad():
        h = fresh.backbone(run.eval_transform(run.data.test_x)).double().numpy()
    assert h.shape == trained["test"].shape
    assert not np.allclose(h, trained["test"], atol=1e-3)


def test_corrupt_checkpoint_is_an_input_error(trained: dict[str, Any], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text((trained["out"] / "config.yaml").read_text())
    whole = (trained["out"] / "checkpoint.pt").read_bytes()
    (broken / "checkpoint.pt").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="checkpoint"):
        load_run(broken)


def test_missing_folder_and_config_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_run(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="config"):
        load_run(tmp_path / "empty")


def test_bad_split_is_an_input_error(trained: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="split"):
        embed(load_run(trained["out"]), "val")  # type: ignore[arg-type]
