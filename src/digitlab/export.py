"""`digitlab export`: a model as an ONNX file that needs nothing of digitlab, checked before it is kept.

The file's contract: input `image`, float32 [N,1,28,28], values in [0,1], white ink on black
(what `digitlab.data.images.to_mnist` makes, divided by 255); output `probs`, float32 [N,10].
Normalisation and softmax are inside, and the batch size is free. Metadata: classes,
normalisation, digitlab version, and the source model's weights hash.
"""

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from digitlab import __version__
from digitlab.checkpoint import ModelInfo
from digitlab.errors import DigitlabError
from digitlab.fileio import write_bytes_atomic
from digitlab.models import predict_probs, to_probs

MAX_PROB_DIFF = 1e-4  # the largest probability difference an export may show on the check


def require_onnx() -> None:
    """Say which extra to install when the ONNX packages are missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise DigitlabError(
            f"ONNX export and the onnx engine need the onnx extra ({e.name} is missing): "
            "pip install 'digitlab[onnx]'"
        ) from None


class WithProbabilities(nn.Module):
    """The model followed by softmax (or sigmoid for one output): images in, probabilities out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return to_probs(self.model(image))


def onnx_bytes(model: nn.Module, info: ModelInfo) -> bytes:
    """The model as ONNX (opset 18, dynamic batch), with digitlab's metadata."""
    require_onnx()
    import onnx

    model = model.eval().cpu().to(memory_format=torch.contiguous_format)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    with _quiet_exporter():
        program = torch.onnx.export(
            WithProbabilities(model).eval(), (torch.rand(2, 1, 28, 28),), input_names=["image"],
            output_names=["probs"], dynamic_shapes={"image": {0: batch}}, dynamo=True, verbose=False,
        )  # fmt: skip
    proto = program.model_proto
    metadata = {
        "classes": json.dumps(info.classes),
        "normalization": json.dumps(info.normalization),
        "digitlab_version": __version__,
        "source_weights_sha256": info.weights_sha256,
        "input": "image: float32 [N,1,28,28] in [0,1], white ink on black (MNIST style)",
        "output": "probs: float32 [N,classes], softmax included",
    }
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter logs its progress and notes on packages we do not use (torchvision): hush it."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


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
    """ONNX Runtime against PyTorch on the same images: float (N,1,28,28) in [0,1]."""
    theirs = OnnxEngine(data).probs(images.numpy())
    ours = predict_probs(model.eval().cpu(), images).numpy()
    return ExportCheck(
        n=len(images),
        max_prob_diff=float(np.abs(theirs - ours).max()),
        class_agreement=float((theirs.argmax(1) == ours.argmax(1)).mean()),
        torch_accuracy=float((ours.argmax(1) == labels.numpy()).mean()),
        onnx_accuracy=float((theirs.argmax(1) == labels.numpy()).mean()),
    )


def export_model(model: nn.Module, info: ModelInfo, out: str | Path, images, labels) -> ExportCheck:
    """Write FILE.onnx only if it passes the check on `images`; otherwise leave nothing."""
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
    """Probabilities from an ONNX file with ONNX Runtime: the `--engine onnx` of predict and serve."""

    def __init__(self, data: bytes):
        require_onnx()
        import onnxruntime as ort

        self.session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])

    @classmethod
    def for_model(cls, model: nn.Module, info: ModelInfo, folder: Path | None) -> "OnnxEngine":
        """The folder's exported `model.onnx` if it belongs to these weights, else a fresh export."""
        path = folder / "model.onnx" if folder is not None else None
        if path is not None and path.is_file():
            data = path.read_bytes()
            if onnx_metadata(data).get("source_weights_sha256") == info.weights_sha256:
                return cls(data)
        return cls(onnx_bytes(model, info))

    def probs(self, images: np.ndarray) -> np.ndarray:
        """(N,1,28,28) float32 in [0,1] -> (N,classes)."""
        return self.session.run(["probs"], {"image": np.ascontiguousarray(images, np.float32)})[0]


def onnx_metadata(data: bytes) -> dict[str, str]:
    """The metadata an ONNX file carries (digitlab's: classes, normalisation, source weights)."""
    require_onnx()
    import onnx

    return {p.key: p.value for p in onnx.load_model_from_string(data).metadata_props}
