"""`digitlab export`: a model as an ONNX file that needs nothing of digitlab; such a file read back checked.

The file's contract: input `image`, float32 [N,1,28,28], values in [0,1], white ink on black
(what `digitlab.data.images.to_mnist` makes, divided by 255); output `probs`, float32 [N,10].
(A model trained on other images or classes: [N,C,H,W] and [N,classes], as its metadata says; C is 3,
red-green-blue, for a colour model.)
Normalisation and softmax are inside, and the batch size is free. Metadata: classes, input size,
normalisation, digitlab version, the source model's weights hash, and `input_spec`: how an image file
becomes `image`, step by step with its numbers (`data.input_spec`), so any language can reproduce it.
"""

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from digitlab.data.input_spec import input_spec
from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular
from digitlab.modelfiles.model_file import ModelInfo
from digitlab.models import to_probs
from digitlab.version import __version__

GRAPH_BYTES = 16 << 20  # what an ONNX file may hold beyond twice its weights (its graph, metadata)


# What the input's pixels are, by the model's preprocessing (digitlab.data.images: to_mnist, as_input)
INPUT_FORMS = {
    "mnist": "white ink on black, cropped to the ink and centred by its centre of mass (MNIST style)",
    "as-is": "the picture as it is, grey (ITU-R 601-2 luma) and resized bilinearly to the model's size",
}
COLOUR_FORM = (
    "the picture as it is, RGB (channels red, green, blue), each resized bilinearly to the model's size"
)


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
    height, width = info.input_size
    channels = info.channels
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                WithProbabilities(model).eval(), (torch.rand(2, channels, height, width),),
                input_names=["image"], output_names=["probs"], dynamic_shapes={"image": {0: batch}},
                dynamo=True, verbose=False,
            )  # fmt: skip
    except Exception as e:  # noqa: BLE001 (a model of the user's own may hold what ONNX cannot express)
        raise DigitlabError(
            f"the {info.architecture} model cannot be exported to ONNX ({first_line(e)})"
        ) from None
    proto = program.model_proto
    metadata = {
        "classes": json.dumps(info.classes),
        "input_size": json.dumps(info.input_size),
        "normalization": json.dumps(info.normalization),
        "digitlab_version": __version__,
        "source_weights_sha256": info.weights_sha256,
        "preprocessing": info.preprocessing,
        "channels": str(channels),
        "input": f"image: float32 [N,{channels},{height},{width}] in [0,1], "
        + (COLOUR_FORM if channels == 3 else INPUT_FORMS[info.preprocessing]),
        "output": "probs: float32 [N,classes], softmax included",
        "input_spec": json.dumps(described_input(info)),
    }
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def described_input(info: ModelInfo) -> dict:
    """Metadata `input_spec`: the steps from an image file to `image` (any language can follow them),
    then what the graph itself does to it: the model's normalisation, the model, softmax."""
    size = (info.input_size[0], info.input_size[1])
    normalize = {"rule": "(x - mean) / std", **info.normalization} if info.normalization else None
    inside = {"normalize": normalize, "model": info.architecture, "softmax": True}
    described = input_spec(info.preprocessing, size, info.channels)
    return {**described, "in_graph": inside, "classes": info.classes}


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


def read_onnx_file(path: Path, weights_bytes: int) -> bytes:
    """An ONNX file in a model folder: a regular file (no link, pipe or device) of a size its model allows."""
    return read_regular(path, 2 * weights_bytes + GRAPH_BYTES, what="this model's export can be")


def checked_onnx(data: bytes, name: str | Path) -> dict[str, str]:
    """Parse ONNX bytes, refuse any tensor stored outside the file; returns the metadata.

    ONNX lets a tensor name a file to read its values from ("external data"): a crafted model
    could read any file the user can, and show its bytes as probabilities. digitlab's exports
    never use it, so no tensor anywhere (initializers, constants, subgraphs, functions) may.
    """
    require_onnx()
    import onnx

    try:
        proto = onnx.load_model_from_string(data)
    except Exception as e:  # noqa: BLE001 (protobuf's DecodeError and friends)
        raise DigitlabError(f"{name}: not an ONNX model ({first_line(e)})") from None
    for tensor in _tensors(proto):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise DigitlabError(
                f"{name}: tensor {tensor.name!r} is stored in another file; digitlab reads only "
                "self-contained ONNX files"
            )
    return {p.key: p.value for p in proto.metadata_props}


def _tensors(proto) -> Iterator:
    """Every tensor in an ONNX model: the graph's, its nodes' attributes', subgraphs', functions'."""
    graphs = [proto.graph]
    nodes = [node for function in proto.functions for node in function.node]
    while graphs or nodes:
        if graphs:
            graph = graphs.pop()
            yield from graph.initializer
            for sparse in graph.sparse_initializer:
                yield from (sparse.values, sparse.indices)
            nodes.extend(graph.node)
            continue
        for attribute in nodes.pop().attribute:
            yield from ([attribute.t] if attribute.HasField("t") else [])
            yield from attribute.tensors
            for sparse in [*([attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []),
                           *attribute.sparse_tensors]:  # fmt: skip
                yield from (sparse.values, sparse.indices)
            graphs.extend([*([attribute.g] if attribute.HasField("g") else []), *attribute.graphs])


def onnx_metadata(data: bytes) -> dict[str, str]:
    """The metadata an ONNX file carries (digitlab's: classes, normalisation, source weights)."""
    return checked_onnx(data, "<onnx>")


def first_line(error: Exception) -> str:
    """The gist of a library's error: its first line, without ONNX Runtime's C++ source location."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if text.startswith("[ONNXRuntimeError]") and ") " in text:
        text = text.rsplit(") ", 1)[1]
    return text[:200]
