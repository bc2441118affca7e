"""Data sources for training: ``digits``, ``npz:PATH``, ``folder:PATH``, torchvision names, vectors.

Every source returns a :class:`DataSplit`: training and test arrays held in memory, images as
``uint8`` tensors of shape ``(N, C, H, W)`` (augmentation happens later, on whole batches on the
training device), vectors as ``float32`` tensors of shape ``(N, D)``.

Splits. A source that brings its own test set (torchvision datasets, an ``.npz`` file with
``test_images``/``test_labels`` or ``test_features``/``test_labels``) keeps it. Otherwise a
seeded, stratified split holds out ``test_fraction`` of the samples (default 0.2, scikit-learn's
``train_test_split`` with ``random_state=split_seed``); for ``digits`` that is 1,437 / 360.
A class with a single sample cannot be split that way and is an error naming it; when the test
split is smaller than the number of classes it is drawn without stratification.

Bad input raises :class:`contrastlab.errors.InputError` with a one-line message: a missing file,
a missing or mis-shaped array, a wrong dtype, string labels in an ``.npz`` (class ids 0..K-1
are expected), vector features with NaN or infinite values (the count of such rows and the
first), labels whose count differs from the images', an empty class folder, an unreadable
image, images of several sizes in a ``folder:`` without ``data.image_size`` (two of them are
named), or a torchvision dataset that is neither on disk nor downloadable. Mixed image modes
in a ``folder:`` are a documented handling, not an error: palette, alpha, CMYK and greyscale
files become RGB unless every file is greyscale (then one channel).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from contrastlab.errors import InputError

TORCHVISION_NAMES = ("cifar10", "cifar100", "stl10", "mnist", "fashion-mnist")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_ROOT = Path(os.environ.get("CONTRASTLAB_DATA", Path.home() / ".cache" / "contrastlab"))

Kind = Literal["image", "vector"]


@dataclass(frozen=True)
class DataSplit:
    """A dataset held in memory, split into training and test parts.

    Attributes:
        name: the source spec it came from.
        kind: ``"image"`` (``uint8`` tensors ``(N, C, H, W)``) or ``"vector"`` (``float32 (N, D)``).
        train_x, train_y: training samples and integer labels (``None`` when unlabelled).
        test_x, test_y: held-out samples and labels (``test_x`` may have 0 rows).
        classes: class names, in label order (empty when unlabelled).
    """

    name: str
    kind: Kind
    train_x: Tensor
    train_y: Tensor | None
    test_x: Tensor
    test_y: Tensor | None
    classes: tuple[str, ...] = ()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: ``(C, H, W)`` or ``(D,)``."""
        return tuple(self.train_x.shape[1:])

    @property
    def labelled(self) -> bool:
        return self.train_y is not None and self.test_y is not None and len(self.test_y) > 0


def load_source(
    spec: str,
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    image_size: int | None = None,
) -> DataSplit:
    """Load a data source by its command-line spec.

    Args:
        spec: ``digits``; ``npz:PATH``; ``folder:PATH``; a torchvision name (``cifar10``,
            ``cifar100``, ``stl10``, ``mnist``, ``fashion-mnist``); or a bare path to an ``.npz``
            file or a folder.
        root: where torchvision datasets live (default ``$CONTRASTLAB_DATA`` or
            ``~/.cache/contrastlab``).
        download: whether a torchvision dataset missing from ``root`` may be downloaded.
        test_fraction: share held out when the source has no test set, in ``(0, 1)``.
        split_seed: seed of that stratified split.
        image_size: for ``folder:`` sources, resize (shorter side) and centre-crop every image to
            this size; required when the images differ in size.

    Returns:
        The :class:`DataSplit`.

    Raises:
        InputError: bad spec, missing file or malformed arrays (one-line message).
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    text = str(spec).strip()
    kind, sep, rest = text.partition(":")
    if sep and kind in ("npz", "folder") and rest:
        path = Path(rest).expanduser()
        if kind == "npz":
            return load_npz(path, test_fraction=test_fraction, split_seed=split_seed, name=text)
        return load_folder(
            path,
            test_fraction=test_fraction,
            split_seed=split_seed,
            image_size=image_size,
            name=text,
        )
    lowered = text.lower().replace("_", "-")
    if lowered == "digits":
        return load_digits(test_fraction=test_fraction, split_seed=split_seed)
    if lowered in TORCHVISION_NAMES:
        return load_torchvision(lowered, root=root, download=download)
    path = Path(text).expanduser()
    if path.suffix == ".npz":
        return load_npz(path, test_fraction=test_fraction, split_seed=split_seed, name=text)
    if path.is_dir():
        return load_folder(
            path,
            test_fraction=test_fraction,
            split_seed=split_seed,
            image_size=image_size,
            name=text,
        )
    if path.exists():
        raise InputError(
            f"data source {text!r}: a file that is not .npz; use npz:PATH or folder:PATH"
        )
    raise InputError(
        f"unknown data source {text!r}: use digits, npz:PATH, folder:PATH or one of "
        f"{', '.join(TORCHVISION_NAMES)}"
    )


def load_digits(*, test_fraction: float = 0.2, split_seed: int = 0) -> DataSplit:
    """scikit-learn's 8 x 8 digits (1,797 images, grey levels 0-16 scaled to 0-255)."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    classes = tuple(str(c) for c in bunch.target_names)
    return _split("digits", "image", images, labels, test_fraction, split_seed, classes)


def load_npz(
    path: Path, *, test_fraction: float = 0.2, split_seed: int = 0, name: str | None = None
) -> DataSplit:
    """Images (``images``: uint8, ``N x H x W`` or ``N x H x W x C``) or vectors (``features``:
    2-D float) with optional ``labels`` and optional ``test_*`` arrays."""
    name = name or f"npz:{path}"
    if not path.exists():
        raise InputError(f"{name}: file not found")
    if path.is_dir():
        raise InputError(f"{name}: is a folder, not an .npz file (use folder:PATH for images)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(f"{name}: not a readable .npz file ({err})") from err
    if "images" in arrays:
        kind: Kind = "image"
        key = "images"
    elif "features" in arrays:
        kind, key = "vector", "features"
    else:
        found = ", ".join(sorted(arrays)) or "nothing"
        raise InputError(f"{name}: expected an array 'images' or 'features', found {found}")
    check = _check_images if kind == "image" else _check_features
    train_x = check(arrays[key], f"{name}: {key}")
    train_y = _check_labels(arrays.get("labels"), len(train_x), f"{name}: labels")
    test_key = f"test_{key}"
    if test_key in arrays or "test_labels" in arrays:
        if test_key not in arrays:
            raise InputError(f"{name}: has test_labels but no {test_key}")
        test_x = check(arrays[test_key], f"{name}: {test_key}")
        if test_x.shape[1:] != train_x.shape[1:]:
            raise InputError(
                f"{name}: {test_key} samples have shape {test_x.shape[1:]}, "
                f"{key} samples {train_x.shape[1:]}"
            )
        test_y = _check_labels(arrays.get("test_labels"), len(test_x), f"{name}: test_labels")
        if (train_y is None) != (test_y is None):
            raise InputError(f"{name}: give labels and test_labels together, or neither")
        return _as_split(name, kind, train_x, train_y, test_x, test_y)
    if train_y is None:
        # Unlabelled: train on everything; nothing to evaluate against.
        return _as_split(name, kind, train_x, None, train_x[:0], None)
    return _split(name, kind, train_x, train_y, test_fraction, split_seed)


def _check_images(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype != np.uint8:
        raise InputError(f"{what}: expected dtype uint8 (0-255), got {array.dtype}")
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4:
        if array.shape[-1] not in (1, 3):
            raise InputError(
                f"{what}: expected N x H x W x C with C = 1 or 3, got shape {array.shape}"
            )
        array = np.ascontiguousarray(array.transpose(0, 3, 1, 2))
    else:
        raise InputError(f"{what}: expected N x H x W or N x H x W x C, got shape {array.shape}")
    if len(array) == 0:
        raise InputError(f"{what}: no images")
    if min(array.shape[2:]) < 4:
        raise InputError(f"{what}: images of {array.shape[2]} x {array.shape[3]} are too small")
    return array


def _check_features(array: np.ndarray, what: str) -> np.ndarray:
    if array.ndim != 2:
        raise InputError(f"{what}: expected a 2-D array N x D, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"{what}: expected numbers, got dtype {array.dtype}")
    if len(array) == 0:
        raise InputError(f"{what}: no rows")
    array = array.astype(np.float32)
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if len(bad_rows):
        raise InputError(
            f"{what}: {len(bad_rows)} row(s) hold NaN or infinite values "
            f"(first: row {bad_rows[0]}); remove or impute them"
        )
    return array


def _check_labels(labels: np.ndarray | None, count: int, what: str) -> np.ndarray | None:
    if labels is None:
        return None
    if labels.ndim != 1:
        raise InputError(f"{what}: expected a 1-D array, got shape {labels.shape}")
    if len(labels) != count:
        raise InputError(f"{what}: {len(labels)} labels for {count} samples")
    if labels.dtype.kind in "US" and len(labels):
        raise InputError(
            f"{what}: labels are strings (e.g. {labels[0].item()!r}); expected integer class ids "
            "0..K-1 (np.unique(labels, return_inverse=True)[1] makes them)"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise InputError(f"{what}: expected integer class labels, got dtype {labels.dtype}")
    if labels.min() < 0:
        raise InputError(f"{what}: labels must be >= 0, found {labels.min()}")
    return labels.astype(np.int64)


def load_folder(
    path: Path,
    *,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    image_size: int | None = None,
    name: str | None = None,
) -> DataSplit:
    """An ImageFolder tree: ``PATH/<class>/<image>``; all images are loaded into memory.

    Images are kept single-channel when every file is greyscale, otherwise converted to RGB.
    """
    from PIL import Image, UnidentifiedImageError

    name = name or f"folder:{path}"
    if not path.exists():
        raise InputError(f"{name}: folder not found")
    if not path.is_dir():
        raise InputError(f"{name}: not a folder")
    class_dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise InputError(f"{name}: expected one sub-folder per class, found none")
    files: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        found = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise InputError(f"{name}: class folder {class_dir.name!r} has no images")
        files += found
        labels += [label] * len(found)
    pictures = []
    for file in files:
        try:
            with Image.open(file) as picture:
                picture.load()
                pictures.append(picture.copy())
        except (UnidentifiedImageError, OSError) as err:
            raise InputError(f"{name}: cannot read image {file}: {err}") from err
    gray = all(p.mode in ("L", "1", "I;16", "I") for p in pictures)
    mode = "L" if gray else "RGB"
    sizes = {p.size for p in pictures}
    if image_size is None and len(sizes) > 1:
        first = pictures[0].size
        other = next(i for i, p in enumerate(pictures) if p.size != first)
        raise InputError(
            f"{name}: images differ in size ({len(sizes)} sizes: {files[0].relative_to(path)} "
            f"is {first[0]} x {first[1]}, {files[other].relative_to(path)} is "
            f"{pictures[other].size[0]} x {pictures[other].size[1]}); set data.image_size=N to "
            "resize them (shorter side to N, centre crop)"
        )
    arrays = [np.asarray(_fit(p.convert(mode), image_size)) for p in pictures]
    images = np.stack(arrays).astype(np.uint8)
    images = _check_images(images[..., None] if gray else images, name)  # N x H x W x C in
    classes = tuple(d.name for d in class_dirs)
    return _split(name, "image", images, np.asarray(labels), test_fraction, split_seed, classes)


def _fit(picture: object, size: int | None) -> object:
    """Resize the shorter side to ``size``, centre-crop a square (no-op when ``size`` is None)."""
    if size is None:
        return picture
    from PIL import Image

    width, height = picture.size  # type: ignore[attr-defined]
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    picture = picture.resize(new, Image.Resampling.BILINEAR)  # type: ignore[attr-defined]
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return picture.crop((left, top, left + size, top + size))  # type: ignore[attr-defined]


def load_torchvision(
    name: str, *, root: str | os.PathLike[str] | None = None, download: bool = True
) -> DataSplit:
    """A torchvision dataset with its own train/test split (STL-10: labelled train and test)."""
    from torchvision import datasets

    folder = Path(root).expanduser() if root else DEFAULT_ROOT
    makers = {
        "cifar10": lambda train, dl: datasets.CIFAR10(folder, train=train, download=dl),
        "cifar100": lambda train, dl: datasets.CIFAR100(folder, train=train, download=dl),
        "mnist": lambda train, dl: datasets.MNIST(folder, train=train, download=dl),
        "fashion-mnist": lambda train, dl: datasets.FashionMNIST(folder, train=train, download=dl),
        "stl10": lambda train, dl: datasets.STL10(
            folder, split="train" if train else "test", download=dl
        ),
    }
    parts = []
    for train in (True, False):
        try:
            dataset = makers[name](train, False)
        except RuntimeError:
            if not download:
                raise InputError(
                    f"{name}: not found in {folder} and downloading is off; put torchvision's "
                    f"files there or set data.root to the folder that holds them"
                ) from None
            try:
                folder.mkdir(parents=True, exist_ok=True)
                dataset = makers[name](train, True)
            except Exception as err:  # network errors come in many types
                raise InputError(
                    f"{name}: not in {folder} and the download failed ({type(err).__name__}; "
                    f"offline?); copy torchvision's files for {name} there or set data.root"
                ) from err
        parts.append(_torchvision_arrays(dataset))
    (train_x, train_y), (test_x, test_y) = parts
    classes = tuple(str(c) for c in getattr(dataset, "classes", ()))
    return _as_split(name, "image", train_x, train_y, test_x, test_y, classes)


def _torchvision_arrays(dataset: object) -> tuple[np.ndarray, np.ndarray]:
    data = dataset.data  # type: ignore[attr-defined]
    data = data.numpy() if isinstance(data, Tensor) else np.asarray(data)
    if data.ndim == 3:
        data = data[:, None]
    elif data.shape[-1] == 3:  # CIFAR stores N x H x W x C; STL-10 already N x C x H x W
        data = data.transpose(0, 3, 1, 2)
    labels = getattr(dataset, "targets", None)
    if labels is None:
        labels = dataset.labels  # type: ignore[attr-defined]
    labels = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    return np.ascontiguousarray(data, dtype=np.uint8), labels.astype(np.int64)


def _split(
    name: str,
    kind: Kind,
    x: np.ndarray,
    y: np.ndarray,
    test_fraction: float,
    split_seed: int,
    classes: tuple[str, ...] = (),
) -> DataSplit:
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    present = counts[counts > 0]
    if len(y) < 2 or round(len(y) * test_fraction) < 1:
        raise InputError(f"{name}: {len(y)} samples are too few to hold out a test split")
    if present.min() < 2:
        single = [classes[c] if c < len(classes) else str(c) for c in np.flatnonzero(counts == 1)]
        raise InputError(
            f"{name}: class {single[0]!r} has a single sample ({len(single)} such class(es)); "
            "the stratified test split needs 2 per class: remove it, add samples, or give "
            "the test split yourself"
        )
    stratify = y if round(len(y) * test_fraction) >= len(present) else None
    index = np.arange(len(y))
    train_idx, test_idx = train_test_split(
        index, test_size=test_fraction, random_state=split_seed, stratify=stratify
    )
    train_idx.sort()
    test_idx.sort()
    return _as_split(name, kind, x[train_idx], y[train_idx], x[test_idx], y[test_idx], classes)


def _as_split(
    name: str,
    kind: Kind,
    train_x: np.ndarray,
    train_y: np.ndarray | None,
    test_x: np.ndarray,
    test_y: np.ndarray | None,
    classes: tuple[str, ...] = (),
) -> DataSplit:
    def tensor(a: np.ndarray | None) -> Tensor | None:
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a))

    if not classes and train_y is not None:
        top = int(max(train_y.max(), test_y.max() if test_y is not None and len(test_y) else 0))
        classes = tuple(str(c) for c in range(top + 1))
    return DataSplit(
        name, kind, tensor(train_x), tensor(train_y), tensor(test_x), tensor(test_y), classes
    )  # type: ignore[arg-type]
