"""One configuration of the loss benchmark, in its own process (so peak memory is its own).

Run by ``contrastlab bench loss``; prints one JSON line per path. With ``--queue K`` it measures
``losses.QueueInfoNCE`` instead: B queries against a queue of K keys, blockwise (fused and
recompute backward) and dense, with the floor of the two ``B x K x d`` products that loss cannot
avoid (``q @ queue.T`` forward and the gradient's ``dL/dlogits @ queue`` backward; keys and
queue take no gradient).

On the CPU, peak extra memory
is the growth of the resident set during one forward+backward: the kernel's high-water mark is
reset (``/proc/self/clear_refs``) just before, and ``MALLOC_MMAP_THRESHOLD_`` set by the parent
makes large tensors go straight to the OS, so freed blocks do not hide new allocations. On CUDA
it is ``torch.cuda.max_memory_allocated`` above the memory allocated before the step, and every
timed call ends with ``torch.cuda.synchronize``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from contrastlab import kernels, losses

PROC = Path("/proc/self")


def _rss_kb(field: str) -> int:
    for line in (PROC / "status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_extra_mb(step: Callable[[], None], device: torch.device | None = None) -> float:
    """MB the resident set (CPU, Linux only) or the CUDA allocator grows above its level at the
    start of ``step``."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        return max(0, torch.cuda.max_memory_allocated(device) - start) / 2**20
    try:
        (PROC / "clear_refs").write_text("5")
    except OSError:
        return float("nan")
    before = _rss_kb("VmRSS")
    step()
    return max(0, _rss_kb("VmHWM") - before) / 1024.0


def median_seconds(
    step: Callable[[], None], repeats: int, device: torch.device | None = None
) -> float:
    """Median wall seconds of ``step`` over ``repeats`` calls (each waits for the GPU)."""
    cuda = device is not None and device.type == "cuda"
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paths", default="blockwise,dense,lightly")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--queue", type=int, default=0, help="queue rows K (0: two-view rows)")
    args = parser.parse_args()
    torch.manual_seed(0)
    batch, dim, device = args.batch, args.dim, torch.device(args.device)
    if args.queue:
        queue_rows(args.kernel, batch, args.queue, dim, args.repeats, device)
        return
    z1 = torch.randn(batch, dim, device=device, requires_grad=True)
    z2 = torch.randn(batch, dim, device=device, requires_grad=True)
    # The floor: the three (2B x 2B x d) products the loss cannot avoid, on the same sizes.
    z = torch.randn(2 * batch, dim, device=device)
    g = torch.randn(2 * batch, 2 * batch, device=device)

    def floor() -> None:
        _ = z @ z.T
        _ = g @ z
        _ = g.T @ z

    kernel = _kernel(args.kernel, dim)
    candidates: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {}
    for path in args.paths.split(","):
        if path == "blockwise":
            candidates[path] = losses.KernelInfoNCE(kernel, path="blockwise")
        elif path == "dense":
            candidates[path] = losses.KernelInfoNCE(kernel, path="dense")
        elif path == "lightly" and isinstance(kernel, kernels.Cosine):
            try:
                from lightly.loss import NTXentLoss
            except ImportError:
                continue
            candidates[path] = NTXentLoss(temperature=kernel.t)
    floor()
    for path, loss_fn in candidates.items():

        def step(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = loss_fn) -> None:
            z1.grad = z2.grad = None
            fn(z1, z2).backward()

        step()  # warm-up (and the one-off compile, where it applies)
        memory = peak_extra_mb(step, device)
        seconds = median_seconds(step, args.repeats, device)
        floor_seconds = median_seconds(floor, args.repeats, device)
        row = {
            "kernel": args.kernel,
            "batch": batch,
            "device": str(device),
            "path": path,
            "seconds": seconds,
            "floor_seconds": floor_seconds,
            "ratio_to_floor": seconds / floor_seconds,
            "peak_mb": memory,
        }
        print(json.dumps(row), flush=True)


def _kernel(name: str, dim: int) -> kernels.Kernel:
    return kernels.from_name(name, dim=dim) if name == "concat" else kernels.from_name(name)


def queue_rows(
    kernel_name: str, batch: int, size: int, dim: int, repeats: int, device: torch.device
) -> None:
    """Print the queue loss's rows: blockwise and dense against the ``B x K x d`` product floor."""
    kernel = _kernel(kernel_name, dim)
    q = torch.randn(batch, dim, device=device, requires_grad=True)
    k = torch.randn(batch, dim, device=device)
    queue = torch.randn(size, dim, device=device)
    g = torch.randn(batch, size, device=device)

    def floor() -> None:
        _ = q.detach() @ queue.T
        _ = g @ queue

    floor()
    variants = {
        "blockwise": losses.QueueInfoNCE(kernel, path="blockwise"),
        "recompute": losses.QueueInfoNCE(kernel, path="blockwise", backward="recompute"),
        "dense": losses.QueueInfoNCE(kernel, path="dense"),
    }
    for path, loss_fn in variants.items():

        def step(fn: losses.QueueInfoNCE = loss_fn) -> None:
            q.grad = None
            fn(q, k, queue).backward()

        step()
        memory = peak_extra_mb(step, device)
        seconds = median_seconds(step, repeats, device)
        floor_seconds = median_seconds(floor, repeats, device)
        row = {
            "kernel": kernel_name,
            "batch": batch,
            "queue": size,
            "device": str(device),
            "path": path,
            "seconds": seconds,
            "floor_seconds": floor_seconds,
            "ratio_to_floor": seconds / floor_seconds,
            "peak_mb": memory,
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
