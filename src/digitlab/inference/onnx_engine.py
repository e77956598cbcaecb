"""Running an ONNX model with ONNX Runtime, as predictor.py runs a PyTorch one: `--engine onnx`.

An export is kept only when the two agree: `export_model` runs both on the same images first.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from digitlab.errors import DigitlabError
from digitlab.fileio import refuse_special, write_bytes_atomic
from digitlab.modelfiles.model_file import ModelInfo
from digitlab.modelfiles.onnx_export import checked_onnx, first_line, onnx_bytes, read_onnx_file, require_onnx
from digitlab.models import predict_probs

MAX_PROB_DIFF = 1e-4  # the largest probability difference an export may show on the check
ONNX_BATCH = 1000  # images per ONNX Runtime call: 10,000 at once took 480 MB of activations
# Rows of probabilities sum to 1: float32 softmax over C classes is off by about C * 6e-8; a file that
# computes anything else (raw scores, file bytes read as weights) is off by far more.
SUM_TOLERANCE = 1e-3


@dataclass
class ExportCheck:
    n: int
    max_prob_diff: float
    class_agreement: float  # fraction of images whose predicted class is the same
    torch_accuracy: float
    onnx_accuracy: float

    @property
    def passed(self) -> bool:
        return self.class_agreement == 1.0 and self.max_prob_diff <= MAX_PROB_DIFF


def check_export(model: nn.Module, data: bytes, images: torch.Tensor, labels: torch.Tensor) -> ExportCheck:
    """ONNX Runtime against PyTorch on the same images: float (N,1,H,W) in [0,1]."""
    ours = predict_probs(model.eval().cpu(), images).numpy()
    theirs = OnnxEngine(data, ours.shape[1]).probs(images.numpy())
    return ExportCheck(
        n=len(images),
        max_prob_diff=float(np.abs(theirs - ours).max()),
        class_agreement=float((theirs.argmax(1) == ours.argmax(1)).mean()),
        torch_accuracy=float((ours.argmax(1) == labels.numpy()).mean()),
        onnx_accuracy=float((theirs.argmax(1) == labels.numpy()).mean()),
    )


def export_model(model: nn.Module, info: ModelInfo, out: str | Path, images, labels) -> ExportCheck:
    """Write FILE.onnx only if it passes the check on `images`; otherwise leave nothing."""
    refuse_special(Path(out))  # a link or a device at `out`: refused before the export's seconds
    data = onnx_bytes(model, info)
    check = check_export(model, data, images, labels)
    if not check.passed:
        raise DigitlabError(
            f"{out}: not written: the ONNX model disagrees with PyTorch (largest probability difference "
            f"{check.max_prob_diff:.2e}, classes agree on {check.class_agreement:.2%} of {check.n} images)"
        )
    write_bytes_atomic(out, data)
    return check


class OnnxEngine:
    """Probabilities from an ONNX file with ONNX Runtime: the `--engine onnx` of predict and serve.

    An ONNX file in a model folder may come from anyone: it is parsed and checked (`checked_onnx`)
    before ONNX Runtime sees it, and every output is checked to be probabilities.
    """

    def __init__(self, data: bytes, classes: int = 10, name: str = "model.onnx"):
        require_onnx()
        import onnxruntime as ort

        self.classes, self.name = classes, name
        try:
            self.session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 (ONNX Runtime's errors have no common base class)
            raise DigitlabError(f"{name}: ONNX Runtime cannot load it ({first_line(e)})") from None

    @classmethod
    def for_model(cls, model: nn.Module, info: ModelInfo, folder: Path | None) -> "OnnxEngine":
        """The folder's exported `model.onnx` if it belongs to these weights, else a fresh export."""
        path = folder / "model.onnx" if folder is not None else None
        if path is not None and os.path.lexists(path):
            data = read_onnx_file(path, _weights_bytes(model))
            if checked_onnx(data, path).get("source_weights_sha256") == info.weights_sha256:
                return cls(data, len(info.classes), str(path))
        return cls(onnx_bytes(model, info), len(info.classes))

    def probs(self, images: np.ndarray) -> np.ndarray:
        """(N,1,H,W) float32 in [0,1] -> (N,classes), a batch of images at a time."""
        images = np.ascontiguousarray(images, np.float32)
        out = [self._run(images[i : i + ONNX_BATCH]) for i in range(0, len(images), ONNX_BATCH)]
        return np.concatenate(out) if out else np.zeros((0, self.classes), np.float32)

    def _run(self, images: np.ndarray) -> np.ndarray:
        try:
            probs = self.session.run(["probs"], {"image": images})[0]
        except Exception as e:  # noqa: BLE001 (a graph that fails on this input)
            raise DigitlabError(f"{self.name}: ONNX Runtime failed on it ({first_line(e)})") from None
        if not isinstance(probs, np.ndarray) or probs.shape != (len(images), self.classes):
            shape = getattr(probs, "shape", type(probs).__name__)
            raise DigitlabError(f"{self.name}: its output is {shape}, not {len(images)} x {self.classes}")
        if not (np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()) or not np.allclose(
            probs.sum(1, dtype=np.float64), 1.0, rtol=0, atol=SUM_TOLERANCE
        ):
            raise DigitlabError(f"{self.name}: its output is not probabilities (rows in [0,1] summing to 1)")
        return probs


def _weights_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())
