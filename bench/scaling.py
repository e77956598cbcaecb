"""Training on 1 against 2 processes (torch.distributed): throughput and accuracy, the real command."""

import statistics

from bench.timing import command_line
from bench.training import train_command

READING = """\
What it shows: on this 2-core machine one process already keeps both cores busy (PyTorch's
intra-op threads), so two processes with one thread each do the same arithmetic plus what
distribution costs: every process draws and slices the whole batch, and gradients are
all-reduced over gloo after every step. The speed-up is below 1, as it must be here. The
accuracy is the same (per-process BatchNorm statistics on CPUs cost nothing measurable at
batch 64 a process). On a machine with more cores, or several GPUs (NCCL, SyncBatchNorm),
each process brings its own compute, and the same command scales out; these runs show the
semantics hold (same global batch, same result), not the speed-up such a machine would give.
"""


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


def section(preset: str = "fast", repeats: int = 3, command: str = "") -> str:
    r = distributed_scaling(preset, repeats)
    one, two = r[1], r[2]
    efficiency = two["images_per_s"] / (2 * one["images_per_s"])
    seeds = {n: ", ".join(f"{a:.4f}" for a in r[n]["accuracies"]) for n in (1, 2)}
    rows = "\n".join(
        f"| {n} | {r[n]['images_per_s']:,.0f} | {r[n]['accuracy']:.4f} ({seeds[n]}) |" for n in (1, 2)
    )
    run = command_line(command)
    return (
        "## Distributed training: 1 against 2 processes\n\n" + run + f"`digitlab train --preset {preset} "
        f"--nproc N` on all of MNIST (global batch 128 either way), seeds 0..{repeats - 1}, runs "
        "alternating; images/s is the training stage alone (model.json), median of the runs; test "
        "accuracy their mean.\n\n"
        "| processes | training images/s | test accuracy (mean; per seed) |\n|---|---|---|\n"
        f"{rows}\n\nScaling efficiency: **{efficiency:.0%}** (2-process throughput / twice the "
        "1-process one).\n\n" + READING
    )
