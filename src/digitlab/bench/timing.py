"""Small helpers: repeated timings and their medians, and a description of the machine."""

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def median_time(fn: Callable, repeats: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(repeats))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    if torch.cuda.is_available():
        text += f"; GPU: {torch.cuda.get_device_name(0)}"
    return text


def command_line(command: str) -> str:
    """The line that opens a section re-measured on its own: the command, the date and the machine."""
    return f"Command: `{command}`, {datetime.date.today()}, {machine()}.\n\n" if command else ""
