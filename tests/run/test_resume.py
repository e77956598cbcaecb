"""A run killed at any moment and resumed ends bit-identical to one never stopped; folders stay consistent."""

import csv
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from digitlab.modelfiles.model_file import load_model
from tests.helpers import cli

FLAGS = ["--preset", "default", "--epochs", "2", "--batch-size", "64", "--checkpoint-every", "7"]
KILL_DURING = Path(__file__).parents[1] / "helpers" / "kill_during.py"


@pytest.fixture(scope="module")
def uninterrupted(tiny_mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    result = cli("train", "--data", tiny_mnist_dir, *FLAGS, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def outcome(folder: Path) -> tuple[str, list[dict]]:
    """The weights' hash and the history without its timings."""
    info = json.loads((folder / "model.json").read_text())
    with open(folder / "history.csv") as f:
        rows = [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(f)]
    return info["weights_sha256"], rows


def consistent(folder: Path) -> None:
    """model.json, the weights, history.csv and report.html all of one run (or no model yet)."""
    if not (folder / "model.json").exists():
        return
    model, info = load_model(folder)
    report = (folder / "report.html").read_text()
    assert info.data_fingerprint in report and f"{info.metrics['test_accuracy']:.4f}" in report
    with open(folder / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == len(info.history)


def resume(out: Path, data: Path) -> tuple[int, int]:
    """`train --resume OUT`; returns where the checkpoint stood, checking the run went on from there."""
    meta = json.loads((out / "checkpoint" / "checkpoint.json").read_text())
    result = cli("train", "--resume", out, "--data", data)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert len(rows) == 2 - meta["epoch"]  # only the epochs still to train were trained
    return meta["epoch"], meta["iter"]


def run_and_kill(args: list, when) -> None:
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        when(process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()


def test_killed_at_random_moments_and_resumed_is_bit_identical(tiny_mnist_dir, uninterrupted, tmp_path):
    """Killed twice at random moments (the run, then its resumption), then resumed to the end."""
    out = tmp_path / "run"
    rng = random.Random(1)
    checkpoint = out / "checkpoint" / "checkpoint.json"

    def after_a_checkpoint(process):
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 1.5))  # mid-epoch, between checkpoints, or during one

    train = ["-m", "digitlab", "train", "--data", str(tiny_mnist_dir), *FLAGS, "--out", str(out)]
    run_and_kill(train, after_a_checkpoint)
    consistent(out)
    if checkpoint.exists():
        run_and_kill(
            ["-m", "digitlab", "train", "--resume", str(out), "--data", str(tiny_mnist_dir)],
            lambda p: time.sleep(rng.uniform(2, 4)),
        )
        consistent(out)
    if checkpoint.exists():
        resume(out, tiny_mnist_dir)
    assert outcome(out) == outcome(uninterrupted)
    consistent(out)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".tmp-")]


@pytest.mark.parametrize("target, nth", [("checkpoint", 3), ("checkpoint", 5), ("model", 1)])
def test_killed_inside_a_write_and_resumed(tiny_mnist_dir, uninterrupted, tmp_path, target, nth):
    """SIGKILL halfway through the nth file write of a checkpoint, or of the final model folder."""
    out = tmp_path / "run"
    args = [
        str(KILL_DURING),
        target,
        str(nth),
        "train",
        "--data",
        str(tiny_mnist_dir),
        *FLAGS,
        "--out",
        str(out),
    ]
    run_and_kill(args, lambda process: process.wait(timeout=300))
    consistent(out)
    position = resume(out, tiny_mnist_dir)
    assert position == {"checkpoint": {3: (0, 7), 5: (0, 14)}, "model": {1: (2, 0)}}[target][nth]
    assert outcome(out) == outcome(uninterrupted)
    consistent(out)


def test_a_finished_run_replaced_by_a_killed_one_keeps_the_old_model(tiny_mnist_dir, uninterrupted, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(uninterrupted, out, symlinks=True)
    before = outcome(out)
    args = [
        str(KILL_DURING),
        "model",
        "2",
        "train",
        "--data",
        str(tiny_mnist_dir),
        *FLAGS,
        "--seed",
        "5",
        "--out",
        str(out),
    ]
    run_and_kill(args, lambda process: process.wait(timeout=300))
    assert outcome(out) == before  # the previous model, whole
    consistent(out)


def test_resume_needs_a_checkpoint_of_this_version(tmp_path, tiny_mnist_dir):
    result = cli("train", "--resume", tmp_path)
    assert result.returncode == 1 and "no checkpoint to resume from" in result.stderr
    (tmp_path / "finished").mkdir()
    (tmp_path / "finished" / "model.json").write_text("{}")  # a run that ended removed its checkpoint
    result = cli("train", "--resume", tmp_path / "finished")
    finished = f"{tmp_path / 'finished'}: its run has finished (its model is model.json): nothing to resume"
    assert result.returncode == 1 and result.stderr == f"error: {finished}\n"
    (tmp_path / "checkpoint").mkdir()
    info = {"format": "digitlab-checkpoint", "format_version": 1, "digitlab_version": "0.0.1"}
    (tmp_path / "checkpoint" / "checkpoint.json").write_text(json.dumps(info))
    result = cli("train", "--resume", tmp_path)
    assert result.returncode == 1 and "written by digitlab 0.0.1" in result.stderr


def test_optimizer_and_callback_state_round_trip():
    from digitlab.learning.optim import SGD

    p = torch.nn.Parameter(torch.ones(3))
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.full((3,), 2.0)
    opt.step()
    other = SGD([torch.nn.Parameter(torch.ones(3))], lr=0.1, momentum=0.9)
    other.load_state_dict(opt.state_dict())
    assert torch.equal(other.state[other.params[0]]["velocity"], opt.state[p]["velocity"])
