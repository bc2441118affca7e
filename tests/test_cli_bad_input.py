"""Every bad input of ``bench``, ``embed`` and ``embed2d``: exit code 2, exactly one line on
stderr naming the problem, no traceback, no warning, and no result file written.

Each case adds its bad option to a command line that would otherwise run at a tiny size, so a
check that goes missing shows as a run that succeeds (exit 0, files written) within seconds.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastlab.cli import main

TINY_MODEL = [
    "--set", "model.widths=[8, 16]", "--set", "model.projector_hidden=32",
    "--set", "model.projector_dim=16", "--set", "train.threads=1",
]  # fmt: skip
# Shown by Python's default filters in a real process (an extra stderr line for the user).
HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)

LOSS = "bench loss --kernels cosine --batches 8 --repeats 1 --out {tmp}/o"
RLD = "bench rld --n 200 --dim 4 --eager --check-rows 50 --purity-k 10 --out {tmp}/o"
AUGMENT = "bench augment --batch-size 8 --batches 1 --repeats 1 --step-batch-size 8 --out {tmp}/o"
EMBED = "embed --run {run} --out {tmp}/o/f.npz"
EMBED2D = (
    "embed2d --quiet --data npz:{data}/images.npz --set stage1_epochs=1 --set stage2_epochs=1 "
    "--set batch_size=16 --set tsne=false --out {tmp}/o"
)

BENCH_CASES = [
    ("bench", "required: benchmark"),
    ("bench sinc", "invalid choice: 'sinc'"),
    (LOSS + " --kernels sinc", "unknown kernel 'sinc'"),
    (LOSS + " --kernels laplacian:t=0.5", "unknown kernel 'laplacian:t=0.5'"),
    (LOSS + " --kernels ,", "--kernels is empty"),
    (LOSS + " --batches ,", "--batches is empty"),
    (LOSS + " --batches=", "--batches is empty"),
    (LOSS + " --batches 1", "--batches must be >= 2"),
    (LOSS + " --batches 8,-4", "--batches must be >= 2"),
    (LOSS + " --batches 8,x", "--batches must be integers"),
    (LOSS + " --repeats 0", "--repeats must be >= 1"),
    (LOSS + " --queue-sizes 0", "--queue-sizes must be >= 1"),
    (LOSS + " --queue-sizes 64,x", "--queue-sizes must be integers"),
    (LOSS + " --queue-kernels sinc", "unknown kernel 'sinc'"),
    (LOSS + " --queue-batch 0", "--queue-batch must be >= 1"),
    (LOSS + " --repeats x", "argument --repeats: invalid int value: 'x'"),
    (LOSS + " --device tpu", "--device must be cpu, cuda or cuda:K, got 'tpu'"),
    (LOSS + " --device cuda:99", "--device cuda:99: "),  # no CUDA, or not 100 devices
    (RLD + " --device tpu", "--device must be cpu, cuda or cuda:K, got 'tpu'"),
    (RLD + " --device cuda:99", "--device cuda:99: "),
    (LOSS + " --out {file}", "output folder {file} is an existing file"),
    (LOSS + " --out {file}/o", "{file} is a file"),
    (RLD + " --n 1", "--n must be >= 2, got 1"),
    (RLD + " --n -5", "--n must be >= 2, got -5"),
    (RLD + " --n x", "argument --n: invalid int value: 'x'"),
    (RLD + " --dim 0", "--dim must be >= 1, got 0"),
    (RLD + " --purity-k 0", "--purity-k must be >= 1, got 0"),
    (RLD + " --ts 1 0", "--ts must be finite numbers > 0, got 0"),
    (RLD + " --ts -0.5", "--ts must be finite numbers > 0, got -0.5"),
    (RLD + " --ts inf", "--ts must be finite numbers > 0, got inf"),
    (RLD + " --block-size 0", "--block-size must be >= 1, got 0"),
    (RLD + " --block-size -3", "--block-size must be >= 1, got -3"),
    (RLD + " --check-rows -1", "--check-rows must be >= 0, got -1"),
    (RLD + " --seed -1", "--seed must be >= 0, got -1"),
    (RLD + " --out {file}", "output folder {file} is an existing file"),
    (AUGMENT + " --batch-size 0", "--batch-size must be >= 1, got 0"),
    (AUGMENT + " --batches 0", "--batches must be >= 1, got 0"),
    (AUGMENT + " --repeats -2", "--repeats must be >= 1, got -2"),
    (AUGMENT + " --step-batch-size 0", "--step-batch-size must be >= 1, got 0"),
    (AUGMENT + " --threads 0", "--threads must be >= 1, got 0"),
    (AUGMENT + " --threads -1", "--threads must be >= 1, got -1"),
    (AUGMENT + " --batch-size x", "argument --batch-size: invalid int value: 'x'"),
    (AUGMENT + " --out {file}", "output folder {file} is an existing file"),
]
EMBED_CASES = [
    ("embed --out {tmp}/o/f.npz", "required: --run"),
    ("embed --run {run}", "required: --out"),
    (EMBED + " --run {tmp}/absent", "run folder {tmp}/absent not found"),
    (EMBED + " --run {file}", "run folder {file} is a file"),
    (EMBED + " --run {runs}/no_config", "config file {runs}/no_config/config.yaml not found"),
    (EMBED + " --run {runs}/no_checkpoint", "checkpoint {runs}/no_checkpoint/checkpoint.pt not"),
    (EMBED + " --run {runs}/bad_yaml", "config.yaml: not valid YAML"),
    (EMBED + " --run {runs}/corrupt", "truncated or not a contrastlab checkpoint"),
    (EMBED + " --out {tmp}/o/f.txt", "--out must name an .npz file, got {tmp}/o/f.txt"),
    (EMBED + " --out {tmp}/o", "--out must name an .npz file"),
    (EMBED + " --out {data}/folder.npz", "--out {data}/folder.npz is an existing folder"),
    (EMBED + " --out {file}/f.npz", "output folder {file} is an existing file"),
    (EMBED + " --split bogus", "argument --split: invalid choice: 'bogus'"),
    (EMBED + " --data nosuchdata", "unknown data source 'nosuchdata'"),
    (EMBED + " --data npz:{tmp}/absent.npz", "npz:{tmp}/absent.npz: file not found"),
    (EMBED + " --data npz:{data}/junk.npz", "not a readable .npz file"),
    (EMBED + " --data folder:{tmp}/absent", "folder:{tmp}/absent: folder not found"),
    (EMBED + " --data npz:{data}/flat.npz", "images: expected N x H x W"),
    # the run's model is a 1-channel CNN: colour images and vectors do not fit it
    (EMBED + " --data npz:{data}/rgb.npz", "(samples (3, 8, 8)) do not fit the run's model"),
    (EMBED + " --data npz:{data}/vectors.npz", "needs images, but the data are vectors"),
]
EMBED2D_CASES = [
    (EMBED2D + " --epochs 0", "--epochs must be >= 1, got 0"),
    (EMBED2D + " --epochs -2", "--epochs must be >= 1, got -2"),
    (EMBED2D + " --epochs x", "argument --epochs: invalid int value: 'x'"),
    (EMBED2D + " --data nosuchdata", "unknown data source 'nosuchdata'"),
    (EMBED2D + " --data npz:{tmp}/absent.npz", "npz:{tmp}/absent.npz: file not found"),
    (EMBED2D + " --data npz:{data}/junk.npz", "not a readable .npz file"),
    (EMBED2D + " --data npz:{data}/flat.npz", "images: expected N x H x W"),
    (EMBED2D + " --data npz:{data}/unlabelled.npz", "the 2-D map's kNN accuracy needs labels"),
    (EMBED2D + " --set nosuch=1", "--set nosuch: unknown embed2d setting"),
    (EMBED2D + " --set optim.lrate=1", "--set optim.lrate: unknown embed2d setting"),
    (EMBED2D + " --set novalue", "--set expects key=value, got 'novalue'"),
    (EMBED2D + " --set knn_k=0", "knn_k must be >= 1, got 0"),
    (EMBED2D + " --set batch_size=1", "batch_size must be >= 2, got 1"),
    (EMBED2D + " --set stage1_epochs=0", "stage1_epochs must be >= 1"),
    (EMBED2D + " --set stage2_epochs=1.5", "stage2_epochs: expected a whole number, got 1.5"),
    (EMBED2D + " --set tsne_iterations=0", "tsne_iterations must be >= 1"),
    (EMBED2D + " --set kernel.s=0", "kernel: Cauchy: s must be a finite number > 0, got 0"),
    (EMBED2D + " --set kernel.s=abc", "kernel: kernel cauchy: Cauchy: s must be a number"),
    (EMBED2D + " --set tsne_perplexity=-1", "tsne_perplexity must be > 0"),
    (EMBED2D + " --set tsne=maybe", "tsne: expected true or false, got 'maybe'"),
    (EMBED2D + " --set seed=-1", "seed must be >= 0, got -1"),
    (EMBED2D + " --set seed=1.5", "seed: expected a whole number, got 1.5"),
    (EMBED2D + " --set lr=-1", "lr must be > 0, got -1.0"),
    (EMBED2D + " --set neighbours=-1", "neighbours must be >= 0, got -1"),
    (EMBED2D + " --set head_epochs=-1", "head_epochs must be >= 0, got -1"),
    (EMBED2D + " --set threads=0", "threads must be >= 1, got 0"),
    (EMBED2D + " --set backbone=resnet18", "backbone must be one of auto, small_cnn, mlp"),
    # the map trains itself: the trainer's dotted settings are not its own, and are refused
    (EMBED2D + " --set loss.kernel=gaussian", "--set loss.kernel: unknown embed2d setting"),
    (EMBED2D + " --set optim.lr=0.1", "--set optim.lr: unknown embed2d setting (known: "),
    (EMBED2D + " --out {file}", "output folder {file} is an existing file"),
    (EMBED2D + " --out {file}/map", "{file} is a file"),
]


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trained run, broken copies of it, and good and bad data files."""
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("bad_input")
    run = root / "run"
    args = ["train", "--data", "digits", "--out", str(run), "--epochs", "1", "--quiet"]
    assert main([*args, "--batch-size", "128", *TINY_MODEL]) == 0
    runs = root / "runs"
    for name in ("no_config", "no_checkpoint", "bad_yaml", "corrupt"):
        (runs / name).mkdir(parents=True)
    checkpoint, config = (run / "checkpoint.pt").read_bytes(), (run / "config.yaml").read_text()
    (runs / "no_config" / "checkpoint.pt").write_bytes(checkpoint)
    (runs / "no_checkpoint" / "config.yaml").write_text(config)
    (runs / "bad_yaml" / "config.yaml").write_text("data: [unclosed\n")
    (runs / "bad_yaml" / "checkpoint.pt").write_bytes(checkpoint)
    (runs / "corrupt" / "config.yaml").write_text(config)
    (runs / "corrupt" / "checkpoint.pt").write_bytes(checkpoint[: len(checkpoint) // 3])

    data = root / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    digits = load_digits()
    images = np.round(digits.images[:40] * 255 / 16).astype(np.uint8)
    np.savez(data / "images.npz", images=images, labels=digits.target[:40])
    np.savez(data / "unlabelled.npz", images=images)
    colour = rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    np.savez(data / "rgb.npz", images=colour, labels=np.arange(40) % 2)
    np.savez(data / "flat.npz", images=images.reshape(40, 64), labels=digits.target[:40])
    np.savez(data / "vectors.npz", features=rng.normal(size=(40, 5)), labels=np.arange(40) % 2)
    (data / "junk.npz").write_text("not a zip archive")
    (data / "folder.npz").mkdir()
    file = root / "a_file"
    file.write_text("keep me")
    return {"run": run, "runs": runs, "data": data, "file": file}


def _argv(case: str, places: dict[str, Path], tmp: Path) -> list[str]:
    return shlex.split(case.format(tmp=tmp, **places))


def _assert_one_line_exit_2(
    argv: list[str], message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exit_info:  # argparse's usage errors
            code = exit_info.code
    err = capfd.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert message in err and err.startswith("contrastlab"), err
    assert "Traceback" not in err
    assert not [w for w in caught if not issubclass(w.category, HIDDEN_WARNINGS)]


ALL_CASES = BENCH_CASES + EMBED_CASES + EMBED2D_CASES


def _case_id(case: str, message: str) -> str:
    words = case.split()
    return f"{' '.join(words[:2] if words[0] == 'bench' else words[:1])}: {message}"


@pytest.mark.parametrize(("case", "message"), ALL_CASES, ids=[_case_id(c, m) for c, m in ALL_CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    case: str,
    message: str,
    places: dict[str, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    capfd.readouterr()
    _assert_one_line_exit_2(
        _argv(case, places, tmp_path), message.format(tmp=tmp_path, **places), capfd
    )
    assert not (tmp_path / "o").exists()  # no partial result
    assert places["file"].read_text() == "keep me"
    assert [p.name for p in places["data"].joinpath("folder.npz").iterdir()] == []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (AUGMENT + " --threads -1", "--threads must be >= 1"),
        (LOSS + " --out {file}", "is an existing file"),
        (EMBED + " --out {file}/f.npz", "is an existing file"),
        (EMBED2D + " --set seed=-1", "seed must be >= 0"),
    ],
)
def test_bad_input_in_a_real_process(
    case: str, message: str, places: dict[str, Path], tmp_path: Path
) -> None:
    """The same contract seen by a user's shell: the process's whole stderr is one line."""
    done = subprocess.run(
        [sys.executable, "-m", "contrastlab", *_argv(case, places, tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not (tmp_path / "o").exists()


def test_a_multi_line_error_shows_its_first_line_only(monkeypatch, capfd) -> None:
    """The command line's own net, for an error raised deep in a library with a long message."""
    from contrastlab.errors import InputError

    def fail(args: object) -> int:
        raise InputError("bad value for x\nsecond line of detail\nthird")

    monkeypatch.setattr("contrastlab.bench.rld.run", fail)
    capfd.readouterr()
    _assert_one_line_exit_2(["bench", "rld"], "contrastlab bench: error: bad value for x", capfd)
