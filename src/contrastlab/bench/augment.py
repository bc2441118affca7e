"""Augmentation throughput: batched on-device augmentation against per-sample PIL transforms.

Measured side by side in one process on the same images (``performance.md`` section 2):

* ours: :class:`contrastlab.data.augment.ImageAugment` on whole uint8 batches, two views;
* per-sample: torchvision transforms on PIL images inside a ``DataLoader`` (``num_workers=0``,
  one process), two views per image: the way lightly and solo-learn feed SimCLR. The transform
  lists mirror ours step for step (crop, rotation or flip, colour steps, to tensor, normalise).

Both run on one core by default (``--threads 1``): the per-sample pipeline is single-threaded in
one process, and on a shared machine a second OpenMP thread mostly waits (measured here under load:
kornia's colour jitter fell below the per-sample pipeline with two threads). A DataLoader with N
workers and N torch threads scale the two alike.

Also whole default small-image training steps (small convnet, batch 256, cosine kernel) with the
share of step time spent in augmentation. Images per second count source images (two views each).
Timings are medians over repeats; the machine is shared, so the ratios are the result.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="write metrics.json and report.html here")
    parser.add_argument(
        "--batch-size", type=int, default=512, help="images per batch (default 512)"
    )
    parser.add_argument(
        "--batches", type=int, default=4, help="timed batches per repeat (default 4)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats, median kept (default 3)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: both pipelines get one core, like for like)",
    )
    parser.add_argument(
        "--step-batch-size", type=int, default=256, help="batch of the training-step timing (256)"
    )


def sample_images(count: int, channels: int, size: int, seed: int = 0) -> np.ndarray:
    """``count`` uint8 images ``(N, C, size, size)``: sklearn digits, resized (tinted if RGB)."""
    from sklearn.datasets import load_digits

    digits = torch.from_numpy(load_digits().images).float().div(16.0)[:, None]
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(len(digits), (count,), generator=generator)
    x = torch.nn.functional.interpolate(digits[index], size=(size, size), mode="bilinear")
    if channels == 3:
        tint = torch.rand(count, 3, 1, 1, generator=generator) * 0.6 + 0.4
        background = torch.rand(count, 3, 1, 1, generator=generator) * 0.3
        x = background + x * tint
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _per_sample_transform(preset: str, size: int, mean: list[float], std: list[float]) -> Any:
    from torchvision import transforms as T

    from contrastlab.data.augment import PRESETS

    s = PRESETS[preset]
    steps: list[Any] = [T.RandomResizedCrop(size, scale=s.crop_scale, ratio=s.crop_ratio)]
    if s.rotation:
        steps.append(T.RandomRotation(s.rotation))
    if s.hflip:
        steps.append(T.RandomHorizontalFlip(s.hflip))
    if s.color_jitter is not None:
        steps.append(T.RandomApply([T.ColorJitter(*s.color_jitter)], p=s.color_jitter_p))
    if s.grayscale_p:
        steps.append(T.RandomGrayscale(p=s.grayscale_p))
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(steps)


class _TwoViewPIL(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, transform: Any) -> None:
        from PIL import Image

        self.pictures = [
            Image.fromarray(im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0)) for im in images
        ]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.pictures)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        picture = self.pictures[index]
        return self.transform(picture), self.transform(picture)


def _median_rate(run_once: Any, images: int, repeats: int) -> float:
    run_once()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - start)
    return images / statistics.median(times)


def measure_augmentation(
    preset: str, channels: int, size: int, batch_size: int, batches: int, repeats: int
) -> dict[str, float]:
    """Images per second of both pipelines on the same images."""
    from contrastlab.data.augment import PRESETS, ImageAugment, channel_stats

    images = sample_images(batch_size * batches, channels, size)
    tensor = torch.from_numpy(images)
    mean, std = channel_stats(tensor)
    augment = ImageAugment(PRESETS[preset], mean=mean, std=std)

    def ours() -> None:
        for b in range(batches):
            batch = tensor[b * batch_size : (b + 1) * batch_size]
            augment(batch)
            augment(batch)

    loader = torch.utils.data.DataLoader(
        _TwoViewPIL(images, _per_sample_transform(preset, size, mean, std)),
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
    )

    def per_sample() -> None:
        for _ in loader:
            pass

    count = batch_size * batches
    ours_rate = _median_rate(ours, count, repeats)
    theirs_rate = _median_rate(per_sample, count, max(1, repeats - 1))
    return {
        "preset": preset,
        "shape": f"{channels}x{size}x{size}",
        "batched_images_per_second": ours_rate,
        "per_sample_images_per_second": theirs_rate,
        "speedup": ours_rate / theirs_rate,
    }


def measure_training_step(
    size: int = 28, batch_size: int = 256, steps: int = 6
) -> dict[str, float]:
    """Default small-image training steps (greyscale, ``size`` pixels), augmentation share."""
    from contrastlab import losses
    from contrastlab.data.augment import PRESETS, ImageAugment, channel_stats
    from contrastlab.train.components import build_kernel, build_model
    from contrastlab.train.config import DEFAULTS

    images = torch.from_numpy(sample_images(batch_size, 1, size))
    mean, std = channel_stats(images)
    augment = ImageAugment(PRESETS["small_gray"], mean=mean, std=std)
    kernel = build_kernel(DEFAULTS["loss"]["kernel"])
    config = {"model": dict(DEFAULTS["model"], backbone="small_cnn", cifar_stem=False)}
    model = build_model(config, (1, size, size), kernel)
    loss_fn = losses.KernelInfoNCE(kernel)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    augment_times, step_times = [], []
    for index in range(steps + 1):
        start = time.perf_counter()
        views = torch.cat([augment(images), augment(images)])
        middle = time.perf_counter()
        _, z = model(views)
        loss = loss_fn(*z.chunk(2))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        end = time.perf_counter()
        if index:  # the first step warms up
            augment_times.append(middle - start)
            step_times.append(end - start)
    augment_s, step_s = statistics.median(augment_times), statistics.median(step_times)
    return {
        "shape": f"1x{size}x{size}",
        "batch_size": batch_size,
        "step_seconds": step_s,
        "augment_seconds": augment_s,
        "augment_share": augment_s / step_s,
        "images_per_second": batch_size / step_s,
    }


def run(args: argparse.Namespace) -> int:
    from contrastlab.errors import InputError
    from contrastlab.report import Report, check_output_folder

    for name in ("batch_size", "batches", "repeats", "step_batch_size", "threads"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.out:
        check_output_folder(args.out)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = [
        measure_augmentation("small_gray", 1, 28, args.batch_size, args.batches, args.repeats),
        measure_augmentation("cifar", 3, 32, args.batch_size, args.batches, args.repeats),
    ]
    step = measure_training_step(batch_size=args.step_batch_size)
    targets = {
        "speedup_at_least_3x": min(r["speedup"] for r in rows) >= 3.0,
        "augment_share_under_one_fifth": step["augment_share"] < 0.2,
    }
    metrics = {
        "augmentation": rows,
        "training_step": step,
        "targets": targets,
        "threads": torch.get_num_threads(),
    }
    report = Report("Augmentation throughput")
    report.text(__doc__.split("\n\n", 1)[1])
    report.table(
        ["preset", "shape", "batched img/s", "per-sample img/s", "speedup"],
        [
            [
                r["preset"],
                r["shape"],
                r["batched_images_per_second"],
                r["per_sample_images_per_second"],
                r["speedup"],
            ]
            for r in rows
        ],
        title=f"Two views per image, batches of {args.batch_size}",
    )
    report.table(
        ["shape", "batch", "step s", "augment s", "augment share", "img/s"],
        [
            [
                step["shape"],
                step["batch_size"],
                step["step_seconds"],
                step["augment_seconds"],
                step["augment_share"],
                step["images_per_second"],
            ]
        ],
        title="Default small-image training step",
    )
    report.table(["target", "met"], [[k, v] for k, v in targets.items()], title="Targets")
    if args.out:
        report.save(Path(args.out), metrics)
    for r in rows:
        print(
            f"{r['preset']:>10} {r['shape']}: batched {r['batched_images_per_second']:8.0f} img/s, "
            f"per-sample {r['per_sample_images_per_second']:7.0f} img/s, x{r['speedup']:.1f}"
        )
    print(
        f"training step 1x28x28 batch {step['batch_size']}: {step['step_seconds'] * 1e3:.0f} ms, "
        f"augmentation {step['augment_share'] * 100:.1f}% of it"
    )
    if args.out:
        print(f"report: {Path(args.out) / 'report.html'}")
    return 0
