"""Small helpers: repeated timings and their medians, and a description of the machine."""

import datetime
import os
import platform
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import torch

T = TypeVar("T")


def timed(fn: Callable[..., T], *args: object, **kwargs: object) -> tuple[float, T]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def interleaved(sides: Mapping[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Each side once a round, in turn (A, B, A, B ...), so a busy moment slows every side alike."""
    results: dict[str, list[T]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, side in sides.items():
            results[name].append(side())
    return results


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = (
        f"{cpu}, {os.cpu_count()} cores, kernels {kernels()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    if torch.cuda.is_available():
        text += f"; GPU: {torch.cuda.get_device_name(0)}"
    return text


def kernels() -> str:
    """The CPU kernel set torch uses (AVX2, AVX512, DEFAULT), and oneDNN's cap when one is set."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return torch.backends.cpu.get_cpu_capability() + (f" (oneDNN up to {isa})" if isa else "")


def kernel_sets() -> dict[str, dict[str, str]]:
    """The CPU kernel sets to time on: this CPU's best, the portable one, and AVX-512 where offered."""
    sets: dict[str, dict[str, str]] = {f"{kernels()} (this CPU's best)": {}}
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if "avx512f" in flags and kernels() != "AVX512":
        sets["AVX512"] = {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    sets["DEFAULT (oneDNN up to SSE41)"] = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
    return sets


def commit() -> str:
    """The checkout's commit, marked "+changes" when tracked files differ from it; "unknown" outside git."""
    here = Path(__file__).parent
    try:
        head = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", here, "status", "--porcelain", "-uno"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return (
        head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
        if head.returncode == 0
        else "unknown"
    )


def command_line(command: str) -> str:
    """The line that opens a section: the command, the commit, the date and the machine."""
    return (
        f"Command: `{command}`, commit {commit()}, {datetime.date.today()}, {machine()}.\n\n"
        if command
        else ""
    )
