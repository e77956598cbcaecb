"""Start-up: `digitlab --version` against `python -c "import torch"`, each a fresh process.

The command line imports heavy libraries inside its commands only, so asking for the version (or
help, or a Tab completion) should cost a small part of what loading torch does (issue #41: at most 0.25x).
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.stamp import figures
from bench.timing import command_line, interleaved

TARGET = 0.25  # issue #41: `digitlab --version` in at most a quarter of `import torch`'s time


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def run(repeats: int = 5) -> dict:
    """Both commands, interleaved (a busy moment slows both alike), `repeats` times each."""
    digitlab = [str(Path(sys.executable).with_name("digitlab")), "--version"]
    torch = [sys.executable, "-c", "import torch"]
    _seconds(torch)  # warm the file cache for both
    _seconds(digitlab)
    times = interleaved({"digitlab": lambda: _seconds(digitlab), "torch": lambda: _seconds(torch)}, repeats)
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {
        "repeats": repeats,
        **{f"{k}_min": min(v) for k, v in times.items()},
        **{f"{k}_median": m for k, m in medians.items()},
        "ratio": medians["digitlab"] / medians["torch"],
    }


def section(r: dict, command: str = "") -> str:
    within = r["ratio"] <= TARGET
    verdict = f"within issue #41's {TARGET}x" if within else f"above issue #41's {TARGET}x: a regression"
    return (
        f"## Start-up: `digitlab --version` against `import torch`\n\n{command_line(command)}"
        f"Each a fresh process, the two interleaved, {r['repeats']} runs each. "
        f"`digitlab --version` takes {r['ratio']:.2f}x the median time of loading torch ({verdict}).\n\n"
        "| command | min s | median s |\n|---|---|---|\n"
        f"| `digitlab --version` | {r['digitlab_min']:.3f} | {r['digitlab_median']:.3f} |\n"
        f'| `python -c "import torch"` | {r["torch_min"]:.3f} | {r["torch_median"]:.3f} |\n'
        + figures(ratio=f"{r['ratio']:.2f}x")
    )
