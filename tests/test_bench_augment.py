"""``contrastlab bench augment`` runs end to end on tiny settings and writes its report."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from contrastlab.bench.augment import sample_images
from contrastlab.cli import main


def test_bench_augment_tiny(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    try:
        code = main(
            [
                "bench",
                "augment",
                "--out",
                str(tmp_path),
                "--batch-size",
                "16",
                "--batches",
                "1",
                "--repeats",
                "1",
                "--threads",
                "1",
                "--step-batch-size",
                "16",
            ]
        )
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    rows = {row["preset"]: row for row in metrics["augmentation"]}
    assert set(rows) == {"small_gray", "cifar"}
    for row in rows.values():
        assert row["batched_images_per_second"] > 0 and row["per_sample_images_per_second"] > 0
    step = metrics["training_step"]
    assert 0 < step["augment_seconds"] < step["step_seconds"]
    assert (tmp_path / "report.html").exists()


def test_sample_images_are_the_same_for_both_pipelines() -> None:
    a, b = sample_images(8, 3, 32), sample_images(8, 3, 32)
    assert a.dtype.name == "uint8" and a.shape == (8, 3, 32, 32) and (a == b).all()
    assert main(["bench", "augment", "--batches", "0"]) == 2
