"""The engine's automatic block size follows the device: 16 MiB of logits per block on the CPU,
a share of the free memory on CUDA, clamped; the rule is written out here independently."""

from __future__ import annotations

import pytest
import torch

from contrastlab import losses
from contrastlab.losses.options import EngineOptions, block_bytes

MiB = 2**20


def expected_cuda_bytes(free: int) -> int:
    return min(max(free // 64, 64 * MiB), 1024 * MiB)


@pytest.mark.parametrize("device", [None, "cpu", torch.device("cpu")])
def test_cpu_blocks_aim_at_16_mib(device) -> None:
    assert block_bytes(device) == 16 * MiB
    assert EngineOptions().rows_per_block(8192, 8192, device) == 16 * MiB // (4 * 8192)


@pytest.mark.parametrize("free", [0, MiB, 4096 * MiB, 16 * 1024 * MiB, 139 * 1024 * MiB])
def test_cuda_blocks_take_a_clamped_share_of_free_memory(free) -> None:
    # the free memory is given, so this rule is checked without a GPU
    assert block_bytes("cuda", free=free) == expected_cuda_bytes(free)
    assert block_bytes(torch.device("cuda", 0), free=free) == expected_cuda_bytes(free)


def test_rows_per_block_stay_within_one_and_n() -> None:
    opts = EngineOptions()
    assert opts.rows_per_block(10, 10, "cpu") == 10  # small: one block
    assert opts.rows_per_block(10**6, 10**9, "cpu") == 1  # huge rows: at least one
    assert EngineOptions(block_size=7).rows_per_block(100, 100, "cuda") == 7  # given: kept


def test_negative_free_memory_is_refused() -> None:
    with pytest.raises(ValueError, match="free memory"):
        block_bytes("cuda", free=-1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_block_size_comes_from_the_devices_free_memory() -> None:
    free = torch.cuda.mem_get_info()[0]
    got = block_bytes("cuda")
    assert got == expected_cuda_bytes(free) or abs(got - expected_cuda_bytes(free)) <= 64 * MiB
    assert losses.block_bytes is block_bytes
