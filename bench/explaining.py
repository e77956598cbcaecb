"""`explain`'s cost per image, and how much the evidence it finds matters.

Time: `explain()` on one MNIST test digit (the top three, two attribution maps, the evidence
erased and the model asked again), medians over 20 digits after a warm-up, for the fast model
(Integrated Gradients, 64 steps), a linear model (exact) and the fast model on ONNX Runtime
(occlusion). Evidence: for 200 test digits, how often erasing the evidence changes the answer,
against erasing as many randomly chosen inked pixels (seeded).
"""

import statistics
import time

import numpy as np
import torch

from bench.timing import command_line
from digitlab.data import load_source
from digitlab.inference import explanation as ex
from digitlab.inference.predictor import Predictor
from digitlab.modelfiles.model_file import ModelInfo
from digitlab.models import Linear


def _median_ms(predictor: Predictor, images: np.ndarray) -> float:
    ex.explain(predictor, images[0])  # imports, first calls
    times = []
    for image in images:
        start = time.perf_counter()
        ex.explain(predictor, image)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def timings(model_dir: str, n: int = 20) -> dict:
    images = load_source("mnist").test.images[:n].numpy()
    torch.manual_seed(0)
    linear = Linear().eval()
    rows = {
        "fast model, integrated gradients": _median_ms(Predictor.load(model_dir), images),
        "linear model, exact": _median_ms(Predictor(linear, ModelInfo.describe(linear)), images),
    }
    try:
        rows["fast model on ONNX Runtime, occlusion"] = _median_ms(Predictor.load(model_dir, "onnx"), images)
    except ImportError:
        pass  # the onnx extra is not installed
    return rows


def evidence(model_dir: str, n: int = 200, seed: int = 0) -> dict:
    predictor, rng = Predictor.load(model_dir), np.random.default_rng(seed)
    images = load_source("mnist").test.images[:n].numpy()
    changed = randomly = pixels = 0
    for image in images:
        explanation = ex.explain(predictor, image)
        digit = explanation.top[0][0]
        changed += explanation.erased_top[0] != digit
        count = explanation.erased_pixels
        pixels += count
        ink = np.flatnonzero(image.reshape(-1) > 0)
        random = image.copy().reshape(-1)
        random[rng.choice(ink, size=min(count, len(ink)), replace=False)] = 0
        randomly += int(predictor.probs(random.reshape(1, 28, 28))[0].argmax()) != digit
    return {"n": n, "changed": changed / n, "random": randomly / n, "pixels": pixels / n}


def section(model_dir: str, command: str = "") -> str:
    rows, found = timings(model_dir), evidence(model_dir)
    table = "".join(f"| {name} | {ms:.0f} ms |\n" for name, ms in rows.items())
    return (
        "## Explaining a prediction\n\n"
        + command_line(command)
        + "`explain()` per image (top three, maps for the answer and the runner-up, the evidence erased "
        "and the model asked again), medians over 20 MNIST test digits after a warm-up, one process:\n\n"
        "| model | per image |\n| --- | --- |\n" + table + "\n"
        f"Erasing the evidence (the fewest top pixels carrying {ex.EVIDENCE_SHARE:.0%} of the positive "
        f"attribution, {found['pixels']:.0f} pixels on average) changed the fast model's answer for "
        f"{found['changed']:.1%} of {found['n']} test digits; erasing as many randomly chosen inked pixels "
        f"changed it for {found['random']:.1%} (seed 0).\n"
    )
