"""Predicting a folder of 20,000 image files: `digitlab predict`'s stream against a plain PyTorch loop.

The files are MNIST training digits as people hand them over: 56x56 PNGs, dark ink on white. Both
sides read every file in sorted order and call the same model 256 images at a time; digitlab also
prepares each image as MNIST was made (crop to the ink, scale, centre by mass: `to_mnist`), the
plain loop only inverts and resizes to 28x28. Images per second, medians of three runs, alternating.
"""

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.timing import command_line
from digitlab.data import load_source
from digitlab.inference.predictor import Predictor

FILES = 20_000


def _write_files(folder: Path, n: int) -> None:
    images = load_source("mnist").train.images[:n].numpy()
    for i, image in enumerate(images):
        Image.fromarray(255 - image).resize((56, 56), Image.Resampling.BILINEAR).save(folder / f"{i:05d}.png")


def _plain_loop(model: torch.nn.Module, folder: Path) -> int:
    files, count = sorted(folder.glob("*.png")), 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(files), 256):
            batch = [
                255 - np.asarray(Image.open(f).convert("L").resize((28, 28), Image.Resampling.BILINEAR))
                for f in files[start : start + 256]
            ]
            x = torch.from_numpy(np.stack(batch)).float().div(255).unsqueeze(1)
            count += len(model(x).argmax(1))
    return count


def _digitlab(predictor: Predictor, folder: Path) -> int:
    return sum(1 for p in predictor.iter_paths([folder]) if p.digit is not None)


def run(model_dir: str, n: int = FILES, repeats: int = 3) -> dict:
    predictor = Predictor.load(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_files(folder, n)
        ours, plain = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            assert _digitlab(predictor, folder) == n
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert _plain_loop(predictor.model, folder) == n
            plain.append(time.perf_counter() - start)
    return {"n": n, "ours": n / statistics.median(ours), "plain": n / statistics.median(plain)}


def section(model_dir: str, command: str = "") -> str:
    r = run(model_dir)
    return (
        "## Predicting a folder of 20,000 files\n\n"
        + command_line(command)
        + f"{r['n']:,} PNGs (56x56, dark ink on white) in one folder, the fast model, one process, "
        "medians of three runs, alternating. `digitlab predict` streams its answers and holds one "
        "batch of 256 digits at a time.\n\n"
        "| loop | images/s |\n| --- | --- |\n"
        f"| digitlab `Predictor.iter_paths` (what `predict --jsonl` runs) | {r['ours']:.0f} |\n"
        f"| plain PyTorch: open, invert, resize, batches of 256 | {r['plain']:.0f} |\n"
        f"| ratio | {r['ours'] / r['plain']:.2f}x |\n"
    )
