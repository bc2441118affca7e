"""Bad data through the command line: one line, exit 2, never a traceback; mixed image modes
are converted as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contrastlab.cli import main
from contrastlab.data.sources import load_source

RNG = np.random.default_rng(0)


def _train(source: str, out: Path, *sets: str) -> list[str]:
    return ["train", "--data", source, "--out", str(out), "--epochs", "1", "--quiet"] + [
        a for s in sets for a in ("--set", s)
    ]


def _folder(root: Path, pictures: dict[str, list[Image.Image]]) -> Path:
    for label, images in pictures.items():
        (root / label).mkdir(parents=True)
        for index, picture in enumerate(images):
            picture.save(root / label / f"{index}.png")
    return root


def _gray(size: tuple[int, int] = (8, 8)) -> Image.Image:
    return Image.fromarray(RNG.integers(0, 255, size[::-1], dtype=np.uint8))


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err


def test_mixed_image_sizes_name_two_files_and_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _folder(tmp_path / "imgs", {"a": [_gray()] * 5 + [_gray((12, 10))], "b": [_gray()] * 6})
    err = _error(_train(f"folder:{root}", tmp_path / "out"), capsys)
    assert "images differ in size (2 sizes: a/0.png is 8 x 8, a/5.png is 12 x 10)" in err
    assert "data.image_size" in err
    resized = load_source(f"folder:{root}", image_size=8)  # the handling the message names
    assert tuple(resized.sample_shape) == (1, 8, 8)


def test_mixed_modes_become_rgb(tmp_path: Path) -> None:
    gray = np.full((8, 8), 200, dtype=np.uint8)
    rgba = Image.fromarray(np.dstack([gray, gray // 2, gray // 4, gray]), mode="RGBA")
    palette = Image.fromarray(gray).convert("P")
    root = _folder(tmp_path / "imgs", {"a": [Image.fromarray(gray), rgba], "b": [palette] * 3})
    data = load_source(f"folder:{root}", test_fraction=0.4)
    images = np.concatenate([data.train_x.numpy(), data.test_x.numpy()])
    assert images.shape[1:] == (3, 8, 8)
    # greyscale and palette files: three equal channels; the RGBA file keeps its colours
    channels = sorted({tuple(int(v) for v in img[:, 0, 0]) for img in images})
    assert channels == [(200, 100, 50), (200, 200, 200)]


def test_an_unreadable_image_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _folder(tmp_path / "imgs", {"a": [_gray()] * 3, "b": [_gray()] * 3})
    (root / "b" / "broken.png").write_bytes(b"not a png")
    err = _error(_train(f"folder:{root}", tmp_path / "out"), capsys)
    assert "cannot read image" in err and "broken.png" in err


def test_string_labels_in_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, features=RNG.normal(size=(40, 3)), labels=np.array(["cat", "dog"] * 20))
    err = _error(_train(f"npz:{path}", tmp_path / "out"), capsys)
    assert "labels are strings (e.g. 'cat'); expected integer class ids" in err


def test_non_finite_features_count_the_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features = RNG.normal(size=(40, 3))
    features[5, 1], features[9, 0], features[9, 2] = np.nan, np.inf, -np.inf
    path = tmp_path / "d.npz"
    np.savez(path, features=features, labels=np.arange(40) % 2)
    err = _error(_train(f"npz:{path}", tmp_path / "out"), capsys)
    assert "features: 2 row(s) hold NaN or infinite values (first: row 5)" in err


def test_a_class_with_one_sample_cannot_be_stratified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = np.arange(40) % 3
    labels[7] = 9  # class 9: one sample
    path = tmp_path / "d.npz"
    np.savez(path, features=RNG.normal(size=(40, 3)), labels=labels)
    err = _error(_train(f"npz:{path}", tmp_path / "out"), capsys)
    assert "class '9' has a single sample" in err and "stratified" in err
    # with its own test split the same data are fine to load
    np.savez(
        path,
        features=RNG.normal(size=(40, 3)),
        labels=labels,
        test_features=RNG.normal(size=(4, 3)),
        test_labels=np.array([0, 1, 2, 9]),
    )
    assert len(load_source(f"npz:{path}").train_x) == 40
