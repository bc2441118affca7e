"""The training loop: SimCLR-style two-view training with any kernel, in one readable function.

Per step: take this rank's share of a global batch (uint8 images or vectors held in memory), move
it to the device, draw two augmented views on the device, run backbone and projector on both views
in one forward pass, apply the kernel InfoNCE loss (which gathers candidates across ranks), train
the online linear probe on detached features, and step the optimiser with the warm-up + cosine
learning rate. Per epoch: log to ``metrics.jsonl``, run the kNN / online-probe monitors every
``monitor.every`` epochs, and write ``checkpoint.pt`` atomically. At the end: kNN (k = 20, 200)
and an offline linear probe on frozen backbone features of the final epoch, into ``metrics.json``.

Each ``metrics.jsonl`` record holds ``epoch``, ``step`` (steps done so far), ``loss`` (the mean
over the epoch's steps and the ranks), ``lr`` (the learning rate applied at the epoch's last step:
the warm-up + cosine value of :func:`contrastlab.train.optim.warmup_cosine` at that step; the
progress bar shows it at every step), ``images_per_second``, ``augment_share``, ``step_seconds``,
``images``, ``seconds``, and the monitors' accuracies in the epochs they ran.
``images_per_second`` counts source images per second of training steps over all processes
(each image is seen as two views); monitors and checkpoints are not in the timing.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.data.sources import DataSplit, load_source
from contrastlab.errors import InputError
from contrastlab.train import config as config_lib
from contrastlab.train.checkpoint import (
    initialise_from,
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from contrastlab.train.components import build_kernel, build_loss, build_model, build_transforms
from contrastlab.train.distributed import Runtime, barrier, cleanup, epoch_batches, setup
from contrastlab.train.evaluate import evaluate_backbone, evaluate_features, raw_inputs
from contrastlab.train.history import append_record, read_history, write_history
from contrastlab.train.optim import apply_schedule, build_optimizer, parameter_groups

CHECKPOINT = "checkpoint.pt"
CONFIG = config_lib.CONFIG_FILE_NAME
HISTORY = "metrics.jsonl"
SNAPSHOTS = "snapshots"
DEVICE_DATA_BYTES = 2 * 1024**3


class _StepModule(nn.Module):
    """Model and online probe in one module, so DDP synchronises both with one wrapper."""

    def __init__(self, model: nn.Module, probe: nn.Module | None) -> None:
        super().__init__()
        self.model = model
        self.probe = probe

    def forward(self, views: Tensor, first: int) -> tuple[Tensor, Tensor | None]:
        h, z = self.model(views)
        logits = self.probe(h[:first].detach().float()) if self.probe is not None else None
        return z, logits


def load_data(config: dict[str, Any]) -> DataSplit:
    """The data named by ``config["data"]``."""
    d = config["data"]
    return load_source(
        d["source"],
        root=d["root"],
        download=bool(d["download"]),
        test_fraction=float(d["test_fraction"]),
        split_seed=int(d["split_seed"]),
        image_size=d["image_size"],
    )


def train(
    config: dict[str, Any],
    out_dir: str | Path,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train as ``config`` says, writing the run folder ``out_dir``; returns the final metrics.

    Args:
        config: a configuration from :func:`contrastlab.train.config.build_config` (``auto``
            values allowed). On ``resume`` the run folder's ``config.yaml`` is used instead, with
            ``train.epochs`` taken from ``config`` when it differs from ``auto``.
        out_dir: the run folder (``config.yaml``, ``checkpoint.pt``, ``metrics.jsonl``,
            ``metrics.json``).
        resume: continue from ``out_dir/checkpoint.pt``. A killed run reaches the weights of an
            uninterrupted one (on the CPU). A larger ``train.epochs`` extends a run to that many
            epochs: the learning rate of every step is always that of the warm-up + cosine
            schedule over the run's current ``train.epochs`` (``optim.warmup_epochs`` and every
            other setting stay those of ``config.yaml``), so the new epochs get the rates an
            uninterrupted run of the new length has at those steps, while the epochs already
            trained keep the rates of the shorter schedule; with a constant rate
            (``optim.warmup_epochs=0``, ``optim.min_lr_ratio=1``) an extended run equals an
            uninterrupted one. Fewer epochs than the checkpoint reached is an error.
        log: where one-line progress messages go (rank 0 only).

    Raises:
        InputError: a bad setting, no checkpoint to resume, or ``train.epochs`` below the
            checkpoint's epoch on ``resume``.
    """
    out = Path(out_dir)
    if resume:
        config = _resume_config(out, config)
    runtime = setup(str(config["train"]["device"]))
    threads = torch.get_num_threads()
    try:
        return _train(config, out, resume, runtime, log if runtime.is_main else (lambda _: None))
    finally:
        torch.set_num_threads(threads)  # train.threads holds for this run only
        cleanup(runtime)


def _resume_config(out: Path, given: dict[str, Any]) -> dict[str, Any]:
    if not (out / CHECKPOINT).is_file():
        raise InputError(f"--resume: no {CHECKPOINT} in {out}")
    saved = config_lib.merge(config_lib.default_config(), config_lib.load_config_file(out / CONFIG))
    if given["train"]["epochs"] != config_lib.AUTO:
        saved["train"]["epochs"] = given["train"]["epochs"]
    saved["train"]["progress"] = given["train"]["progress"]
    return saved


def _train(
    config: dict[str, Any], out: Path, resume: bool, runtime: Runtime, log: Callable[[str], None]
) -> dict[str, Any]:
    started = time.perf_counter()
    if config["train"]["threads"]:
        torch.set_num_threads(int(config["train"]["threads"]))
    data = load_data(config)
    cfg = config_lib.resolve(config, data, runtime.device.type, runtime.world_size)
    device, seed = runtime.device, int(cfg["train"]["seed"])
    _seed_everything(seed + runtime.rank)

    embed_dim = int(cfg["model"]["projector_dim"])
    kernel = build_kernel(cfg["loss"]["kernel"], embed_dim)  # shapes the projector's end
    loss_fn = build_loss(cfg["loss"]["kernel"], embed_dim, cfg["loss"]["block_size"])
    terms = getattr(loss_fn, "terms", None)  # LossSum: several kernels, one softmax each
    loss_label = str(kernel) if terms is None else " + ".join(f"{w:g} L({k})" for k, w in terms)
    is_image = data.kind == "image"
    feature_std = None if is_image else data.train_x.float().std(dim=0).clamp_min(1e-8).to(device)
    augment, eval_transform = build_transforms(cfg, is_image, feature_std)
    augment, eval_transform = augment.to(device), eval_transform.to(device)
    model = build_model(cfg, data.sample_shape, kernel)
    if cfg["model"]["init_from"] and not resume:
        fresh = initialise_from(model, cfg["model"]["init_from"])
        log(f"initialised from {cfg['model']['init_from']}; fresh: {', '.join(fresh) or 'none'}")
    if cfg["model"]["sync_batchnorm"] and runtime.distributed and device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(device)
    labelled = data.labelled
    probe = (
        nn.Linear(model.backbone.feature_dim, len(data.classes)).to(device)
        if cfg["monitor"]["online_probe"] and labelled
        else None
    )
    step_module: nn.Module = _StepModule(model, probe)
    if runtime.distributed:
        step_module = nn.parallel.DistributedDataParallel(step_module)
    if cfg["train"]["compile"]:
        step_module = torch.compile(step_module)

    optim_cfg = cfg["optim"]
    optimizer = build_optimizer(
        optim_cfg["name"],
        parameter_groups([model], float(optim_cfg["weight_decay"])),
        lr=float(optim_cfg["lr"]),
        momentum=float(optim_cfg["momentum"]),
    )
    probe_optimizer = (
        torch.optim.AdamW(probe.parameters(), lr=1e-3, weight_decay=0.0) if probe else None
    )
    amp_dtype = _amp_dtype(device) if cfg["train"]["amp"] else None
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    epochs = int(cfg["train"]["epochs"])
    global_batch = int(optim_cfg["batch_size"])
    steps_per_epoch = len(data.train_x) // global_batch
    total_steps = epochs * steps_per_epoch
    warmup_steps = int(optim_cfg["warmup_epochs"]) * steps_per_epoch
    start_epoch, step, history = 0, 0, []
    if resume:
        state = load_checkpoint(out / CHECKPOINT, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if probe is not None and state.get("probe") is not None:
            probe.load_state_dict(state["probe"])
            probe_optimizer.load_state_dict(state["probe_optimizer"])  # type: ignore[union-attr]
        scaler.load_state_dict(state["scaler"])
        restore_rng_states(state["rng"][min(runtime.rank, len(state["rng"]) - 1)])
        start_epoch, step = int(state["epoch"]), int(state["step"])
        if start_epoch > epochs:
            raise InputError(
                f"--resume: the run in {out} has trained {start_epoch} epochs already; "
                f"--epochs {epochs} cannot shorten it"
            )
        history = read_history(out / HISTORY, start_epoch)
        log(f"resuming {out} at epoch {start_epoch} of {epochs}")
    elif runtime.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / HISTORY).unlink(missing_ok=True)
        for stale in (out / SNAPSHOTS).glob("epoch_*.pt"):
            stale.unlink()
    if runtime.is_main:
        (out / CONFIG).write_text(config_lib.dump(cfg))
        write_history(out / HISTORY, history)
        log(
            f"data {data.name}: {len(data.train_x)} train / {len(data.test_x)} test, "
            f"sample {tuple(data.sample_shape)}; {cfg['model']['backbone']} + {loss_label}; "
            f"{epochs} epochs of {steps_per_epoch} steps, batch {global_batch}"
        )

    train_x = _on_device(data.train_x, device)
    train_y = data.train_y
    progress = _progress_bar(cfg, runtime, total_steps, step)
    board = _tensorboard(out) if runtime.is_main else None
    timed_seconds = sum(r["step_seconds"] for r in history)
    timed_images = sum(r["images"] for r in history)
    for epoch in range(start_epoch, epochs):
        step_module.train()
        epoch_loss = torch.zeros((), device=device)
        epoch_time = augment_time = 0.0
        batches = epoch_batches(len(train_x), global_batch, epoch, seed, runtime)
        for indices in batches:
            tick = time.perf_counter()
            lr = apply_schedule(optimizer, step, total_steps, warmup_steps, optim_cfg)
            x = train_x[indices].to(device, non_blocking=True)
            with torch.autocast(
                device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None
            ):
                views = torch.cat([augment(x), augment(x)])
                aug_done = time.perf_counter()
                z, logits = step_module(views, len(x))
                z1, z2 = z.float().chunk(2)
                loss = loss_fn(z1, z2)
                total = loss
                if logits is not None and train_y is not None:
                    total = total + F.cross_entropy(logits, train_y[indices].to(device))
            optimizer.zero_grad(set_to_none=True)
            if probe_optimizer is not None:
                probe_optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            if optim_cfg["clip_grad"]:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), float(optim_cfg["clip_grad"]))
            scaler.step(optimizer)
            if probe_optimizer is not None:
                scaler.step(probe_optimizer)
            scaler.update()
            if not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"loss is {loss.item()} at epoch {epoch + 1}, step {step}; "
                    "lower optim.lr or check the kernel's parameters"
                )
            epoch_loss += loss.detach()
            step += 1
            now = time.perf_counter()
            epoch_time += now - tick
            augment_time += aug_done - tick
            if progress is not None:
                progress.update(1)
                progress.set_postfix(
                    epoch=epoch + 1,
                    loss=f"{loss.item():.3f}",
                    lr=f"{lr:.2e}",
                    img_s=f"{len(x) * runtime.world_size / (now - tick):.0f}",
                )
        images = len(batches) * global_batch
        timed_seconds += epoch_time
        timed_images += images
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": step,
            "loss": _mean_over_ranks(epoch_loss, runtime) / max(1, len(batches)),
            "lr": lr if batches else 0.0,
            "images_per_second": images / epoch_time if epoch_time else 0.0,
            "augment_share": augment_time / epoch_time if epoch_time else 0.0,
            "step_seconds": epoch_time,
            "images": images,
            "seconds": time.perf_counter() - started,
        }
        last = epoch + 1 == epochs
        save_now = (epoch + 1) % int(cfg["train"]["checkpoint_every"]) == 0 or last
        all_rng = _gather_rng_states(runtime) if save_now else []
        if runtime.is_main:
            if (
                labelled
                and cfg["monitor"]["knn"]
                and ((epoch + 1) % int(cfg["monitor"]["every"]) == 0 or last)
            ):
                record.update(
                    evaluate_backbone(
                        model.backbone,
                        data,
                        eval_transform,
                        device,
                        ks=cfg["eval"]["knn_ks"],
                        temperature=float(cfg["eval"]["knn_temperature"]),
                        linear=False,
                        max_train=int(cfg["monitor"]["max_train"]),
                        probe=probe,
                    )
                )
            history.append(record)
            append_record(out / HISTORY, record)
            if board is not None:
                for key, value in record.items():
                    board.add_scalar(key, value, global_step=record["epoch"])
            if save_now:
                save_checkpoint(
                    out / CHECKPOINT,
                    {
                        "epoch": epoch + 1,
                        "step": step,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "probe": probe.state_dict() if probe is not None else None,
                        "probe_optimizer": probe_optimizer.state_dict()
                        if probe_optimizer
                        else None,
                        "scaler": scaler.state_dict(),
                        "rng": all_rng,
                    },
                )
            if epoch + 1 in cfg["train"]["save_epochs"]:
                save_checkpoint(
                    out / SNAPSHOTS / f"epoch_{epoch + 1:04d}.pt",
                    {"epoch": epoch + 1, "model": model.state_dict()},
                )
        else:
            history.append(record)
        _log_record(log if progress is None else _above_bar(progress), record, epochs)
        barrier(runtime)
    if progress is not None:
        progress.close()
    if board is not None:
        board.close()

    metrics: dict[str, Any] = {
        "final": {},
        "images_per_second": timed_images / timed_seconds if timed_seconds else 0.0,
        "augment_share": float(np.mean([r["augment_share"] for r in history])) if history else 0.0,
        "epochs": epochs,
        "seconds": 0.0,
        "data": data.name,
        "train_size": len(data.train_x),
        "test_size": len(data.test_x),
        "kernel": loss_label,
        "world_size": runtime.world_size,
    }
    if runtime.is_main:
        if labelled:
            metrics["final"] = evaluate_backbone(
                model.backbone,
                data,
                eval_transform,
                device,
                ks=cfg["eval"]["knn_ks"],
                temperature=float(cfg["eval"]["knn_temperature"]),
                linear=bool(cfg["eval"]["linear_probe"]),
                seed=seed,
            )
            if cfg["eval"]["raw_baseline"]:
                metrics["raw_pixels" if is_image else "raw_features"] = evaluate_features(
                    raw_inputs(data.train_x),
                    data.train_y.numpy(),
                    raw_inputs(data.test_x),
                    data.test_y.numpy(),
                    ks=cfg["eval"]["knn_ks"],
                    temperature=float(cfg["eval"]["knn_temperature"]),
                    linear=bool(cfg["eval"]["linear_probe"]),
                )
        else:
            metrics["note"] = "no labels: kNN and linear evaluation skipped"
        metrics["seconds"] = time.perf_counter() - started
        metrics["history"] = history
    barrier(runtime)
    return metrics


def _on_device(samples: Tensor, device: torch.device) -> Tensor:
    """The training set where batches are cut from: on an accelerator when it takes at most
    ``DEVICE_DATA_BYTES`` (CIFAR's 150 MB of uint8 does), else in (pinned) host memory."""
    if device.type == "cpu":
        return samples
    if samples.numel() * samples.element_size() <= DEVICE_DATA_BYTES:
        return samples.to(device)
    return samples.pin_memory()


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (legacy global state, for user code)
    random.seed(seed)


def _amp_dtype(device: torch.device) -> torch.dtype | None:
    """bfloat16 where the GPU supports it, else float16 (with loss scaling); none on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _gather_rng_states(runtime: Runtime) -> list[dict[str, Any]]:
    """Every rank's RNG states (rank 0 stores them all, so each rank resumes its own stream)."""
    states = rng_states()
    if not runtime.distributed:
        return [states]
    import torch.distributed as dist

    gathered: list[Any] = [None] * runtime.world_size
    dist.all_gather_object(gathered, states)
    return gathered


def _mean_over_ranks(value: Tensor, runtime: Runtime) -> float:
    if runtime.distributed:
        import torch.distributed as dist

        value = value.clone()
        dist.all_reduce(value)
        value /= runtime.world_size
    return float(value)


def _progress_bar(cfg: dict[str, Any], runtime: Runtime, total: int, done: int) -> Any:
    import sys

    if not (cfg["train"]["progress"] and runtime.is_main and sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="step", dynamic_ncols=True, leave=False)


def _above_bar(progress: Any) -> Callable[[str], None]:
    """Print a line above the progress bar, which stays at the bottom."""
    import sys

    return lambda text: progress.write(text, file=sys.stderr)


def _tensorboard(out: Path) -> Any:
    """A TensorBoard writer into ``out/tensorboard`` when tensorboard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _log_record(log: Callable[[str], None], record: dict[str, Any], epochs: int) -> None:
    extra = "".join(
        f" {k}={record[k]:.3f}" for k in ("knn_top1_k20", "online_linear_top1") if k in record
    )
    log(
        f"epoch {record['epoch']}/{epochs} loss={record['loss']:.4f} lr={record['lr']:.2e} "
        f"img/s={record['images_per_second']:.0f}{extra}"
    )
