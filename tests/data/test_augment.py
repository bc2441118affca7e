"""Batched augmentation: per-sample parameters, shapes and ranges, seeds, the geometry itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from contrastlab.data.augment import (
    PRESETS,
    EvalTransform,
    ImageAugment,
    VectorAugment,
    channel_stats,
    choose_preset,
    image_settings,
    random_affine_matrices,
)
from contrastlab.errors import InputError


def _batch(n: int = 16, channels: int = 1, size: int = 16) -> torch.Tensor:
    """n copies of one image with structure everywhere (a gradient plus a bright square)."""
    ramp = torch.linspace(0, 200, size)
    image = (ramp[None, :] + ramp[:, None] / 4).repeat(channels, 1, 1)
    image[:, 3:7, 9:13] = 255
    if channels == 3:
        image[1] *= 0.5
    return image.clamp(0, 255).to(torch.uint8).expand(n, -1, -1, -1).contiguous()


@pytest.mark.parametrize("preset,channels", [("small_gray", 1), ("cifar", 3), ("imagenet", 3)])
def test_parameters_differ_within_a_batch(preset: str, channels: int) -> None:
    torch.manual_seed(0)
    views = ImageAugment(PRESETS[preset])(_batch(16, channels, 32))
    flat = views.reshape(16, -1)
    distances = torch.cdist(flat, flat)
    off_diagonal = distances[~torch.eye(16, dtype=torch.bool)]
    assert off_diagonal.min() > 1e-3  # identical inputs, sixteen different outputs


def test_shapes_ranges_and_normalisation() -> None:
    batch = _batch(8, 3, 20)
    torch.manual_seed(1)
    plain = ImageAugment(PRESETS["cifar"])(batch)
    assert plain.shape == (8, 3, 20, 20) and plain.dtype == torch.float32
    assert plain.min() >= 0 and plain.max() <= 1
    torch.manual_seed(1)
    normalised = ImageAugment(PRESETS["cifar"], mean=[0.5, 0.4, 0.3], std=[0.2, 0.2, 0.25])(batch)
    expected = (plain - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor(
        [0.2, 0.2, 0.25]
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(normalised, expected)
    cropped = ImageAugment(PRESETS["imagenet"], output_size=12)(batch)
    assert cropped.shape == (8, 3, 12, 12)
    assert EvalTransform(output_size=12)(batch).shape == (8, 3, 12, 12)


def test_seeds_reproduce() -> None:
    augment = ImageAugment(PRESETS["cifar"])
    batch = _batch(8, 3, 16)
    torch.manual_seed(3)
    first = augment(batch)
    second = augment(batch)
    torch.manual_seed(3)
    assert torch.equal(augment(batch), first)
    assert not torch.equal(first, second)


def test_identity_and_flip_are_exact() -> None:
    batch = _batch(4, 1, 16)
    none = ImageAugment(PRESETS["none"], mean=[0.0], std=[1.0])(batch)
    torch.testing.assert_close(none, batch.float() / 255)
    flip_only = image_settings("none", hflip=1.0)
    flipped = ImageAugment(flip_only)(batch)
    torch.testing.assert_close(flipped, batch.float().flip(-1) / 255, atol=1e-5, rtol=0)


def test_crop_matrices_follow_the_sampled_area_and_ratio() -> None:
    settings = image_settings("cifar", crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0), hflip=0.0)
    torch.manual_seed(0)
    matrix = random_affine_matrices(1000, settings)
    # half-extent 0.5 of the normalised square = a crop of a quarter of the area
    torch.testing.assert_close(matrix[:, 0, 0], torch.full((1000,), 0.5))
    torch.testing.assert_close(matrix[:, 1, 1], torch.full((1000,), 0.5))
    # centres keep the crop inside the image and spread over the allowed range
    centres = matrix[:, :, 2]
    assert centres.abs().max() <= 0.5 and centres.abs().max() > 0.45
    wide = image_settings("cifar", crop_scale=(0.3, 0.3), crop_ratio=(2.0, 2.0), hflip=0.0)
    m = random_affine_matrices(10, wide)
    width, height = m[:, 0, 0], m[:, 1, 1]
    torch.testing.assert_close(width / height, torch.full((10,), 2.0))
    torch.testing.assert_close(width * height, torch.full((10,), 0.3))
    rotated = image_settings(
        "small_gray", crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), rotation=30.0
    )
    m = random_affine_matrices(500, rotated)
    angles = torch.atan2(m[:, 1, 0], m[:, 0, 0])
    assert angles.abs().max() <= math.radians(30) + 1e-6 and angles.abs().max() > math.radians(25)


def test_presets_and_settings_validation() -> None:
    assert choose_preset((1, 8, 8)) == "small_gray"
    assert choose_preset((3, 32, 32)) == "cifar"
    assert choose_preset((3, 224, 224)) == "imagenet"
    assert (
        PRESETS["cifar"].color_jitter == (0.4, 0.4, 0.4, 0.1)
        and PRESETS["cifar"].color_jitter_p == 0.8
    )
    with pytest.raises(InputError, match="unknown augmentation preset"):
        image_settings("fancy")
    with pytest.raises(InputError, match="crop_scale"):
        image_settings("cifar", crop_scale=[0.5, 0.2])
    with pytest.raises(InputError, match="probability"):
        image_settings("cifar", hflip=2.0)
    with pytest.raises(InputError, match="unknown augmentation setting"):
        image_settings("cifar", sharpness=1.0)


def test_vector_noise_and_mixup() -> None:
    torch.manual_seed(0)
    x = torch.randn(4000, 3) * torch.tensor([1.0, 10.0, 0.1])
    std = x.std(dim=0)
    noisy = VectorAugment(noise=0.5, feature_std=std)(x)
    ratio = (noisy - x).std(dim=0) / std
    torch.testing.assert_close(ratio, torch.full((3,), 0.5), atol=0.03, rtol=0)
    pair = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    mixed = VectorAugment(noise=0.0, mixup=0.4)(pair.repeat(500, 1))
    # each row moves at most 40% of the way towards a random partner, along the diagonal
    assert torch.allclose(mixed[:, 0], mixed[:, 1])
    assert mixed[0::2, 0].max() <= 0.4 + 1e-6 and mixed[1::2, 0].min() >= 0.6 - 1e-6
    double = VectorAugment(function="operator:neg")(pair)
    assert torch.equal(double, -pair)
    with pytest.raises(InputError, match="cannot be imported"):
        VectorAugment(function="operator:no_such_function")
    with pytest.raises(InputError, match="mixup"):
        VectorAugment(mixup=1.5)


def test_channel_stats_match_numpy() -> None:
    images = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (50, 3, 6, 6), dtype=np.uint8)
    )
    mean, std = channel_stats(images)
    reference = images.numpy().astype(np.float64) / 255
    np.testing.assert_allclose(mean, reference.mean(axis=(0, 2, 3)), atol=1e-5)
    np.testing.assert_allclose(std, reference.std(axis=(0, 2, 3), ddof=1), atol=1e-5)
