"""Training benchmarks: presets over seeds, in this process or as the whole command, against the reference."""

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from digitlab.bench.timing import command_line, timed
from digitlab.config import TrainConfig
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


def speed_section(fast: dict, ref: dict, command: str = "") -> str:
    """The whole `digitlab train --preset fast` command (`training.whole_command_runs`) against the
    reference recipe's time to 99.0%, measured one after the other."""
    seeds = len(fast["runs"])
    reached = sum(r["accuracy"] >= 0.99 for r in fast["runs"])
    per_seed = ", ".join(f"{r['accuracy']:.4f}" for r in fast["runs"])
    ratio = ref["seconds"] / fast["median_s"]
    run = command_line(command)
    return (
        "## Time to 99.0%: the whole command\n\n" + run + "`digitlab train --preset fast --seed S` run as a "
        "user runs it and timed from outside (interpreter start-up, imports, loading MNIST, training, the "
        "test evaluation, saving the model and writing report.html), against PyTorch's examples/mnist "
        "recipe (seed 1, `digitlab.bench.reference`) trained epoch by epoch until its test accuracy "
        "reaches 99.0% (its time includes loading and its per-epoch tests).\n\n"
        "| recipe | wall seconds | training seconds | test accuracy |\n|---|---|---|---|\n"
        f"| digitlab `train --preset fast` (median of {seeds} seeds) | {fast['median_s']:.1f} | "
        f"{fast['median_train_s']:.1f} | mean {fast['mean_acc']:.4f}, min {fast['min_acc']:.4f}, "
        f"**{reached}/{seeds} seeds >= 0.99** |\n"
        f"| PyTorch examples/mnist recipe | {ref['seconds']:.1f} | | {ref['accuracy']:.4f} after "
        f"{ref['epochs']} epochs ({', '.join(f'{a:.4f}' for a in ref['history'])}) |\n\n"
        f"Ratio: the whole digitlab command is **{ratio:.1f}x** faster than the reference's time to "
        f"99.0%. Per seed: {per_seed}.\n"
    )


def time_to_99_section(fast: dict, ref: dict, quick: bool) -> str:
    reached = sum(r["accuracy"] >= 0.99 for r in fast["runs"])
    if quick:  # one epoch on a tenth of the data: extrapolate to one full epoch, a lower bound
        ref_seconds = ref["seconds"] * 10
        ref_note = (
            f"quick mode: the reference ran 1 epoch on 6,000 images in {ref['seconds']:.1f} s; one epoch "
            f"on all 60,000 would take about {ref_seconds:.0f} s, and it needs at least one, so the ratio "
            "shown is a lower bound (the full run measures it)"
        )
    else:
        ref_seconds = ref["seconds"]
        ref_note = (
            f"reached {ref['accuracy']:.4f} after {ref['epochs']} epoch(s); per-epoch test accuracy "
            + ", ".join(f"{a:.4f}" for a in ref["history"])
        )
    ratio = ref_seconds / fast["median_s"]
    return (
        f"## Time to 99.0% test accuracy ({fast['device']})\n\n"
        "| recipe | wall seconds | test accuracy |\n|---|---|---|\n"
        f"| digitlab `--preset fast` (median of {len(fast['runs'])} seeds) | {fast['median_s']:.1f} | "
        f"mean {fast['mean_acc']:.4f}, min {fast['min_acc']:.4f}, "
        f"{reached}/{len(fast['runs'])} seeds >= 0.99 |\n"
        f"| PyTorch examples/mnist recipe (seed 1) | {ref_seconds:.1f} | {ref['accuracy']:.4f} |\n\n"
        f"Ratio: digitlab is **{ratio:.1f}x** faster to 99.0%. Reference: {ref_note}. Wall time includes "
        "loading the data and the final evaluation on the 10,000 test images (digitlab's also saving the "
        "model and writing report.html).\n"
    )


def presets_section(results: list[dict]) -> str:
    rows = []
    for r in results:
        accs = ", ".join(f"{x['accuracy']:.4f}" for x in r["runs"])
        rows.append(
            f"| {r['preset']} | {len(r['runs'])} | {r['median_s']:.1f} | {r['mean_acc']:.4f} "
            f"± {r['std_acc']:.4f} | {r['max_acc']:.4f} | {accs} |"
        )
    return (
        "## Presets\n\nTest accuracy on the 10,000 official test images; wall time includes loading, "
        "training, the test evaluation and saving (for `fast` in a full run: the whole command, start-up "
        "included, as measured for the time to 99.0%).\n\n"
        "| preset | seeds | median seconds | mean ± std | best | per seed |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )
