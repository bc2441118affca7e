"""A run's plan from a time budget: which backbone, how many epochs, and how long it will take.

Before a fresh run trains, :func:`plan_run` times a few real training steps of each candidate
backbone (:data:`SMALL_IMAGE_LADDER`, smallest first) on the run's own device, data, batch size,
augmentation and loss, and picks the largest candidate that can train at least
:data:`MIN_PAIRS` augmented pairs (``max(MIN_EPOCHS, MIN_PAIRS / n)`` epochs) within
``train.time_budget`` seconds; the epochs are then as many as fit :data:`HEADROOM` (90 %) of
the budget (the rest absorbs the estimate's error), at most
``max(MIN_EPOCHS, MAX_PAIRS / n)``. The estimate of the whole run is

    ``startup + E * S * t_step + M * (n_bank + n_test) * t_fwd + C * t_ckpt``
    ``+ (n_train + n_test) * t_fwd + t_probe``

with ``E`` epochs of ``S`` steps, ``M`` monitor passes (every ``monitor.every`` epochs and the
last), ``C`` checkpoints, ``t_step`` the median of the timed steps, ``t_fwd`` one image's
evaluation forward pass, ``t_ckpt`` one checkpoint's serialisation and ``t_probe`` one fit of
the final linear probe on features of the candidate's width (timed on Gaussian features with
the run's labels). The raw-pixel baseline, which does not depend on the model, is computed before
planning and its measured time is part of ``startup``.

On a CPU with ``train.threads`` not given, the smallest candidate's step is first timed on
torch's threads and on one thread, and the run takes one thread when that is faster (on a
machine shared with other work, waiting OpenMP threads slow small models many times over);
the choice is written to ``config.yaml`` as ``train.threads``.

What the user gives is kept: an explicit ``model.backbone`` (or ``model.widths``) is the model;
explicit ``train.epochs`` is the length. With explicit epochs and no model the backbone is the
deterministic rule of :func:`contrastlab.train.config.resolve` (so experiments that fix their
length, and the supervised twin of :mod:`contrastlab.experiments.rld`, get the same model on
every machine); the estimate is printed in every case. ``train.time_budget``: ``auto`` is
``config.CPU_BUDGET_SECONDS`` (10 minutes) on a CPU and none on an accelerator (the
paper recipes: ResNet-18, 100 epochs; the estimate is still measured and printed); ``null``
turns planning off altogether (nothing measured, no estimate: the rules of ``resolve``).
Under ``torchrun`` nothing is measured either (the ranks would have to agree on timings).

:func:`choose_plan` is the deterministic part (measured costs in, plan out), tested with given
step times; :func:`measure_costs` is the measuring part, tested with real short timings.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from contrastlab.data.sources import DataSplit
from contrastlab.settings import AUTO, to_mapping
from contrastlab.train.config import merge, resolve
from contrastlab.train.loop import torch_threads
from contrastlab.train.sections import RunConfig, TrainConfig, train_config

# 300,000 pairs: on CIFAR-dev (2,236 images) small_cnn 32-64-128 for 138 epochs (309k pairs)
# reached kNN 0.47 / linear 0.54, small_cnn 64-128-256 for 57 epochs (127k pairs) 0.43 / 0.47.
MIN_PAIRS = 300_000
MAX_PAIRS = 1_000_000
MIN_EPOCHS = 10
# The share of the budget a plan fills when it chooses the length: the estimate ran 5-7 % short
# on a quiet machine (CIFAR-dev, 10-minute budget: 598 s estimated, 637 s from start to end).
HEADROOM = 0.9
TIMED_STEPS = 3
PROBE_BATCH = 32


@dataclass(frozen=True)
class Candidate:
    """A backbone the planner may pick: a name and, for ``small_cnn``, its widths."""

    backbone: str
    widths: tuple[int, ...] | None = None

    @property
    def label(self) -> str:
        """``small_cnn 64-128-256``, or the bare name."""
        if not self.widths:
            return self.backbone
        return f"{self.backbone} {'-'.join(str(w) for w in self.widths)}"


#: Candidates for images of at most 64 pixels on a CPU, smallest first.
SMALL_IMAGE_LADDER: tuple[Candidate, ...] = (
    Candidate("small_cnn", (32, 64, 128)),
    Candidate("small_cnn", (64, 128, 256)),
    Candidate("small_cnn", (128, 256, 512)),
    Candidate("resnet18"),
)


@dataclass(frozen=True)
class Costs:
    """Measured costs of one candidate, in seconds (see the module docstring)."""

    step: float
    forward_per_image: float = 0.0
    checkpoint: float = 0.0
    probe: float = 0.0


@dataclass(frozen=True)
class RunShape:
    """What the estimate needs to know about the run besides the costs.

    Attributes:
        train_size, test_size: samples in each split.
        steps_per_epoch: full batches per epoch.
        monitor_bank: training samples the kNN monitor embeds (0: no monitor).
        monitor_every: epochs between monitors (``None``: about ten over the run).
        checkpoint_every: epochs between checkpoints.
        final_eval: whether the final kNN / probe evaluation runs (labelled data).
        startup: seconds already spent (loading, the raw baseline, the measuring itself).
    """

    train_size: int
    test_size: int
    steps_per_epoch: int
    monitor_bank: int = 0
    monitor_every: int | None = None
    checkpoint_every: int = 1
    final_eval: bool = True
    startup: float = 0.0


@dataclass(frozen=True)
class Plan:
    """The chosen model and length and the estimated time of the whole run.

    ``chosen`` says what decided: ``"budget"`` (the planner picked the backbone and the
    epochs), ``"epochs from budget"`` (the model was given), ``"given"`` (both were given or
    no budget applies). ``measured`` maps each candidate timed to its seconds per step.
    """

    candidate: Candidate
    epochs: int
    estimate_seconds: float
    train_seconds: float
    budget_seconds: float | None
    chosen: str
    measured: dict[str, float]
    fits: bool = True
    final_seconds: float = 0.0
    threads: int | None = None
    thread_step_seconds: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        """``small_cnn 64-128-256, 120 epochs, about 6 min (budget 10 min, chosen by budget)``."""
        budget = f"budget {duration(self.budget_seconds)}" if self.budget_seconds else "no budget"
        warning = "" if self.fits else "; over the budget"
        threads = "; one thread: faster here" if self.threads == 1 else ""
        return (
            f"{self.candidate.label}, {self.epochs} epochs, about "
            f"{duration(self.estimate_seconds)} ({budget}, {self.chosen}{warning}{threads})"
        )

    def to_json(self) -> dict[str, Any]:
        """The plan as ``metrics.json`` records it."""
        found = asdict(self)
        found["candidate"] = self.candidate.label
        found["backbone"] = self.candidate.backbone
        found["widths"] = list(self.candidate.widths) if self.candidate.widths else None
        return found


def duration(seconds: float | None) -> str:
    """``45 s``, ``6 min``, ``1.5 h``."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def epoch_range(train_size: int) -> tuple[int, int]:
    """``(least, most)`` epochs a budgeted run trains: ``MIN_PAIRS`` and ``MAX_PAIRS``
    augmented pairs over ``train_size`` samples, never below ``MIN_EPOCHS``."""
    size = max(1, train_size)
    least = max(MIN_EPOCHS, math.ceil(MIN_PAIRS / size))
    return least, max(least, math.ceil(MAX_PAIRS / size))


def monitor_every(epochs: int, given: int | None) -> int:
    """Epochs between monitors: ``given``, or about ten monitors over the run."""
    return given if given is not None else max(1, math.ceil(epochs / 10))


def estimate(costs: Costs, shape: RunShape, epochs: int) -> tuple[float, float]:
    """``(training steps' seconds, whole run's seconds)`` of ``epochs`` epochs (the formula of
    the module docstring)."""
    train = epochs * shape.steps_per_epoch * costs.step
    every = monitor_every(epochs, shape.monitor_every)
    monitors = len({*range(every, epochs + 1, every), epochs}) if shape.monitor_bank else 0
    checkpoints = len({*range(shape.checkpoint_every, epochs + 1, shape.checkpoint_every), epochs})
    extra = monitors * (shape.monitor_bank + shape.test_size) * costs.forward_per_image
    extra += checkpoints * costs.checkpoint
    extra += final_seconds(costs, shape)
    return train, shape.startup + train + extra


def final_seconds(costs: Costs, shape: RunShape) -> float:
    """The final evaluation's share of the estimate (features of both splits, the probe)."""
    if not shape.final_eval:
        return 0.0
    return (shape.train_size + shape.test_size) * costs.forward_per_image + costs.probe


def epochs_within(costs: Costs, shape: RunShape, budget: float, most: int) -> int:
    """The most epochs (at most ``most``, else 0) whose whole run fits ``budget`` seconds."""
    low, high = 0, most
    while low < high:  # the estimate grows with the epochs
        middle = (low + high + 1) // 2
        if estimate(costs, shape, middle)[1] <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def choose_plan(
    measured: Sequence[tuple[Candidate, Costs]],
    shape: RunShape,
    budget: float | None,
    epochs: int | None = None,
    chosen: str = "budget",
) -> Plan:
    """Pick the largest candidate of ``measured`` (smallest first) whose run fits ``budget``
    seconds, and its length.

    Without ``epochs``, a candidate fits when at least :func:`epoch_range`'s least epochs fit
    within :data:`HEADROOM` of the budget, and the run trains as many epochs as fit there (at
    most the range's most); with ``epochs``, it fits when the run of ``epochs`` fits the whole
    budget. The first candidate that does not fit ends the search
    (the larger ones cost more). When even the smallest does not fit it is taken anyway, with
    as many epochs as fit (at least 1) or the given ones, and ``fits=False``. Without a budget:
    the smallest candidate and ``epochs``.

    Raises:
        ValueError: no candidate, or neither ``budget`` nor ``epochs``.
    """
    if not measured:
        raise ValueError("choose_plan needs at least one measured candidate")
    if budget is None and epochs is None:
        raise ValueError("choose_plan needs a budget or a number of epochs")
    least, most = epoch_range(shape.train_size)
    target = budget if budget is None or epochs is not None else budget * HEADROOM

    def length_of(costs: Costs) -> int:
        if epochs is not None:
            return epochs
        assert target is not None
        return epochs_within(costs, shape, target, most)

    def fits(costs: Costs, length: int) -> bool:
        if target is None:
            return True
        return length >= least if epochs is None else estimate(costs, shape, length)[1] <= target

    pick, costs = measured[0]
    length = length_of(costs)
    ok = fits(costs, length)
    for candidate, candidate_costs in measured[1:]:
        candidate_length = length_of(candidate_costs)
        if not ok or not fits(candidate_costs, candidate_length):
            break
        pick, costs, length = candidate, candidate_costs, candidate_length
    train_s, total_s = estimate(costs, shape, max(1, length))
    times = {c.label: k.step for c, k in measured}
    final_s = final_seconds(costs, shape)
    return Plan(pick, max(1, length), total_s, train_s, budget, chosen, times, ok, final_s)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_costs(
    cfg: Any,
    data: DataSplit,
    device: torch.device,
    *,
    timed_steps: int = TIMED_STEPS,
    batch_size: int | None = None,
    probe: bool = False,
) -> Costs:
    """Time a resolved configuration's training step on ``data`` (the median of
    ``timed_steps`` after one warm-up step), one image's evaluation forward pass, one
    checkpoint's serialisation and (``probe``) one linear-probe fit on Gaussian features of the
    backbone's width. Torch's random state is restored afterwards.

    Args:
        cfg: a :class:`~contrastlab.train.sections.RunConfig` (no ``auto`` left).
        data: the run's data (the first ``batch_size`` training samples are used).
        device: where the run trains.
        timed_steps: steps timed after the warm-up, >= 1.
        batch_size: samples per step (default the configuration's batch).
        probe: also time the final linear probe (the run's labels, random features).
    """
    from contrastlab.train.components import build_kernel, build_loss, build_model, build_transforms
    from contrastlab.train.optim import build_optimizer, parameter_groups

    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        kernel = build_kernel(cfg.loss.kernel, cfg.model.projector_dim)
        loss_fn = build_loss(cfg.loss.kernel, cfg.model.projector_dim, cfg.loss.block_size)
        is_image = data.kind == "image"
        std = None if is_image else data.train_x.float().std(dim=0).clamp_min(1e-8).to(device)
        augment, eval_transform = (t.to(device) for t in build_transforms(cfg, is_image, std))
        model = build_model(cfg, data.sample_shape, kernel).to(device)
        groups = parameter_groups([model], cfg.optim.weight_decay)
        optimizer = build_optimizer(cfg.optim.name, groups, lr=cfg.optim.lr)
        x = data.train_x[: batch_size or cfg.optim.batch_size].to(device)
        amp = device.type == "cuda" and cfg.train.amp

        def step() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                z = model(torch.cat([augment(x), augment(x)]))[1]
                loss = loss_fn(*z.float().chunk(2))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()

        step_s = statistics.median(_timed(step, device, 1 + timed_steps)[1:])
        forward_s = _forward_seconds(model.backbone, eval_transform, x, device)
        tick = time.perf_counter()
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        torch.serialization.save(state, io.BytesIO())  # in memory: not a checkpoint write
        checkpoint_s = time.perf_counter() - tick
    width: int = model.backbone.feature_dim  # type: ignore[assignment]  # set by every backbone
    probe_s = _probe_seconds(data, width) if probe else 0.0
    return Costs(step_s, forward_s, checkpoint_s, probe_s)


def _timed(call: Callable[[], None], device: torch.device, times: int) -> list[float]:
    found = []
    for _ in range(times):
        _sync(device)
        tick = time.perf_counter()
        call()
        _sync(device)
        found.append(time.perf_counter() - tick)
    return found


@torch.no_grad()
def _forward_seconds(
    backbone: nn.Module, transform: nn.Module, x: torch.Tensor, device: torch.device
) -> float:
    """One image's share of an evaluation-mode forward pass over ``x`` (after a warm-up)."""
    backbone.eval()
    seconds = _timed(lambda: backbone(transform(x)).float().cpu(), device, 2)[1]
    backbone.train()
    return seconds / len(x)


def _probe_seconds(data: DataSplit, width: int) -> float:
    """Seconds of one :func:`contrastlab.analysis.linear_probe` fit on Gaussian features of
    ``width`` with the run's labels (the final probe's cost; 0 for unlabelled data)."""
    from contrastlab import analysis

    if data.train_y is None or data.test_y is None:
        return 0.0
    rng = np.random.default_rng(0)
    train = rng.standard_normal((len(data.train_y), width)).astype(np.float32)
    test = rng.standard_normal((len(data.test_y), width)).astype(np.float32)
    tick = time.perf_counter()
    analysis.linear_probe(train, data.train_y.numpy(), test, data.test_y.numpy())
    return time.perf_counter() - tick


def plan_run(
    given: TrainConfig, data: DataSplit, device: torch.device, started: float
) -> tuple[TrainConfig, Plan | None]:
    """The plan of a fresh single-process run (the rules of the module docstring) and
    ``given`` with the plan's backbone, widths and epochs filled in.

    Args:
        given: the configuration as given (``auto`` values allowed).
        data: the loaded data.
        device: where the run trains (the candidates are timed there).
        started: the run's ``time.perf_counter()`` at its start (for the estimate's startup).

    Returns:
        The configuration to train and the plan; ``given`` and ``None`` when
        ``train.time_budget`` is ``null`` (planning off).
    """
    if given.train.time_budget is None:
        return given, None
    base = resolve(given, data, device.type)
    budget = base.train.time_budget
    fixed_epochs = None if given.train.epochs == AUTO else int(given.train.epochs)
    model_given = given.model.backbone != AUTO or given.model.widths is not None
    default = Candidate(base.model.backbone, base.model.widths)
    ladder: Sequence[Candidate] = (default,)
    chosen = "given" if fixed_epochs is not None or budget is None else "epochs from budget"
    if budget is not None and not model_given and fixed_epochs is None and _small_image(data):
        ladder, chosen = SMALL_IMAGE_LADDER, "budget"
    if budget is None and fixed_epochs is None:
        fixed_epochs = base.train.epochs  # the recipe's length
    threads, per_thread = choose_threads(given, ladder[0], data, device)
    if threads is not None:
        given = train_config(merge(to_mapping(given), {"train": {"threads": threads}}))
    measured: list[tuple[Candidate, Costs]] = []
    with torch_threads(given.train.threads):
        for candidate in ladder:
            cfg = resolve(with_candidate(given, candidate, fixed_epochs or 1), data, device.type)
            if measured and not _may_fit(cfg, data, device, started, budget, fixed_epochs):
                break
            measured.append((candidate, measure_costs(cfg, data, device)))
    plan = choose_plan(measured, _shape(base, data, given, started), budget, fixed_epochs, chosen)
    plan = replace(plan, threads=threads, thread_step_seconds=per_thread)
    if data.labelled and base.eval.linear_probe:  # the final probe's cost, for the pick only
        cfg = resolve(with_candidate(given, plan.candidate, plan.epochs), data, device.type)
        width = measure_width(cfg, data)
        costs = replace(dict(measured)[plan.candidate], probe=_probe_seconds(data, width))
        shape = _shape(base, data, given, started)
        again = choose_plan([(plan.candidate, costs)], shape, budget, fixed_epochs, chosen)
        plan = replace(
            again,
            measured=plan.measured,
            fits=again.fits and plan.fits,
            threads=threads,
            thread_step_seconds=per_thread,
        )
    return train_config(with_candidate(given, plan.candidate, plan.epochs)), plan


def choose_threads(
    given: TrainConfig, candidate: Candidate, data: DataSplit, device: torch.device
) -> tuple[int | None, dict[str, float]]:
    """One thread when a step of ``candidate`` on one thread is faster than on torch's
    threads, else ``None`` (as they are); with the steps' seconds of each. Only on a CPU with
    ``train.threads`` not given and more than one thread: on a machine shared with other
    work, waiting OpenMP threads made small models many times slower (here a CIFAR-sized
    ``small_cnn`` ran at 21 images/s on two threads of a busy machine)."""
    many = torch.get_num_threads()
    if device.type != "cpu" or given.train.threads is not None or many < 2:
        return None, {}
    cfg = resolve(with_candidate(given, candidate, 1), data, device.type)
    found = {str(many): measure_costs(cfg, data, device, timed_steps=2).step}
    with torch_threads(1):
        found["1"] = measure_costs(cfg, data, device, timed_steps=2).step
    return (1 if found["1"] < found[str(many)] else None), found


def with_candidate(given: TrainConfig, candidate: Candidate, epochs: int) -> dict[str, Any]:
    """``given`` as a mapping with ``candidate``'s backbone and widths and ``epochs``."""
    model = {"backbone": candidate.backbone, "widths": candidate.widths}
    return merge(to_mapping(given), {"model": model, "train": {"epochs": epochs}})


def measure_width(cfg: RunConfig, data: DataSplit) -> int:
    """The backbone's feature width under ``cfg`` (built on the CPU, RNG state kept)."""
    from contrastlab.models import build_backbone

    with torch.random.fork_rng(devices=[]):
        backbone = build_backbone(
            cfg.model.backbone, data.sample_shape, cifar_stem=cfg.model.cifar_stem,
            widths=cfg.model.widths,
        )  # fmt: skip
    return int(backbone.feature_dim)  # type: ignore[arg-type]


def _small_image(data: DataSplit) -> bool:
    shape = tuple(data.sample_shape)
    return data.kind == "image" and len(shape) == 3 and max(shape[1:]) <= 64


def _may_fit(
    cfg: RunConfig,
    data: DataSplit,
    device: torch.device,
    started: float,
    budget: float | None,
    epochs: int | None,
) -> bool:
    """Whether a candidate could fit, from one step on :data:`PROBE_BATCH` samples scaled to
    the batch and halved (optimistic: small batches pay fixed costs); a candidate that fails
    even so is not timed at the full batch (a ResNet step on a CPU takes many seconds)."""
    if budget is None:
        return True
    small = min(PROBE_BATCH, cfg.optim.batch_size)
    quick = measure_costs(cfg, data, device, timed_steps=1, batch_size=small)
    scaled = Costs(step=quick.step * cfg.optim.batch_size / small / 2)
    shape = RunShape(len(data.train_x), len(data.test_x), len(data.train_x) // cfg.optim.batch_size)
    shape = replace(shape, startup=time.perf_counter() - started)
    least, most = epoch_range(len(data.train_x))
    if epochs is not None:
        return estimate(scaled, shape, epochs)[1] <= budget
    return epochs_within(scaled, shape, budget, most) >= least


def _shape(base: RunConfig, data: DataSplit, given: TrainConfig, started: float) -> RunShape:
    """The run's :class:`RunShape` under its resolved configuration ``base``."""
    n = len(data.train_x)
    labelled = data.labelled
    step = max(1, n // base.monitor.max_train)
    return RunShape(
        train_size=n,
        test_size=len(data.test_x),
        steps_per_epoch=n // base.optim.batch_size,
        monitor_bank=math.ceil(n / step) if labelled and base.monitor.knn else 0,
        monitor_every=None if given.monitor.every == AUTO else int(given.monitor.every),
        checkpoint_every=base.train.checkpoint_every,
        final_eval=labelled,
        startup=time.perf_counter() - started,
    )
