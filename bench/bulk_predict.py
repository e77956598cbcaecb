"""Predicting a folder of 5,000 image files: the whole `digitlab predict --jsonl` command against a
plain PyTorch loop in its own process (`bench/plain_predict.py`), with the same model.

The files are MNIST training digits as people hand them over: 56x56 PNGs, dark ink on white. All
read every file in sorted order and call the model 256 images at a time. With MNIST-style
preprocessing digitlab crops to the ink, scales and centres by mass (`to_mnist`) where the loop only
inverts and resizes (issue #42: at most 1.25x its time); with `--as-is` both only grey and resize
(at most 1.0x). The loop runs as written (torch's own thread count) and again with the threads
digitlab gives its model, so a reader sees what the thread count alone does. Each run a fresh
process, start-up included, all interleaved.
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.timing import command_line
from digitlab.data import load_source
from digitlab.inference.predictor import model_threads
from digitlab.inference.preparing import cores

FILES = 5_000
PLAIN = Path(__file__).with_name("plain_predict.py")
TARGETS = {"mnist": 1.25, "as-is": 1.0}  # issue #42: the whole command against the plain loop
SIDES = ("digitlab", "plain", "plain, digitlab's threads")


def _write_files(folder: Path, n: int) -> None:
    images = load_source("mnist").train.images[:n].numpy()
    for i, image in enumerate(images):
        Image.fromarray(255 - image).resize((56, 56), Image.Resampling.BILINEAR).save(folder / f"{i:05d}.png")


def _commands(model_dir: str, folder: Path, mode: str) -> dict[str, list[str]]:
    digitlab = [str(Path(sys.executable).with_name("digitlab")), "predict", model_dir, str(folder), "--jsonl"]
    plain = [sys.executable, str(PLAIN), model_dir, str(folder)]
    if mode == "mnist":
        plain.append("--invert")
    else:
        digitlab.append("--as-is")
    return dict(zip(SIDES, (digitlab, plain, [*plain, "--threads", str(model_threads())]), strict=True))


def _seconds(argv: list[str], n: int) -> float:
    """One whole process's wall time; it must answer every file, one line each."""
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert done.stdout.count("\n") == n, done.stdout[-300:]
    return seconds


def run(model_dir: str, n: int = FILES, repeats: int = 3) -> dict:
    """Per mode, the sides interleaved (A, B, C, A, B, C ...), `repeats` times each after one warm-up
    of each (the file cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_files(folder, n)
        result: dict = {"n": n, "repeats": repeats, "threads": model_threads(), "workers": cores()}
        for mode in TARGETS:
            commands = _commands(model_dir, folder, mode)
            times: dict[str, list[float]] = {side: [] for side in SIDES}
            for argv in commands.values():
                _seconds(argv, n)
            for _ in range(repeats):
                for side, argv in commands.items():
                    times[side].append(_seconds(argv, n))
            result[mode] = {side: (min(t), statistics.median(t)) for side, t in times.items()}
    return result


def _rows(label: str, mode: str, r: dict, n: int) -> str:
    ours = r["digitlab"][1]
    rows = ""
    for side, (low, median) in r.items():
        ratio = ours / median
        verdict = (
            f" ({'within' if ratio <= TARGETS[mode] else 'above'} {TARGETS[mode]}x)"
            if side == "plain"
            else ""
        )
        shown = "1.00x" if side == "digitlab" else f"{ratio:.2f}x{verdict}"
        rows += f"| {label} | {side} | {low:.2f} | {median:.2f} | {n / median:.0f} | {shown} |\n"
    return rows


def section(model_dir: str, command: str = "") -> str:
    r = run(model_dir)
    n = r["n"]
    return (
        "## Predicting a folder of 5,000 files\n\n"
        + command_line(command)
        + f"{n:,} PNGs (56x56, dark ink on white) in one folder, the fast model. Each run a whole "
        f"process (start-up and loading the model included), all interleaved, {r['repeats']} runs "
        "each after a warm-up (how busy the machine was: the line above). `digitlab predict DIR --jsonl` "
        f"decodes and prepares the files in {r['workers']} processes forked before it imports torch "
        "(they work while torch loads), ahead of the model, and gives the model "
        f"{r['threads']} of torch's threads; the plain loop (`bench/plain_predict.py`) opens, greys "
        "and resizes each file with PIL (and inverts it for the MNIST-style rows), then calls the model "
        "256 at a time, with torch's own thread count and again with digitlab's. Images/s from the "
        "medians; the ratio is digitlab's median time over the row's (issue #42's target against the "
        "plain loop as written).\n\n"
        "| preprocessing | process | min s | median s | images/s | digitlab's time |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        + _rows("MNIST-style (`to_mnist`)", "mnist", r["mnist"], n)
        + _rows("`--as-is` (grey, resize)", "as-is", r["as-is"], n)
    )
