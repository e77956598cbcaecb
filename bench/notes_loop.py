"""The notes' own ten-digit loop: batches of 5 from a list of (image, label) pairs.

Per batch, digitlab's `DataLoader` over the list + `Learner.fit` against a plain PyTorch loop
over `torch.utils.data.DataLoader` with the same net, loss, optimizer and data; alternating,
medians of several runs. Then the notes' code with only their bugs fixed (tests/lesson/
notes_fixed_code.py: batches of 5, `fine_tune(10, 0.1)`) on a 42,000-row Kaggle CSV, as the
notes ran it: its honest validation accuracy and time.
"""

import runpy
import statistics
import tempfile
import warnings
from pathlib import Path

import torch
import torch.utils.data as torch_data
from torch import nn

from bench.timing import command_line, timed
from digitlab.data import DataLoader, DataLoaders, load_source
from digitlab.learning.learner import Learner
from digitlab.learning.metrics import accuracy
from digitlab.learning.optim import SGD

BATCH = 5


def _pairs(n: int) -> tuple[list, list]:
    source = load_source("mnist")
    x = source.train.images[:n].reshape(n, -1).float() / 255
    cut = n * 4 // 5
    pairs = list(zip(x, source.train.labels[:n], strict=True))
    return pairs[:cut], pairs[cut:]


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(28 * 28, 30), nn.ReLU(), nn.Linear(30, 10))


def _digitlab_epoch(train: list, valid: list) -> float:
    dls = DataLoaders(DataLoader(train, batch_size=BATCH, shuffle=True), DataLoader(valid, batch_size=BATCH))
    learn = Learner(dls, _net(), opt_func=SGD, loss_func=nn.CrossEntropyLoss(), metrics=accuracy, quiet=True)
    learn.fit(1, 0.1)
    return learn.recorder.values[-1][2]


def _plain_epoch(train: list, valid: list) -> float:
    model, loss_func = _net(), nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), 0.1)
    model.train()
    total = torch.zeros(())  # the epoch's training loss, as any loop that reports it keeps
    for xb, yb in torch_data.DataLoader(train, batch_size=BATCH, shuffle=True):
        loss = loss_func(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        total += loss.detach() * len(yb)
    model.eval()
    right, losses = 0, []
    with torch.no_grad():
        for xb, yb in torch_data.DataLoader(valid, batch_size=BATCH):
            out = model(xb)
            losses.append(loss_func(out, yb))
            right += int((out.argmax(1) == yb).sum())
    return right / len(valid)


def per_batch(n: int = 10_000, repeats: int = 5) -> dict:
    """Microseconds per batch of 5 (training and validation batches together), one epoch each."""
    train, valid = _pairs(n)
    batches = -(-len(train) // BATCH) - (-len(valid) // BATCH)
    _digitlab_epoch(train[:500], valid[:100]), _plain_epoch(train[:500], valid[:100])  # warm up
    ours, plain = [], []
    for _ in range(repeats):
        ours.append(timed(_digitlab_epoch, train, valid)[0])
        plain.append(timed(_plain_epoch, train, valid)[0])
    ours_us, plain_us = (statistics.median(t) / batches * 1e6 for t in (ours, plain))
    return {"images": n, "batches": batches, "repeats": repeats, "ours_us": ours_us, "plain_us": plain_us}


def notes_as_written(rows: int = 42_000) -> dict:
    """The notes' code, bugs fixed and nothing else, on a Kaggle-format CSV of `rows` MNIST digits."""
    from bench.csv_speed import write_kaggle_train_csv

    script = Path(__file__).parent.parent / "tests" / "lesson" / "notes_fixed_code.py"
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "train.csv"
        write_kaggle_train_csv(csv, rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds, names = timed(runpy.run_path, str(script), {"CSV": str(csv)})
    return {"rows": rows, "seconds": seconds, "accuracy": names["ten_valid_accuracy"]}


def section(speed: dict, command: str = "") -> str:
    ratio = speed["ours_us"] / speed["plain_us"]
    return (
        "## The notes' own loop: batches of 5 from a list of pairs\n\n"
        + command_line(command)
        + f"One epoch of the notes' 784-30-10 net over {speed['images']:,} MNIST digits "
        f"(80% train, 20% valid) in batches of {BATCH}: {speed['batches']:,} batches; "
        f"medians of {speed['repeats']} runs, alternating. Both loops keep the epoch's training loss "
        "and the validation loss and accuracy.\n\n"
        "| loop | per batch |\n| --- | --- |\n"
        f"| digitlab `DataLoader` (list of pairs) + `Learner.fit` | {speed['ours_us']:.0f} µs |\n"
        f"| plain PyTorch, `torch.utils.data.DataLoader` | {speed['plain_us']:.0f} µs |\n"
        f"| ratio | {ratio:.2f}x |\n"
    )


def notes_section(notes: dict, command: str = "") -> str:
    return (
        "## The notes' code as written, on 42,000 rows\n\n"
        + command_line(command)
        + "The notes' code with only their bugs fixed (`tests/lesson/notes_fixed_code.py`: batches of 5, "
        f"`fit(5, 0.1)`, `fine_tune(10, 0.1)`, the binary part included) on a {notes['rows']:,}-row "
        f"Kaggle-format CSV of MNIST digits: ten-digit accuracy {notes['accuracy']:.4f} on the honest 20% "
        f"held out, {notes['seconds']:.0f} s in all.\n"
    )
