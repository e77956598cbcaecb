"""Training benchmarks: presets over seeds, in this process or as the whole command, against the reference."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import reference
from bench.stamp import figures
from bench.timing import command_line, timed
from digitlab.run.api import train as train_model
from digitlab.run.settings import TrainConfig


def preset_runs(preset: str, seeds: list[int], device: str = "cpu", epochs: int | None = None) -> dict:
    """Wall time (load, train, test evaluation, saving) and test accuracy for each seed, in this process."""
    runs = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as out:
            config = TrainConfig(preset=preset, seed=seed, device=device, out=out, epochs=epochs)
            seconds, result = timed(train_model, config, quiet=True)
            accuracy = result.evaluation.accuracy
            runs.append({"seed": seed, "seconds": seconds, "accuracy": accuracy, **result.seconds})
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


def speed_runs(fast_seeds: int = 10, reference_seeds: tuple[int, ...] = (1, 2, 3)) -> dict:
    """The whole `train --preset fast` command over seeds, then the reference recipe to 99.0% over seeds."""
    fast = whole_command_runs("fast", list(range(fast_seeds)))
    return {"fast": fast, "reference": [reference.time_to_accuracy(seed=s) for s in reference_seeds]}


def speed_runs_under(env: dict[str, str], **kwargs) -> dict:
    """`speed_runs` in a fresh interpreter with `env` set (another CPU kernel set, say)."""
    code = (
        "import json, sys; from bench.training import speed_runs; "
        f"print(json.dumps(speed_runs(**{kwargs!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed_section(by_kernels: dict[str, dict], command: str = "") -> str:
    """Per kernel set: the whole fast command against the reference's time to 99.0%, both over seeds."""
    rows = []
    for kernels, runs in by_kernels.items():
        fast, refs = runs["fast"], runs["reference"]
        reached = sum(r["accuracy"] >= 0.99 for r in fast["runs"])
        ref_s = statistics.median(r["seconds"] for r in refs)
        epochs = ", ".join(f"{r['epochs']}" for r in refs)
        missed = sum(not r["reached"] for r in refs)
        epochs += f" ({missed} missed)" if missed else ""
        rows.append(
            f"| {kernels} | {fast['median_s']:.1f} | {fast['median_train_s']:.1f} | {fast['min_acc']:.4f} | "
            f"{reached}/{len(fast['runs'])} | {ref_s:.1f} | {epochs} | **{ref_s / fast['median_s']:.1f}x** |"
        )
    first = next(iter(by_kernels.values()))
    per_seed = ", ".join(f"{r['accuracy']:.4f}" for r in first["fast"]["runs"])
    seeds = f"0-{len(first['fast']['runs']) - 1}"
    first_ratio = statistics.median(r["seconds"] for r in first["reference"]) / first["fast"]["median_s"]
    return (
        "## Time to 99.0%: the whole command\n\n" + command_line(command) + "`digitlab train --preset fast "
        f"--seed S` for seeds {seeds}, run as a user runs it and timed from outside (interpreter start-up, "
        "imports, loading MNIST, training, the test evaluation, saving the model and writing "
        "report.html), against PyTorch's examples/mnist recipe (`bench/reference.py`) trained epoch by "
        "epoch until its own test accuracy reaches 99.0% in that run, for seeds 1-3. Medians of both; "
        "the ratio is the reference's median time over digitlab's. Each kernel set is a fresh process "
        "with `ATEN_CPU_CAPABILITY` and `ONEDNN_MAX_CPU_ISA` set, as on a CPU that offers only those.\n\n"
        "| kernels | fast: whole command s | fast: training s | fast: least accuracy | seeds >= 0.99 | "
        "reference s to 99.0% | reference epochs | ratio |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nfast's accuracy per seed ({next(iter(by_kernels))}): {per_seed}.\n"
        + figures(fast_median_s=f"{first['fast']['median_s']:.1f} s", ratio=f"{first_ratio:.1f}x")
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


def presets_section(results: list[dict], command: str = "") -> str:
    rows = []
    for r in results:
        accs = ", ".join(f"{x['accuracy']:.4f}" for x in r["runs"])
        rows.append(
            f"| {r['preset']} | {len(r['runs'])} | {r['median_s']:.1f} | {r['mean_acc']:.4f} "
            f"± {r['std_acc']:.4f} | {r['max_acc']:.4f} | {accs} |"
        )
    return (
        "## Presets\n\n"
        + command_line(command)
        + "Test accuracy on the 10,000 official test images; wall time includes loading, "
        "training, the test evaluation and saving (for `fast` in a full run: the whole command, start-up "
        "included, as measured for the time to 99.0%).\n\n"
        "| preset | seeds | median seconds | mean ± std | best | per seed |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )
