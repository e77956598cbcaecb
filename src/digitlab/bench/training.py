"""Training benchmarks: presets over seeds, and the Learner's overhead against a plain loop."""

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from digitlab.bench.timing import timed
from digitlab.config import TrainConfig
from digitlab.data import DataLoader, DataLoaders, load_source
from digitlab.models import CNN
from digitlab.train.learner import Learner
from digitlab.train.metrics import accuracy
from digitlab.train.optim import SGD
from digitlab.training import train_and_save


def preset_runs(preset: str, seeds: list[int], device: str = "cpu", epochs: int | None = None) -> dict:
    """Wall time (load, train, test evaluation, saving) and test accuracy for each seed, in this process."""
    runs = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as out:
            config = TrainConfig(preset=preset, seed=seed, device=device, out=out, epochs=epochs)
            seconds, (result, evaluation) = timed(train_and_save, config, quiet=True)
            runs.append({"seed": seed, "seconds": seconds, "accuracy": evaluation.accuracy, **result.seconds})
    return _summary(preset, device, runs)


def whole_command_runs(preset: str, seeds: list[int]) -> dict:
    """`digitlab train --preset PRESET` as a user runs it, timed from outside: interpreter start-up,
    imports, loading, training, the test evaluation, saving and the report."""
    runs = []
    for seed in seeds:
        seconds, info = train_command(preset, seed)
        accuracy = info["metrics"]["test_accuracy"]
        runs.append({"seed": seed, "seconds": seconds, "accuracy": accuracy, **info["seconds"]})
    return _summary(preset, "cpu", runs)


def train_command(preset: str, seed: int, *flags: str) -> tuple[float, dict]:
    """Wall seconds of one `digitlab train` in a fresh interpreter, and the model.json it wrote."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "digitlab", "train", "--preset", preset, "--seed", str(seed), *flags]
        start = time.perf_counter()
        subprocess.run([*command, "--out", out], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        return seconds, json.loads((Path(out) / "model.json").read_text())


def _summary(preset: str, device: str, runs: list[dict]) -> dict:
    accs = [r["accuracy"] for r in runs]
    return {
        "preset": preset,
        "device": device,
        "runs": runs,
        "median_s": statistics.median(r["seconds"] for r in runs),
        "median_train_s": statistics.median(r["train"] for r in runs),
        "mean_acc": statistics.mean(accs),
        "std_acc": statistics.pstdev(accs),
        "min_acc": min(accs),
        "max_acc": max(accs),
    }


def learner_overhead(epochs: int = 1, repeats: int = 3, limit: int | None = None) -> dict:
    """The same CNN, optimizer, data order and epochs: a hand-written loop against the Learner."""
    source = load_source("mnist")
    train, valid = source.train.split(0.1, seed=0)
    n = limit or len(train)
    x, y = train.floats()[:n], train.labels[:n]
    xv, yv = valid.floats(), valid.labels
    plain_s, learner_s, results = [], [], {}
    _plain_loop(x[:2000], y[:2000], xv[:500], yv[:500], 1)  # warm up kernels and allocator for both
    _learner_loop(x[:2000], y[:2000], xv[:500], yv[:500], 1)
    for _ in range(repeats):
        t, results["plain"] = timed(_plain_loop, x, y, xv, yv, epochs)
        plain_s.append(t)
        t, results["learner"] = timed(_learner_loop, x, y, xv, yv, epochs)
        learner_s.append(t)
    same = all(torch.equal(a, b) for a, b in zip(results["plain"][0], results["learner"][0], strict=True))
    return {
        "epochs": epochs,
        "images": n,
        "repeats": repeats,
        "plain_s": statistics.median(plain_s),
        "learner_s": statistics.median(learner_s),
        "ratio": statistics.median(learner_s) / statistics.median(plain_s),
        "plain_acc": results["plain"][1],
        "learner_acc": results["learner"][1],
        "identical_weights": same,
    }


def _model_and_opt():
    torch.manual_seed(0)
    model = CNN(mean=0.1307, std=0.3081).to(memory_format=torch.channels_last)
    return model, lambda params, lr=0.05: SGD(params, lr, momentum=0.9, nesterov=True, weight_decay=5e-4)


def _plain_loop(x, y, xv, yv, epochs):
    model, opt_fn = _model_and_opt()
    opt = opt_fn(model.parameters())
    train_dl, valid_dl = DataLoader((x, y), 128, shuffle=True, seed=0), DataLoader((xv, yv), 1000)
    for _ in range(epochs):
        model.train()
        for xb, yb in train_dl:
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in valid_dl:
                preds = model(xb)
                F.cross_entropy(preds, yb)
                correct += (preds.argmax(1) == yb).sum().item()
    return [p.detach().clone() for p in model.parameters()], correct / len(xv)


def _learner_loop(x, y, xv, yv, epochs):
    model, opt_fn = _model_and_opt()
    dls = DataLoaders(DataLoader((x, y), 128, shuffle=True, seed=0), DataLoader((xv, yv), 1000))
    learn = Learner(dls, model, F.cross_entropy, opt_func=opt_fn, lr=0.05, metrics=accuracy, quiet=True)
    learn.fit(epochs)
    return [p.detach().clone() for p in model.parameters()], learn.epoch_row["accuracy"]


def distributed_scaling(preset: str = "fast", repeats: int = 3, nprocs=(1, 2)) -> dict:
    """Training images/s and test accuracy with 1 and 2 processes (the real command, alternating runs)."""
    runs = {n: [] for n in nprocs}
    for seed in range(repeats):
        for n in nprocs:
            _, info = train_command(preset, seed, "--nproc", str(n))
            images = 54_000 * len(info["history"])
            runs[n].append(
                {
                    "images_per_s": images / info["seconds"]["train"],
                    "accuracy": info["metrics"]["test_accuracy"],
                }
            )
    return {
        n: {
            "images_per_s": statistics.median(r["images_per_s"] for r in rs),
            "accuracy": statistics.mean(r["accuracy"] for r in rs),
            "accuracies": [r["accuracy"] for r in rs],
        }
        for n, rs in runs.items()
    }
