"""Presets on the notes' own data: Kaggle's digit-recognizer has 42,000 labelled rows, not 60,000.

A preset is a budget of images seen, the same on any data (`config.EPOCH_SIZE`). Here each preset
trains on a Kaggle-format `train.csv` of MNIST's first 42,000 training digits (the split `train`
makes inside it) and is scored on the other 28,000 MNIST digits (the last 18,000 training and the
10,000 test digits: as many as Kaggle's test.csv), beside the same seeds on MNIST itself.
"""

import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.timing import command_line, timed
from digitlab.data import load_source
from digitlab.inference.predictor import Predictor
from digitlab.run.api import train as train_model
from digitlab.run.settings import TrainConfig

KAGGLE_ROWS = 42_000


def write_kaggle_split(folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """train.csv of MNIST's first 42,000 training digits, and the other 28,000 digits with their labels."""
    from bench.csv_speed import write_kaggle_train_csv

    mnist = load_source("mnist")
    path = folder / "train.csv"
    write_kaggle_train_csv(path, KAGGLE_ROWS)
    held_out = torch.cat([mnist.train.images[KAGGLE_ROWS:], mnist.test.images]).numpy()
    labels = torch.cat([mnist.train.labels[KAGGLE_ROWS:], mnist.test.labels]).numpy()
    return path, held_out, labels


def run(presets: tuple[str, ...] = ("fast",), seeds: dict[str, list[int]] | None = None) -> dict:
    """Per preset and seed: accuracy on MNIST's test set, and on the 28,000 held out after the CSV."""
    seeds = seeds or {"fast": list(range(10)), "default": [0, 1, 2]}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv, held_out, labels = write_kaggle_split(Path(tmp))
        for preset in presets:
            rows = []
            for seed in seeds[preset]:
                row = {"seed": seed}
                for data in ("mnist", str(csv)):
                    out = str(Path(tmp) / f"{preset}-{seed}-{Path(data).stem}")
                    config = TrainConfig(preset=preset, seed=seed, device="cpu", data=data, out=out)
                    seconds, result = timed(train_model, config, quiet=True)
                    evaluation = result.evaluation
                    if data == "mnist":
                        row |= {"mnist": evaluation.accuracy, "mnist_s": seconds}
                    else:
                        probs = Predictor.load(out).probs(held_out)
                        row |= {
                            "kaggle": float((probs.argmax(1).numpy() == labels).mean()),
                            "kaggle_s": seconds,
                        }
                rows.append(row)
            results[preset] = rows
    return results


def section(results: dict, command: str = "") -> str:
    lines = []
    for preset, rows in results.items():
        for key, name in (
            ("mnist", "MNIST's test set (trained on MNIST)"),
            ("kaggle", "28,000 held out (trained on the CSV)"),
        ):
            accs = [r[key] for r in rows]
            seconds = statistics.median(r[f"{key}_s"] for r in rows)
            reached = sum(a >= 0.99 for a in accs)
            lines.append(
                f"| `{preset}` | {name} | {len(rows)} | {statistics.mean(accs):.4f} | {min(accs):.4f} | "
                f"{max(accs):.4f} | {reached}/{len(rows)} | {seconds:.1f} |"
            )
        per_seed = "; ".join(f"seed {r['seed']}: {r['mnist']:.4f} / {r['kaggle']:.4f}" for r in rows)
        lines.append(f"| | per seed (MNIST / held out) | | {per_seed} | | | | |")
    return (
        "## Presets on the notes' data: a 42,000-row Kaggle CSV\n\n"
        + command_line(command)
        + "Each preset trains on MNIST (its 60,000 training digits, the preset's share held for validation: "
        "2% for fast and default) and, with the same seed, on a Kaggle-format `train.csv` of MNIST's "
        "first 42,000 training digits (the same share held inside it); the CSV's model is scored on the "
        "other 28,000 MNIST digits (as many "
        "as Kaggle's test.csv). A preset's budget is images seen (its epochs of `epoch_size` images: "
        "64,800 for fast, 54,000 for default), so both train for the same number of steps. "
        "Seconds: training, test evaluation and saving, in one "
        "process.\n\n"
        "| preset | scored on | seeds | mean | min | max | seeds >= 0.99 | median seconds |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n"
    )


# The fast preset before its budget was set in images (one pass, 10% held out, peak lr 0.1, no smoothing)
OLD_FAST = ("--epochs", "1", "--lr", "0.1", "--valid-fraction", "0.1", "--label-smoothing", "0")


def cost_of_the_promise(seeds: int = 5) -> dict:
    """The whole `train --preset fast` command against the same command as the preset was before,
    alternating seed by seed in this run: (seconds, accuracy) lists for each."""
    from bench.training import train_command

    runs = {"now": [], "before": []}
    for seed in range(seeds):
        for name, flags in (("now", ()), ("before", OLD_FAST)):
            seconds, info = train_command("fast", seed, *flags)
            runs[name].append((seconds, info["metrics"]["test_accuracy"]))
    return runs


def cost_section(runs: dict, command: str = "") -> str:
    now, before = (statistics.median(s for s, _ in runs[k]) for k in ("now", "before"))
    accs = {k: ", ".join(f"{a:.4f}" for _, a in v) for k, v in runs.items()}
    return (
        "## What the fast preset's promise costs\n\n" + command_line(command) + "The whole `digitlab "
        "train --preset fast --seed S` command (start-up to report) as the preset is now, and with the "
        f"flags that give the preset as it was before its budget was set in images (`{' '.join(OLD_FAST)}`"
        f"), alternating seed by seed, seeds 0-{len(runs['now']) - 1}.\n\n"
        "| fast preset | median seconds | test accuracy per seed |\n|---|---|---|\n"
        f"| now | {now:.1f} | {accs['now']} |\n| before | {before:.1f} | {accs['before']} |\n\n"
        f"Now / before: **{now / before:.2f}x** the time.\n"
    )
