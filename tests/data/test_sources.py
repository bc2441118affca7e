"""Data sources on small generated files, including every bad-input case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contrastlab.data.sources import load_source
from contrastlab.errors import InputError


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _images(n: int, shape: tuple[int, ...] = (12, 12), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def test_digits_split_is_stratified_and_seeded() -> None:
    data = load_source("digits")
    assert data.kind == "image" and data.train_x.dtype == torch.uint8
    assert tuple(data.train_x.shape) == (1437, 1, 8, 8) and tuple(data.test_x.shape) == (
        360,
        1,
        8,
        8,
    )
    assert int(data.train_x.max()) == 255
    counts = np.bincount(data.test_y.numpy())
    assert counts.min() >= 35 and counts.max() <= 37  # 20% of each class (174-183 per class)
    again = load_source("digits")
    assert torch.equal(again.test_x, data.test_x)
    other = load_source("digits", split_seed=1)
    assert not torch.equal(other.test_y, data.test_y)


def test_npz_grayscale_and_colour(tmp_path: Path) -> None:
    labels = np.repeat(np.arange(4), 10)
    gray = load_source(f"npz:{_npz(tmp_path / 'g.npz', images=_images(40), labels=labels)}")
    assert tuple(gray.train_x.shape) == (32, 1, 12, 12) and len(gray.test_x) == 8
    assert sorted(np.bincount(gray.test_y.numpy())) == [2, 2, 2, 2]
    colour_images = _images(40, (10, 10, 3))
    colour = load_source(str(_npz(tmp_path / "c.npz", images=colour_images, labels=labels)))
    assert tuple(colour.sample_shape) == (3, 10, 10)
    # channels moved first, values untouched
    index = int(
        np.where((colour_images == colour.train_x[0].permute(1, 2, 0).numpy()).all(axis=(1, 2, 3)))[
            0
        ][0]
    )
    assert labels[index] == int(colour.train_y[0])


def test_npz_with_own_test_split_and_unlabelled(tmp_path: Path) -> None:
    path = _npz(
        tmp_path / "t.npz",
        images=_images(20),
        labels=np.arange(20) % 2,
        test_images=_images(6, seed=1),
        test_labels=np.arange(6) % 2,
    )
    data = load_source(f"npz:{path}")
    assert len(data.train_x) == 20 and len(data.test_x) == 6
    assert torch.equal(data.test_x[:, 0], torch.from_numpy(_images(6, seed=1)))
    unlabelled = load_source(f"npz:{_npz(tmp_path / 'u.npz', images=_images(20))}")
    assert unlabelled.train_y is None and not unlabelled.labelled and len(unlabelled.train_x) == 20


def test_npz_vectors(tmp_path: Path) -> None:
    features = np.random.default_rng(0).normal(size=(50, 7))
    data = load_source(
        f"npz:{_npz(tmp_path / 'v.npz', features=features, labels=np.arange(50) % 5)}"
    )
    assert data.kind == "vector" and data.train_x.dtype == torch.float32
    assert tuple(data.sample_shape) == (7,) and len(data.train_x) + len(data.test_x) == 50


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"pixels": _images(5)}, "expected an array 'images' or 'features'"),
        ({"images": _images(5).astype(np.float32)}, "expected dtype uint8"),
        ({"images": _images(5, (144,))}, "expected N x H x W"),
        ({"images": _images(5, (8, 8, 2))}, "C = 1 or 3"),
        ({"images": _images(5), "labels": np.arange(4)}, "4 labels for 5 samples"),
        ({"images": _images(5), "labels": np.zeros((5, 2), int)}, "expected a 1-D array"),
        ({"images": _images(5), "labels": np.linspace(0, 1, 5)}, "integer class labels"),
        ({"images": _images(5), "labels": -np.ones(5, int)}, "labels must be >= 0"),
        (
            {"images": _images(5), "labels": np.zeros(5, int), "test_labels": np.zeros(2, int)},
            "no test_images",
        ),
        (
            {
                "images": _images(5),
                "labels": np.zeros(5, int),
                "test_images": _images(2, (9, 9)),
                "test_labels": np.zeros(2, int),
            },
            "samples have shape",
        ),
        ({"features": np.zeros((4, 2, 2))}, "expected a 2-D array"),
        ({"features": np.array([[0.0, np.nan]])}, "NaN"),
        ({"images": _images(0)}, "no images"),
    ],
)
def test_npz_bad_inputs(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    path = _npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=message):
        load_source(f"npz:{path}")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_source(f"npz:{tmp_path / 'absent.npz'}")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(InputError, match="not a readable .npz"):
        load_source(f"npz:{garbage}")
    with pytest.raises(InputError, match="unknown data source"):
        load_source("imagenet-21k")
    text = tmp_path / "a.txt"
    text.write_text("x")
    with pytest.raises(InputError, match="not .npz"):
        load_source(str(text))


def _folder(root: Path, sizes: dict[str, list[tuple[int, int]]], mode: str = "L") -> Path:
    rng = np.random.default_rng(0)
    for name, shapes in sizes.items():
        (root / name).mkdir(parents=True)
        for index, (w, h) in enumerate(shapes):
            shape = (h, w) if mode == "L" else (h, w, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                root / name / f"{index}.png"
            )
    return root


def test_folder_grayscale_colour_and_resize(tmp_path: Path) -> None:
    gray = load_source(f"folder:{_folder(tmp_path / 'g', {'a': [(9, 9)] * 5, 'b': [(9, 9)] * 5})}")
    assert tuple(gray.sample_shape) == (1, 9, 9) and gray.classes == ("a", "b")
    assert len(gray.train_x) == 8 and sorted(gray.test_y.tolist()) == [0, 1]
    colour = load_source(
        str(_folder(tmp_path / "c", {"x": [(10, 10)] * 4, "y": [(10, 10)] * 4}, "RGB"))
    )
    assert tuple(colour.sample_shape) == (3, 10, 10)
    mixed = _folder(tmp_path / "m", {"a": [(12, 9)] * 3, "b": [(8, 20)] * 3})
    with pytest.raises(InputError, match="differ in size"):
        load_source(f"folder:{mixed}")
    resized = load_source(f"folder:{mixed}", image_size=8)
    assert tuple(resized.sample_shape) == (1, 8, 8)


def test_folder_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder not found"):
        load_source(f"folder:{tmp_path / 'absent'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="one sub-folder per class"):
        load_source(f"folder:{tmp_path / 'empty'}")
    root = _folder(tmp_path / "r", {"a": [(8, 8)] * 3})
    (root / "b").mkdir()
    with pytest.raises(InputError, match="'b' has no images"):
        load_source(f"folder:{root}")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match="cannot read image"):
        load_source(f"folder:{root}")


def test_torchvision_dataset_absent_offline(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found in .* downloading is off"):
        load_source("cifar10", root=tmp_path, download=False)
    with pytest.raises(InputError, match="test_fraction"):
        load_source("digits", test_fraction=1.5)
