"""PyTorch against ONNX Runtime on the same model: one image, a batch, and the web API under load."""

import statistics

import numpy as np

from bench.serving import web_load
from bench.timing import command_line, timed
from digitlab.data import load_source
from digitlab.inference.predictor import Predictor


def engines(model_dir, singles: int = 1000, repeats: int = 5) -> dict:
    """PyTorch against ONNX Runtime on the same model: one image at a time, and batches of 1,000."""
    from digitlab.inference.onnx_engine import OnnxEngine
    from digitlab.modelfiles.onnx_export import onnx_bytes
    from digitlab.models import predict_probs

    predictor = Predictor.load(model_dir)
    onnx = OnnxEngine(onnx_bytes(predictor.model, predictor.info))
    x = load_source("mnist").test.floats()
    runs = {"torch": lambda xb: predict_probs(predictor.model, xb), "onnx": lambda xb: onnx.probs(xb.numpy())}
    results = {}
    for name, run in runs.items():
        for i in range(50):  # warm up
            run(x[i : i + 1])
        single = np.array([timed(run, x[i % len(x)][None])[0] for i in range(singles)]) * 1000
        batched = statistics.median(timed(run, x[:1000])[0] for _ in range(repeats))
        results[name] = {
            "single_p50_ms": float(np.percentile(single, 50)),
            "single_p99_ms": float(np.percentile(single, 99)),
            "single_per_s": 1000 / float(single.mean()),
            "batch_per_s": 1000 / batched,
        }
    return results


def section(model_dir, quick: bool = False, command: str = "") -> str:
    """PyTorch and ONNX Runtime side by side: single images, batches, and the web API under load."""
    r = engines(model_dir, singles=200 if quick else 1000)
    loads = {e: web_load(model_dir, 200 if quick else 1000, engine=e) for e in ("torch", "onnx")}
    rows = "\n".join(
        f"| {e} | {r[e]['single_p50_ms']:.3f} | {r[e]['single_p99_ms']:.3f} | {r[e]['single_per_s']:,.0f} | "
        f"{r[e]['batch_per_s']:,.0f} | {loads[e]['p50_ms']:.1f} | {loads[e]['p99_ms']:.1f} | "
        f"{loads[e]['requests_per_s']:.0f} | {loads[e]['errors']} |"
        for e in ("torch", "onnx")
    )
    ratio = r["torch"]["single_p50_ms"] / r["onnx"]["single_p50_ms"]
    run = command_line(command)
    return (
        "## Inference engines: PyTorch and ONNX Runtime\n\n" + run + "The same 1-epoch fast-preset CNN; "
        "one 28x28 image per call (median and 99th percentile of "
        f"{200 if quick else 1000} calls), batches of 1,000 (median of 5), and the web API "
        "(`digitlab serve --engine ...`, 1,000 POSTs of a 280x280 drawing from 8 clients on 127.0.0.1; "
        "the web figures include decoding and MNIST-style preprocessing, the same for both).\n\n"
        "| engine | 1 image p50 ms | 1 image p99 ms | 1 image /s | batch images/s | web p50 ms | "
        "web p99 ms | web req/s | errors |\n|---|---|---|---|---|---|---|---|---|\n"
        f"{rows}\n\nONNX Runtime is **{ratio:.1f}x** faster than eager PyTorch for one image.\n"
    )
