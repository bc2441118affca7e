"""The training loop: SimCLR-style two-view training with any kernel, in named steps.

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

The steps, each a function over the :class:`Training` state: :func:`build` (data, resolved
configuration, model, loss, optimisers), :func:`restore` (a checkpoint, on ``--resume``) or
:func:`start_folder` (a fresh run folder), :func:`run_epoch` (the training steps of one epoch),
:func:`end_epoch` (monitors, ``metrics.jsonl``, checkpoint, snapshot) and :func:`final_metrics`
(the final evaluation). With ``loss.method: moco`` a step's loss is MoCo's instead
(:mod:`contrastlab.train.moco`: a momentum key encoder, a queue of keys in the checkpoint),
with the same monitors, report and metrics. Batch order, schedule, seeding and threads are those of
:mod:`contrastlab.train.loop`, shared with the supervised trainer.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.data.sources import DataSplit, load_source
from contrastlab.errors import Diverged, InputError, Preempted
from contrastlab.files import atomic_write
from contrastlab.kernels import Kernel
from contrastlab.settings import AUTO, to_mapping
from contrastlab.specs import is_loss_sum
from contrastlab.train import config as config_lib
from contrastlab.train.budget import Plan, duration, plan_run
from contrastlab.train.checkpoint import (
    initialise_from,
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from contrastlab.train.collapse import (
    COLLAPSE_RULE,
    collapse_measures,
    collapse_reason,
    uniform_level,
)
from contrastlab.train.components import build_kernel, build_loss, build_model, build_transforms
from contrastlab.train.distributed import Runtime, agree, barrier, cleanup, setup
from contrastlab.train.evaluate import evaluate_backbone, evaluate_features, raw_inputs
from contrastlab.train.history import read_history, write_history
from contrastlab.train.lock import run_lock
from contrastlab.train.loop import Schedule, seed_everything, torch_threads
from contrastlab.train.moco import MoCo, build_moco, momentum_at
from contrastlab.train.optim import build_optimizer, parameter_groups
from contrastlab.train.resume import resume_settings
from contrastlab.train.sections import RunConfig, TrainConfig, train_config
from contrastlab.train.stopping import (
    StopRequest,
    diverged_message,
    preempted_message,
    stop_signals,
)

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


def load_data(config: TrainConfig | Mapping[str, Any]) -> DataSplit:
    """The data named by the configuration's ``data`` section."""
    d = train_config(config).data
    return load_source(
        d.source,
        root=d.root,
        download=d.download,
        test_fraction=d.test_fraction,
        split_seed=d.split_seed,
        image_size=d.image_size,
    )


def train(
    config: TrainConfig | Mapping[str, Any],
    out_dir: str | Path,
    *,
    resume: bool = False,
    given_keys: Collection[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train as ``config`` says, writing the run folder ``out_dir``; returns the final metrics.

    Args:
        config: a configuration from :func:`contrastlab.train.config.build_config` (``auto``
            values allowed), or a :class:`~contrastlab.train.sections.TrainConfig`. On
            ``resume`` the run folder's ``config.yaml`` is used instead, with ``train.epochs``
            taken from ``config`` when it differs from ``auto``.
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
        given_keys: on ``resume``, the dotted keys the user gave (flags, ``--set`` keys, a
            config file's keys): each is compared with ``config.yaml``; those of
            :data:`contrastlab.train.resume.RESUMABLE` (epochs, threads, monitors, ...) are
            taken from ``config``, any other that differs is an :class:`InputError` naming the
            keys. ``None``: nothing is compared and only ``train.epochs`` (when not ``auto``)
            is taken from ``config``.
        log: where one-line progress messages go (rank 0 only).

    The run holds the folder's lock (:mod:`contrastlab.train.lock`) throughout: a second run
    into the same folder stops before touching it. ``train.checkpoint_every_steps`` adds
    checkpoints inside long epochs; SIGTERM and SIGINT save one at the current step
    (:mod:`contrastlab.train.stopping`), from which ``resume`` continues mid-epoch.

    Raises:
        InputError: a bad setting, no checkpoint to resume, ``train.epochs`` below the
            checkpoint's epoch on ``resume``, or another run holding ``out``.
        Preempted: SIGTERM or SIGINT; the checkpoint of the current step was saved.
        Diverged: a non-finite loss or embedding; the last good checkpoint is kept.
    """
    out = Path(out_dir)
    given = train_config(config)
    if resume:
        given = _resume_config(out, given, given_keys)
    with run_lock(out, log):
        runtime = setup(given.train.device)
        try:
            with torch_threads(given.train.threads), stop_signals() as stop:
                quiet = log if runtime.is_main else (lambda _: None)
                state = build(given, out, runtime, quiet, resume)
                state.stop = stop
                if resume:
                    restore(state)
                start_folder(state, fresh=not resume)
                for epoch in range(state.start_epoch, state.schedule.epochs):
                    end_epoch(state, run_epoch(state, epoch))
                state.close_outputs()
                if agree(runtime, stop.requested)[0]:  # the last checkpoint is the final one
                    _preempt(state, state.schedule.epochs - 1, state.schedule.steps_per_epoch)
                return final_metrics(state)
        finally:
            cleanup(runtime)


def _resume_config(
    out: Path, given: TrainConfig, given_keys: Collection[str] | None
) -> TrainConfig:
    if not (out / CHECKPOINT).is_file():
        raise InputError(f"--resume: no {CHECKPOINT} in {out}")
    saved = config_lib.load_config_file(out / CONFIG)
    if given_keys is not None:
        saved = resume_settings(saved, to_mapping(given), given_keys, str(out))
    saved.setdefault("train", {})
    if given_keys is None and given.train.epochs != AUTO:
        saved["train"]["epochs"] = given.train.epochs
    saved["train"]["progress"] = given.train.progress
    return train_config(saved)


@dataclass
class Training:
    """The state of a run while it trains (what the named steps share)."""

    cfg: RunConfig
    out: Path
    runtime: Runtime
    data: DataSplit
    log: Callable[[str], None]
    started: float
    schedule: Schedule
    model: nn.Module
    step_module: nn.Module
    probe: nn.Module | None
    loss_fn: nn.Module
    loss_label: str
    augment: nn.Module
    eval_transform: nn.Module
    optimizer: torch.optim.Optimizer
    probe_optimizer: torch.optim.Optimizer | None
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    train_x: Tensor
    plan: Plan | None = None
    moco: MoCo | None = None
    raw_metrics: dict[str, Any] = field(default_factory=dict)
    start_epoch: int = 0
    step: int = 0
    epoch_step: int = 0  # steps of the epoch in progress already done (resumed mid-epoch)
    partial: dict[str, Any] | None = None  # that epoch's sums so far, from the checkpoint
    saved: str = ""  # the last checkpoint written or restored, in words ("" : none)
    collapse: dict[int, str] = field(default_factory=dict)  # epoch -> why it collapsed
    stop: StopRequest = field(default_factory=StopRequest)
    history: list[dict[str, Any]] = field(default_factory=list)
    progress: Any = None
    board: Any = None
    resumed_at: tuple[float, int] = (0.0, 0)

    @property
    def device(self) -> torch.device:
        return self.runtime.device

    def close_outputs(self) -> None:
        """Close the progress bar and the TensorBoard writer."""
        if self.progress is not None:
            self.progress.close()
        if self.board is not None:
            self.board.close()


def build(
    given: TrainConfig, out: Path, runtime: Runtime, log: Callable[[str], None], resume: bool
) -> Training:
    """Load the data, resolve the configuration, seed, and build model, loss and optimisers
    (``model.init_from`` warm-starts a fresh run, not a resumed one)."""
    started = time.perf_counter()
    data = load_data(given)
    raw_metrics = _raw_baseline(given, data, runtime) if runtime.is_main else {}
    plan = None
    if not resume and not runtime.distributed:  # the ranks would have to agree on timings
        given, plan = plan_run(given, data, runtime.device, started)
        if given.train.threads:  # the plan may choose one thread; train() restores the count
            torch.set_num_threads(given.train.threads)
    cfg = config_lib.resolve(given, data, runtime.device.type, runtime.world_size)
    device = runtime.device
    seed_everything(cfg.train.seed + runtime.rank)
    embed_dim = cfg.model.projector_dim
    kernel = build_kernel(cfg.loss.kernel, embed_dim)  # shapes the projector's end
    loss_fn = build_loss(cfg.loss.kernel, embed_dim, cfg.loss.block_size)
    terms = getattr(loss_fn, "terms", None)  # LossSum: several kernels, one softmax each
    loss_label = str(kernel) if terms is None else " + ".join(f"{w:g} L({k})" for k, w in terms)
    is_image = data.kind == "image"
    feature_std = None if is_image else data.train_x.float().std(dim=0).clamp_min(1e-8).to(device)
    augment, eval_transform = build_transforms(cfg, is_image, feature_std)
    built = build_model(cfg, data.sample_shape, kernel)
    if cfg.model.init_from and not resume:
        fresh = initialise_from(built, cfg.model.init_from)
        log(f"initialised from {cfg.model.init_from}; fresh: {', '.join(fresh) or 'none'}")
    model, probe, step_module = _place_model(cfg, built, data, runtime)
    moco = _moco(cfg, model, kernel, embed_dim) if cfg.loss.method == "moco" else None
    if moco is not None:
        loss_fn, loss_label = moco.loss, f"MoCo(K={cfg.moco.queue_size}) {loss_label}"
    optimizer = build_optimizer(
        cfg.optim.name,
        parameter_groups([model], cfg.optim.weight_decay),
        lr=cfg.optim.lr,
        momentum=cfg.optim.momentum,
    )
    probe_optimizer = (
        torch.optim.AdamW(probe.parameters(), lr=1e-3, weight_decay=0.0) if probe else None
    )
    amp_dtype = _amp_dtype(device) if cfg.train.amp else None
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    return Training(
        cfg=cfg,
        out=out,
        runtime=runtime,
        data=data,
        log=log,
        started=started,
        schedule=Schedule.of(cfg, len(data.train_x)),
        model=model,
        step_module=step_module,
        probe=probe,
        loss_fn=loss_fn,
        loss_label=loss_label,
        augment=augment.to(device),
        eval_transform=eval_transform.to(device),
        optimizer=optimizer,
        probe_optimizer=probe_optimizer,
        scaler=scaler,
        amp_dtype=amp_dtype,
        train_x=_on_device(data.train_x, device),
        plan=plan,
        moco=moco,
        raw_metrics=raw_metrics,
    )


def _moco(cfg: RunConfig, model: nn.Module, kernel: Kernel, embed_dim: int) -> MoCo:
    """Key encoder, queue and queue loss of a ``loss.method: moco`` run."""
    spec = cfg.loss.kernel
    kernels = [(kernel, 1.0)]
    if is_loss_sum(spec):
        kernels = [(build_kernel(k, embed_dim), w) for k, w in spec["terms"]]
    return build_moco(cfg.moco, spec, kernels, model, embed_dim)


def _place_model(
    cfg: RunConfig, model: nn.Module, data: DataSplit, runtime: Runtime
) -> tuple[nn.Module, nn.Module | None, nn.Module]:
    """The model on its device (SyncBatchNorm under DDP on GPUs when asked), the online probe
    (labelled data only) and the module a step calls (DDP- and compile-wrapped as configured)."""
    device = runtime.device
    if cfg.model.sync_batchnorm and runtime.distributed and device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(device)
    feature_dim: int = model.backbone.feature_dim  # type: ignore[union-attr,assignment]
    probe = (
        nn.Linear(feature_dim, len(data.classes)).to(device)
        if cfg.monitor.online_probe and data.labelled
        else None
    )
    step_module: nn.Module = _StepModule(model, probe)
    if runtime.distributed:
        step_module = nn.parallel.DistributedDataParallel(step_module)
    if cfg.train.compile:
        step_module = torch.compile(step_module)  # type: ignore[assignment]
    return model, probe, step_module


def restore(state: Training) -> None:
    """Load model, optimisers, scaler, RNG states, epoch and step from ``checkpoint.pt``."""
    saved = load_checkpoint(state.out / CHECKPOINT, map_location=state.device)
    _check_same_data(state, saved.get("data"))
    state.model.load_state_dict(saved["model"])
    state.optimizer.load_state_dict(saved["optimizer"])
    if state.probe is not None and saved.get("probe") is not None:
        state.probe.load_state_dict(saved["probe"])
        state.probe_optimizer.load_state_dict(saved["probe_optimizer"])  # type: ignore[union-attr]
    state.scaler.load_state_dict(saved["scaler"])
    if state.moco is not None:
        state.moco.load_state_dict(saved["moco"])
    restore_rng_states(saved["rng"][min(state.runtime.rank, len(saved["rng"]) - 1)])
    state.start_epoch, state.step = int(saved["epoch"]), int(saved["step"])
    state.epoch_step, state.partial = int(saved.get("epoch_step", 0)), saved.get("partial")
    state.saved = _checkpoint_words(state.start_epoch, state.epoch_step)
    epochs = state.schedule.epochs
    if state.start_epoch + (state.epoch_step > 0) > epochs:
        raise InputError(
            f"--resume: the run in {state.out} has trained {state.saved} already; "
            f"--epochs {epochs} cannot shorten it"
        )
    state.history = saved.get("history") or read_history(state.out / HISTORY, state.start_epoch)
    within = f", step {state.epoch_step} of epoch {state.start_epoch + 1}" * (state.epoch_step > 0)
    state.log(f"resuming {state.out} at epoch {state.start_epoch} of {epochs}{within}")


def _check_same_data(state: Training, saved: dict[str, Any] | None) -> None:
    """The data of a resumed run are those its checkpoint was trained on (a file that changed
    under the same name is an error; checkpoints of older versions carry no signature)."""
    now = _data_signature(state)
    differing = [f"{k} {saved[k]} -> {now[k]}" for k in now if saved and saved.get(k) != now[k]]
    if differing:
        raise InputError(
            f"--resume: the data of {state.out} changed since its checkpoint "
            f"({', '.join(differing)}); resume with the same data or start a new --out"
        )


def start_folder(state: Training, fresh: bool) -> None:
    """Rank 0: clear a fresh run's old checkpoint, history and snapshots, write ``config.yaml``
    and the history so far, log the run's shape; open the progress bar and TensorBoard writer."""
    out, cfg, data, schedule = state.out, state.cfg, state.data, state.schedule
    if state.runtime.is_main:
        if fresh:
            out.mkdir(parents=True, exist_ok=True)
            (out / HISTORY).unlink(missing_ok=True)
            (out / CHECKPOINT).unlink(missing_ok=True)  # never resume another run's weights
            for stale in (out / SNAPSHOTS).glob("epoch_*.pt"):
                stale.unlink()
        atomic_write(out / CONFIG, config_lib.dump(cfg).encode())
        write_history(out / HISTORY, state.history)
        state.log(
            f"data {data.name}: {len(data.train_x)} train / {len(data.test_x)} test, "
            f"sample {tuple(data.sample_shape)}; {cfg.model.backbone} + {state.loss_label}; "
            f"{schedule.epochs} epochs of {schedule.steps_per_epoch} steps, "
            f"batch {schedule.batch_size}"
        )
        if state.plan is not None:
            state.log(f"plan: {state.plan.describe()}")
        state.board = _tensorboard(out)
    state.progress = _progress_bar(cfg, state.runtime, schedule.total_steps, state.step)
    state.resumed_at = (time.perf_counter(), state.step)


def time_left(state: Training) -> float:
    """Seconds left: the steps still to run at this session's mean wall time per step so far
    (monitors and checkpoints included), plus the plan's final evaluation."""
    since, first = state.resumed_at
    done = state.step - first
    final = state.plan.final_seconds if state.plan is not None else 0.0
    if done <= 0:
        return final
    per_step = (time.perf_counter() - since) / done
    return per_step * (state.schedule.total_steps - state.step) + final


@dataclass
class EpochSums:
    """What an epoch's record sums over its steps; saved with a mid-epoch checkpoint so a run
    resumed there logs the record an uninterrupted run logs."""

    loss: Tensor
    step_seconds: float = 0.0
    augment_seconds: float = 0.0
    lr: float = 0.0

    @classmethod
    def of(cls, saved: dict[str, Any] | None, device: torch.device) -> EpochSums:
        """Fresh sums, or those of a checkpoint's ``partial``."""
        if saved is None:
            return cls(loss=torch.zeros((), device=device))
        return cls(**{**saved, "loss": saved["loss"].to(device)})

    def as_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss.detach().clone(),
            "step_seconds": self.step_seconds,
            "augment_seconds": self.augment_seconds,
            "lr": self.lr,
        }


def run_epoch(state: Training, epoch: int) -> dict[str, Any]:
    """The training steps of ``epoch`` (from ``state.epoch_step`` on when resumed mid-epoch);
    returns its ``metrics.jsonl`` record (before monitors). Saves the checkpoints of
    ``train.checkpoint_every_steps``, and one at the current step on SIGTERM / SIGINT."""
    state.step_module.train()
    sums = EpochSums.of(state.partial, state.device)
    batches = state.schedule.batches(len(state.train_x), epoch, state.runtime)
    first, state.epoch_step, state.partial = state.epoch_step, 0, None
    every = state.cfg.train.checkpoint_every_steps
    for position in range(first, len(batches)):
        tick = time.perf_counter()
        sums.lr = state.schedule.apply(state.optimizer, state.step)
        loss, aug_done, stop = _train_step(state, batches[position], epoch, sums.lr)
        sums.loss += loss.detach()
        state.step += 1
        now = time.perf_counter()
        sums.step_seconds += now - tick
        sums.augment_seconds += aug_done - tick
        _show_step(state, epoch, loss, sums.lr, len(batches[position]) / (now - tick))
        done = position + 1
        if stop or (every and state.step % every == 0 and done < len(batches)):
            _save(state, epoch, done, sums)
        if stop:
            _preempt(state, epoch, done)
    images = len(batches) * state.schedule.batch_size
    epoch_time = sums.step_seconds
    return {
        "epoch": epoch + 1,
        "step": state.step,
        "loss": _mean_over_ranks(sums.loss, state.runtime) / max(1, len(batches)),
        "lr": sums.lr,
        "images_per_second": images / epoch_time if epoch_time else 0.0,
        "augment_share": sums.augment_seconds / epoch_time if epoch_time else 0.0,
        "step_seconds": epoch_time,
        "images": images,
        "seconds": time.perf_counter() - state.started,
    }


def _show_step(state: Training, epoch: int, loss: Tensor, lr: float, rank_rate: float) -> None:
    if state.progress is not None:
        state.progress.update(1)
        state.progress.set_postfix(
            epoch=epoch + 1,
            loss=f"{loss.item():.3f}",
            lr=f"{lr:.2e}",
            img_s=f"{rank_rate * state.runtime.world_size:.0f}",
            left=duration(time_left(state)),
        )


def _preempt(state: Training, epoch: int, position: int) -> None:
    """Raise :class:`Preempted` once the checkpoint of the current step is on disk."""
    state.close_outputs()
    raise Preempted(
        preempted_message(
            state.stop.name if state.stop.requested else "a signal to another rank",
            epoch + 1,
            position,
            state.schedule.steps_per_epoch,
            str(state.out / CHECKPOINT),
        )
    )


def _train_step(
    state: Training, indices: Tensor, epoch: int, lr: float
) -> tuple[Tensor, float, bool]:
    """One optimiser step on the samples ``indices``: two augmented views, the contrastive loss
    plus the online probe's cross-entropy. Returns the loss, when augmentation ended and whether
    any rank was asked to stop; a non-finite embedding or loss on any rank raises
    :class:`Diverged` on every rank before the optimiser steps."""
    device, amp_dtype, scaler = state.device, state.amp_dtype, state.scaler
    x = state.train_x[indices].to(device, non_blocking=True)
    with torch.autocast(
        device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None
    ):
        views = (state.augment(x), state.augment(x))
        aug_done = time.perf_counter()
        if state.moco is not None:
            m = momentum_at(state.step, state.schedule.total_steps, state.cfg.moco)
            z, keys, logits = state.moco.embed(state.step_module, state.model, views, m)
        else:
            z, logits = state.step_module(torch.cat(views), len(x))
            z, keys = z.float(), None
        embedded = z.detach() if keys is None else torch.cat([z.detach(), keys])
        bad_z = int((~torch.isfinite(embedded)).sum())
        stop, any_bad_z = agree(state.runtime, state.stop.requested, bad_z > 0)
        if any_bad_z:
            what = f"the embeddings have {bad_z} non-finite values of {embedded.numel()}"
            _diverge(
                state, what if bad_z else "another rank's embeddings are not finite", epoch, lr
            )
        if state.moco is None or keys is None:
            loss = state.loss_fn(*z.chunk(2))
        else:
            loss = state.moco.queue_loss(z, keys)
        total = loss
        if logits is not None and state.data.train_y is not None:
            total = total + F.cross_entropy(logits, state.data.train_y[indices].to(device))
    if agree(state.runtime, not math.isfinite(loss.item()))[0]:
        _diverge(state, f"the loss is {loss.item()}", epoch, lr)
    state.optimizer.zero_grad(set_to_none=True)
    if state.probe_optimizer is not None:
        state.probe_optimizer.zero_grad(set_to_none=True)
    scaler.scale(total).backward()
    if state.moco is not None:
        state.moco.enqueue()
    if state.cfg.optim.clip_grad:
        scaler.unscale_(state.optimizer)
        nn.utils.clip_grad_norm_(state.model.parameters(), state.cfg.optim.clip_grad)
    scaler.step(state.optimizer)
    if state.probe_optimizer is not None:
        scaler.step(state.probe_optimizer)
    scaler.update()
    return loss, aug_done, stop


def _diverge(state: Training, what: str, epoch: int, lr: float, step: int | None = None) -> None:
    """Raise :class:`Diverged`: ``what`` went non-finite at (0-based) ``epoch``, in the step
    being taken (or after ``step`` steps, for weights found bad before a checkpoint)."""
    kept = (
        f"the last good checkpoint ({state.saved}) is kept in {state.out / CHECKPOINT}"
        if state.saved
        else "no checkpoint was written yet"
    )
    state.close_outputs()
    raise Diverged(diverged_message(what, epoch + 1, step or state.step + 1, lr, kept))


def _checkpoint_words(epochs: int, epoch_step: int) -> str:
    """A checkpoint's place in words: ``3 epochs`` or ``3 epochs and 5 steps``."""
    done = f"{epochs} epoch{'s' * (epochs != 1)}"
    return done + (f" and {epoch_step} steps" if epoch_step else "")


def end_epoch(state: Training, record: dict[str, Any]) -> None:
    """Monitors (rank 0, every ``monitor.every`` epochs and the last), the record into the
    history, the checkpoint every ``train.checkpoint_every`` epochs and the last, then
    ``metrics.jsonl``, TensorBoard and the snapshots of ``train.save_epochs``; then the epoch's
    log line."""
    cfg, epoch = state.cfg, record["epoch"]
    last = epoch == state.schedule.epochs
    save_now = epoch % cfg.train.checkpoint_every == 0 or last
    all_rng = _gather_rng_states(state.runtime) if save_now else []  # before the monitors
    if state.runtime.is_main:
        _monitor(state, record, last)
    state.history.append(record)
    if save_now:  # before metrics.jsonl: a failed write leaves both as they were
        _write_checkpoint(state, _checkpoint_state(state, epoch, all_rng))
    if state.runtime.is_main:
        write_history(state.out / HISTORY, state.history)
        if state.board is not None:
            for key, value in record.items():
                state.board.add_scalar(key, float(value), global_step=epoch)
        if epoch in cfg.train.save_epochs:
            save_checkpoint(
                state.out / SNAPSHOTS / f"epoch_{epoch:04d}.pt",
                {"epoch": epoch, "model": state.model.state_dict()},
            )
    log = state.log if state.progress is None else _above_bar(state.progress)
    _log_record(log, record, state.schedule.epochs, time_left(state))
    barrier(state.runtime)


def _monitor(state: Training, record: dict[str, Any], last: bool) -> None:
    """Rank 0: the kNN / online-probe monitors every ``monitor.every`` epochs and the last;
    the collapse measures every epoch (``monitor.collapse``), with a warning line when the
    representation has collapsed."""
    cfg, epoch = state.cfg, record["epoch"]
    if state.data.labelled and cfg.monitor.knn and (epoch % cfg.monitor.every == 0 or last):
        record.update(
            evaluate_backbone(
                state.model.backbone,  # type: ignore[arg-type]
                state.data,
                state.eval_transform,
                state.device,
                ks=cfg.eval.knn_ks,
                temperature=cfg.eval.knn_temperature,
                linear=False,
                max_train=cfg.monitor.max_train,
                probe=state.probe,
            )
        )
    if not cfg.monitor.collapse:
        return
    record.update(
        collapse_measures(state.model, state.augment, state.train_x, state.device, cfg.train.seed)
    )
    reason = collapse_reason(record, uniform_level(state.loss_fn, state.schedule.batch_size))
    record["collapsed"] = bool(reason)
    if reason:
        state.collapse[epoch] = reason
        state.log(
            f"warning: the representation has collapsed at epoch {epoch} ({reason}); "
            "lower optim.lr or change the kernel's temperature"
        )


def _save(state: Training, epoch: int, position: int, sums: EpochSums) -> None:
    """A checkpoint after ``position`` steps of ``epoch`` (0-based; every rank calls it)."""
    checkpoint = _checkpoint_state(state, epoch, _gather_rng_states(state.runtime))
    checkpoint.update(epoch_step=position, partial=sums.as_dict())
    _write_checkpoint(state, checkpoint)
    barrier(state.runtime)


def _write_checkpoint(state: Training, checkpoint: dict[str, Any]) -> None:
    """Rank 0 writes ``checkpoint.pt``; every rank remembers it as the last good one. Weights
    that an update made non-finite are never written (:class:`Diverged` instead)."""
    tensors = [t for t in state.model.state_dict().values() if t.is_floating_point()]
    bad = sum(int((~torch.isfinite(t)).sum()) for t in tensors)  # weights and BN statistics
    if agree(state.runtime, bad > 0)[0]:
        epoch = checkpoint["epoch"] + (checkpoint.get("epoch_step", 0) > 0)
        what = f"the weights have {bad} non-finite values" if bad else "another rank's weights"
        _diverge(state, what, epoch - 1, state.optimizer.param_groups[0]["lr"], step=state.step)
    if state.runtime.is_main:
        save_checkpoint(state.out / CHECKPOINT, checkpoint)
    state.saved = _checkpoint_words(checkpoint["epoch"], checkpoint.get("epoch_step", 0))


def _checkpoint_state(state: Training, epoch: int, all_rng: list[dict[str, Any]]) -> dict:
    """Everything a resumed run needs, after ``epoch`` epochs (and, set by :func:`_save`,
    ``epoch_step`` steps of the next with its sums so far, ``partial``)."""
    return {
        "epoch": epoch,
        "step": state.step,
        "epoch_step": 0,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "probe": state.probe.state_dict() if state.probe is not None else None,
        "probe_optimizer": state.probe_optimizer.state_dict() if state.probe_optimizer else None,
        "scaler": state.scaler.state_dict(),
        "moco": state.moco.state_dict() if state.moco is not None else None,
        "rng": all_rng,
        "data": _data_signature(state),
        "history": list(state.history),  # what metrics.jsonl holds at this checkpoint
    }


def _data_signature(state: Training) -> dict[str, Any]:
    """What a checkpoint's weights and step count depend on in the data."""
    return {
        "train_size": len(state.train_x),
        "sample_shape": [int(n) for n in state.data.sample_shape],
    }


def final_metrics(state: Training) -> dict[str, Any]:
    """The run's summary; on rank 0 with the final kNN and linear evaluation on frozen backbone
    features (and the raw-input baseline when ``eval.raw_baseline``) and the history."""
    history, data = state.history, state.data
    timed_seconds = sum(r["step_seconds"] for r in history)
    timed_images = sum(r["images"] for r in history)
    metrics: dict[str, Any] = {
        "final": {},
        "images_per_second": timed_images / timed_seconds if timed_seconds else 0.0,
        "augment_share": float(np.mean([r["augment_share"] for r in history])) if history else 0.0,
        "epochs": state.schedule.epochs,
        "seconds": 0.0,
        "data": data.name,
        "train_size": len(data.train_x),
        "test_size": len(data.test_x),
        "kernel": state.loss_label,
        "world_size": state.runtime.world_size,
    }
    if state.runtime.is_main:
        if data.labelled:
            metrics.update(_final_evaluation(state))
        else:
            metrics["note"] = "no labels: kNN and linear evaluation skipped"
        metrics["seconds"] = time.perf_counter() - state.started
        if state.plan is not None:
            metrics["plan"] = state.plan.to_json()
        if history and "effective_rank" in history[-1]:
            metrics["collapse"] = _collapse_summary(state)
        metrics["history"] = history
    barrier(state.runtime)
    return metrics


def _collapse_summary(state: Training) -> dict[str, Any]:
    """The collapse monitor of the final epoch and the epochs flagged this session."""
    final = state.history[-1]
    level = uniform_level(state.loss_fn, state.schedule.batch_size)
    return {
        **{k: final[k] for k in ("alignment", "uniformity", "effective_rank")},
        "collapsed": bool(final.get("collapsed")),
        "reason": collapse_reason(final, level),
        "uniform_loss": level,
        "collapsed_epochs": [r["epoch"] for r in state.history if r.get("collapsed")],
        "rule": COLLAPSE_RULE,
    }


def _final_evaluation(state: Training) -> dict[str, Any]:
    data, evaluation = state.data, state.cfg.eval
    ks, temperature, linear = evaluation.knn_ks, evaluation.knn_temperature, evaluation.linear_probe
    found: dict[str, Any] = {
        "final": evaluate_backbone(
            state.model.backbone,  # type: ignore[arg-type]
            data,
            state.eval_transform,
            state.device,
            ks=ks,
            temperature=temperature,
            linear=linear,
            seed=state.cfg.train.seed,
        )
    }
    found.update(state.raw_metrics)
    return found


def _raw_baseline(given: TrainConfig, data: DataSplit, runtime: Runtime) -> dict[str, Any]:
    """The same kNN and linear probe on raw pixels (``raw_pixels``) or raw vectors
    (``raw_features``) when ``eval.raw_baseline`` says so; computed before training, since it
    does not depend on the model, so that its time is known when the run is planned."""
    cfg = config_lib.resolve(given, data, runtime.device.type, runtime.world_size)
    evaluation = cfg.eval
    if not (evaluation.raw_baseline and data.train_y is not None and data.test_y is not None):
        return {}
    key = "raw_pixels" if data.kind == "image" else "raw_features"
    return {
        key: evaluate_features(
            raw_inputs(data.train_x),
            data.train_y.numpy(),
            raw_inputs(data.test_x),
            data.test_y.numpy(),
            ks=evaluation.knn_ks,
            temperature=evaluation.knn_temperature,
            linear=evaluation.linear_probe,
        )
    }


def _on_device(samples: Tensor, device: torch.device) -> Tensor:
    """The training set where batches are cut from: on an accelerator when it takes at most
    ``DEVICE_DATA_BYTES`` (CIFAR's 150 MB of uint8 does), else in (pinned) host memory."""
    if device.type == "cpu":
        return samples
    if samples.numel() * samples.element_size() <= DEVICE_DATA_BYTES:
        return samples.to(device)
    return samples.pin_memory()


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


def _progress_bar(cfg: RunConfig, runtime: Runtime, total: int, done: int) -> Any:
    if not (cfg.train.progress and runtime.is_main and sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="step", dynamic_ncols=True, leave=False)


def _above_bar(progress: Any) -> Callable[[str], None]:
    """Print a line above the progress bar, which stays at the bottom."""
    return lambda text: progress.write(text, file=sys.stderr)


def _tensorboard(out: Path) -> Any:
    """A TensorBoard writer into ``out/tensorboard`` when tensorboard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _log_record(
    log: Callable[[str], None], record: dict[str, Any], epochs: int, left: float
) -> None:
    extra = "".join(
        f" {k}={record[k]:.3f}" for k in ("knn_top1_k20", "online_linear_top1") if k in record
    )
    log(
        f"epoch {record['epoch']}/{epochs} loss={record['loss']:.4f} lr={record['lr']:.2e} "
        f"img/s={record['images_per_second']:.0f}{extra} left {duration(left)}"
    )
