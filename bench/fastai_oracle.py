"""fastai 2.8.12 itself as the oracle: the notes' ten-digit cells and the book's Learner methods, run by
both libraries on the same data, and the notes' batch-size-5 epoch timed side by side.

fastai runs in a venv of its own (`make fastai-oracle` makes it; DIGITLAB_FASTAI_PYTHON names its
Python, default /work/fastai-venv/bin/python), as a child process reading commands (bench/fastai_side.py):
never a dependency of digitlab.
"""

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.stamp import figures
from bench.timing import command_line, timed
from digitlab.data import DataLoader, DataLoaders, load_source
from digitlab.errors import DigitlabError
from digitlab.learning.learner import Learner
from digitlab.learning.lr_finder import minimum, slide, steep, valley
from digitlab.learning.metrics import accuracy
from digitlab.learning.optim import SGD

DEFAULT_PYTHON = "/work/fastai-venv/bin/python"
SIDE = Path(__file__).with_name("fastai_side.py")
BATCH = 5


def fastai_python() -> Path | None:
    """The oracle venv's Python, or None where it is missing."""
    path = Path(os.environ.get("DIGITLAB_FASTAI_PYTHON", DEFAULT_PYTHON))
    return path if path.exists() else None


class Fastai:
    """fastai in its own process, answering one JSON command at a time."""

    def __init__(self, python: Path):
        self.process = subprocess.Popen(
            [str(python), str(SIDE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, **command: Any) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"fastai's side ended (exit {self.process.wait()}): see its stderr above")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def pairs(n: int) -> dict:
    """n MNIST training digits as the notes hold them: lists of (784 floats, label) pairs, 80/20."""
    source = load_source("mnist")
    x = source.train.images[:n].reshape(n, -1).float() / 255
    cut = n * 4 // 5
    items = list(zip(x, source.train.labels[:n], strict=True))
    return {"train": items[:cut], "valid": items[cut:]}


def net(weights: dict | None = None) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(28 * 28, 30), nn.ReLU(), nn.Linear(30, 10))
    if weights is not None:
        model.load_state_dict(weights)
    return model


def learner(data: dict, weights: dict | None = None, shuffle: bool = True) -> Learner:
    dls = DataLoaders(
        DataLoader(data["train"], batch_size=BATCH, shuffle=shuffle), DataLoader(data["valid"], BATCH)
    )
    loss = nn.CrossEntropyLoss()
    return Learner(dls, net(weights), opt_func=SGD, loss_func=loss, metrics=accuracy, quiet=True)


# --- the figures ------------------------------------------------------------------------------------
def digitlab_figures(data: dict, weights: dict) -> dict:
    """What fastai_side.figures computes, with digitlab."""
    out: dict[str, Any] = {}
    learn = learner(data, weights, shuffle=False)
    suggested = learn.lr_find(suggest_funcs=(valley, slide, minimum, steep), show_plot=False)
    out["lr_find"] = suggested._asdict()
    out["lr_find_lrs"], out["lr_find_losses"] = learn.recorder.lrs, learn.recorder.losses
    learn.fit(2, 0.1)
    out["fit_rows"], out["fit_losses"] = learn.recorder.values, learn.recorder.losses
    out["fit_iters"], out["validate"] = learn.recorder.iters, learn.validate()
    learn = learner(data, weights, shuffle=False)
    learn.fine_tune(2, 0.1)
    out["fine_tune_rows"] = learn.recorder.values
    out["predict"] = [
        [str(decoded), int(index), probs.tolist()]
        for decoded, index, probs in (learn.predict(x) for x, _ in data["valid"][:3])
    ]
    return out


def compare(n: int = 1000, python: Path | None = None) -> dict:
    """Both libraries' figures on the same `n` digits from the same starting weights, batches in
    their stored order (so both see the same batches), and the largest difference of each figure."""
    python = python or fastai_python()
    if python is None:
        raise DigitlabError("no fastai venv: run `make fastai-oracle` or set DIGITLAB_FASTAI_PYTHON")
    data, weights = pairs(n), net().state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(data, Path(tmp) / "data.pt")
        torch.save(weights, Path(tmp) / "weights.pt")
        fastai = Fastai(python)
        try:
            theirs = fastai.ask(
                do="figures", data=str(Path(tmp) / "data.pt"), weights=str(Path(tmp) / "weights.pt")
            )
        finally:
            fastai.close()
    ours = digitlab_figures(data, weights)
    return {"n": n, "digitlab": ours, "fastai": theirs, "differences": differences(ours, theirs)}


def differences(ours: dict, theirs: dict) -> dict[str, float]:
    """The largest absolute difference of each figure (lists element by element; names must agree)."""
    diff: dict[str, float] = {}
    for key in theirs:
        if key == "predict":
            same = [a[:2] == b[:2] for a, b in zip(ours[key], theirs[key], strict=True)]
            diff["predict: class and index differ"] = float(same.count(False))
            diff["predict: probabilities"] = _largest([a[2] for a in ours[key]], [b[2] for b in theirs[key]])
        elif key == "lr_find":
            assert list(ours[key]) == list(theirs[key]), (ours[key], theirs[key])
            for name in theirs[key]:  # rates: compared on a log scale, as they are read
                diff[f"lr_find: {name} (log10 rate)"] = abs(
                    torch.tensor(ours[key][name]).log10().item()
                    - torch.tensor(theirs[key][name]).log10().item()
                )
        else:
            diff[key] = _largest(ours[key], theirs[key])
    return diff


def _largest(a: Any, b: Any) -> float:
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    if ta.shape != tb.shape:
        return float("inf")
    return float((ta - tb).abs().max()) if ta.numel() else 0.0


def figures_section(result: dict, command: str = "") -> str:
    ours, theirs, diff = result["digitlab"], result["fastai"], result["differences"]
    rows = [
        ("lr_find suggestions", _fmt(ours["lr_find"]), _fmt(theirs["lr_find"])),
        ("fit(2, 0.1): last row", _fmt(ours["fit_rows"][-1]), _fmt(theirs["fit_rows"][-1])),
        ("validate()", _fmt(ours["validate"]), _fmt(theirs["validate"])),
        ("fine_tune(2, 0.1): last row", _fmt(ours["fine_tune_rows"][-1]), _fmt(theirs["fine_tune_rows"][-1])),
        ("predict: first answer", _fmt(ours["predict"][0][:2]), _fmt(theirs["predict"][0][:2])),
    ]
    return (
        "## fastai 2.8.12 as the oracle: the notes' cells and the book's methods\n\n"
        + command_line(command)
        + f"The notes' 784-30-10 net on {result['n']:,} MNIST digits (80% train), batches of {BATCH} "
        "in their stored order, from the same starting weights, by digitlab and by fastai 2.8.12 "
        "(its own venv, "
        "`make fastai-oracle`). Rows: train_loss (running), valid_loss, accuracy.\n\n"
        "| figure | digitlab | fastai |\n| --- | --- | --- |\n"
        + "".join(f"| {name} | {a} | {b} |\n" for name, a, b in rows)
        + "\nLargest difference of each figure: "
        + ", ".join(f"{name} {value:.2g}" for name, value in diff.items())
        + ".\n"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3g}" for k, v in value.items())
    return ", ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in value)


# --- the speed ---------------------------------------------------------------------------------------
def _digitlab_epoch(data: dict, threads: int) -> dict:
    torch.set_num_threads(threads)
    learn = learner(data)
    seconds, _ = timed(learn.fit, 1, 0.1)
    return {"seconds": seconds, "accuracy": learn.recorder.values[-1][2]}


def _plain_epoch(data: dict, threads: int) -> dict:
    """The same epoch in a plain PyTorch loop over the same loader (digitlab's, over the list of pairs):
    loss, backward, step; then the validation loss and accuracy. No callbacks, no table: the
    difference from the Learner is the Learner's own cost."""
    torch.set_num_threads(threads)
    model, loss_func = net(), nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), 0.1)
    start = time.perf_counter()
    for xb, yb in DataLoader(data["train"], batch_size=BATCH, shuffle=True):
        loss_func(model(xb), yb).backward()
        opt.step()
        opt.zero_grad()
    right, total = 0, torch.zeros(())
    with torch.no_grad():
        for xb, yb in DataLoader(data["valid"], batch_size=BATCH):
            out = model(xb)
            total += loss_func(out, yb) * len(yb)
            right += int((out.argmax(1) == yb).sum())
    return {"seconds": time.perf_counter() - start, "accuracy": right / len(data["valid"])}


def speed(n: int = 10_000, rounds: int = 3, python: Path | None = None) -> dict:
    """One epoch of the notes' loop (batches of 5 from a list of pairs, shuffled) by digitlab and by
    fastai, interleaved A,B,A,B for `rounds` rounds; then, to place the difference, fastai and a plain
    PyTorch loop on one thread, interleaved the same way. Seconds per epoch, each run's own."""
    python = python or fastai_python()
    if python is None:
        raise DigitlabError("no fastai venv: run `make fastai-oracle` or set DIGITLAB_FASTAI_PYTHON")
    data, threads = pairs(n), torch.get_num_threads()
    runs: dict[str, list[dict]] = {  # the plain loop: over digitlab's loader, as the Learner
        "digitlab": [],
        "fastai": [],
        "fastai, one thread": [],
        "plain loop, same loader, one thread": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "data.pt")
        torch.save(data, path)
        fastai = Fastai(python)
        try:
            small = {"train": data["train"][:200], "valid": data["valid"][:50]}
            torch.save(small, Path(tmp) / "small.pt")
            fastai.ask(do="epoch", data=str(Path(tmp) / "small.pt"), threads=threads)  # warm up both
            _digitlab_epoch(small, threads)
            for _ in range(rounds):
                runs["digitlab"].append(_digitlab_epoch(data, threads))
                runs["fastai"].append(fastai.ask(do="epoch", data=path, threads=threads))
            for _ in range(rounds):
                runs["fastai, one thread"].append(fastai.ask(do="epoch", data=path, threads=1))
                runs["plain loop, same loader, one thread"].append(_plain_epoch(data, 1))
        finally:
            fastai.close()
            torch.set_num_threads(threads)
    train_batches, valid_batches = -(-len(data["train"]) // BATCH), -(-len(data["valid"]) // BATCH)
    batches = train_batches + valid_batches
    return {"n": n, "rounds": rounds, "threads": threads, "batches": batches, "runs": runs}


def speed_section(result: dict, command: str = "") -> str:
    runs, batches = result["runs"], result["batches"]
    seconds = {name: [r["seconds"] for r in rs] for name, rs in runs.items()}
    ratio = min(seconds["digitlab"]) / min(seconds["fastai"])
    overhead = (
        (min(seconds["digitlab"]) - min(seconds["plain loop, same loader, one thread"])) / batches * 1e6
    )
    table = "".join(
        f"| {name} | {min(s):.2f} s | {statistics.median(s):.2f} s | {min(s) / batches * 1e3:.2f} ms | "
        f"{statistics.median(r['accuracy'] for r in runs[name]):.4f} |\n"
        for name, s in seconds.items()
    )
    verdict = "no slower than" if ratio <= 1 else "slower than"
    one_thread = min(seconds["fastai, one thread"]) / min(seconds["fastai"])
    against_one = min(seconds["digitlab"]) / min(seconds["fastai, one thread"])
    cost = (
        f"**{overhead:.0f} µs a batch**"
        if overhead > 0
        else f"none measurable (its epoch took {-overhead:.0f} µs a batch less: this machine's noise)"
    )
    return (
        "## The notes' own loop: batches of 5 from a list of pairs\n\n"
        + command_line(command)
        + f"One epoch of the notes' 784-30-10 net over {result['n']:,} MNIST digits (80% train, 20% valid) "
        f"as the notes write it: a list of (x, y) pairs, batches of {BATCH}, shuffled: {batches:,} batches. "
        f"digitlab and fastai 2.8.12 (its own venv, `make fastai-oracle`) interleaved A,B,A,B, "
        f"{result['rounds']} rounds, torch's default {result['threads']} threads each; then fastai and "
        "a plain PyTorch loop over the same loader on one thread, interleaved the same way (how busy "
        "the machine was: the line above; the ratio side by side is what counts).\n\n"
        "| loop | min | median | per batch (min) | valid accuracy |\n| --- | --- | --- | --- | --- |\n"
        + table
        + f"\ndigitlab / fastai (minimums): **{ratio:.2f}x**: digitlab's epoch is {verdict} fastai's; "
        f"against fastai on one thread, {against_one:.2f}x. "
        f"Where it comes from: fastai on one thread takes {one_thread:.2f}x its own time on "
        f"{result['threads']}: torch shares each operation of a batch between its threads, and for batches "
        "this small (0.24 million FLOPs a forward pass) waking the other threads costs what the work does, "
        "and more on a busy machine; digitlab's Learner counts the first batch's FLOPs and trains such "
        "batches on one thread (learning/threads.py). The Learner's own cost, measured one way (against "
        f"the plain loop over the same loader, both on one thread, minimums): {cost} "
        "(the events and callbacks: metrics, history, the NaN check, the running loss). It replaces the "
        "0.91x measured here before, with both on two threads and torch's own loader in the plain loop.\n"
        + figures(
            digitlab_s=f"{min(seconds['digitlab']):.2f} s",
            fastai_s=f"{min(seconds['fastai']):.2f} s",
            ratio=f"{ratio:.2f}x",
            fastai_one_s=f"{min(seconds['fastai, one thread']):.2f} s",
            against_one=f"{against_one:.2f}x",
            one_thread=f"{one_thread:.2f}x",
            callbacks=f"add {overhead:.0f} µs a batch to" if overhead > 0 else "add nothing measurable to",
        )
    )
