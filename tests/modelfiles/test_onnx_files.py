"""An ONNX file in a model folder is data, never a key to the machine: no file reads, probabilities out."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.helpers import cli

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
from onnx import TensorProto, helper  # noqa: E402


def tiny_graph(weights_sha256: str, output: str = "softmax", external: str | None = None) -> bytes:
    """A hand-built model: image -> flatten -> first ten pixels (+ a constant) -> `output`.

    `external`: the constant's values are "stored" in that file (ONNX external data).
    """
    constant = helper.make_tensor("bias", TensorProto.FLOAT, [10], np.zeros(10, np.float32).tolist())
    if external is not None:
        constant.ClearField("float_data")
        constant.data_location = TensorProto.EXTERNAL
        for key, value in (("location", external), ("offset", "0"), ("length", "40")):
            constant.external_data.add(key=key, value=value)
    last = {
        "softmax": helper.make_node("Softmax", ["scores"], ["probs"], axis=1),
        "identity": helper.make_node("Identity", ["scores"], ["probs"]),  # raw pixels, not probabilities
        "wide": helper.make_node("Concat", ["scores", "scores"], ["probs"], axis=1),  # (N, 20)
    }[output]
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"]),
        helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["first"]),
        helper.make_node("Add", ["first", "bias"], ["scores"]),
        last,
    ]
    ints = [
        helper.make_tensor(n, TensorProto.INT64, [1], [v])
        for n, v in (("starts", 0), ("ends", 10), ("axes", 1))
    ]
    graph = helper.make_graph(
        nodes, "crafted",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", None])],
        initializer=[constant, *ints],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    helper.set_model_props(model, {"source_weights_sha256": weights_sha256})
    return model.SerializeToString()


@pytest.fixture
def folder(trained_model, tmp_path, mnist):
    """A copy of a trained model folder, and a digit to predict."""
    copy = tmp_path / "model"
    shutil.copytree(trained_model, copy, symlinks=True)
    Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / "seven.png")
    return copy


def sha(folder) -> str:
    return json.loads((folder / "model.json").read_text())["weights_sha256"]


@pytest.mark.parametrize("where", ["secret.txt", "/etc/hostname", "../secret.txt"])
def test_external_data_is_refused_and_no_file_is_read(folder, tmp_path, where):
    secret = folder / "secret.txt"
    secret.write_bytes(b"TOP SECRET " * 10)
    (folder / "model.onnx").write_bytes(tiny_graph(sha(folder), external=where))
    result = cli("predict", folder, tmp_path / "seven.png", "--engine", "onnx", "--json")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "is stored in another file; digitlab reads only self-contained ONNX files" in result.stderr
    assert "probs" not in result.stdout and "SECRET" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "output, message",
    [("identity", "its output is not probabilities"), ("wide", "its output is (1, 20), not 1 x 10")],
)
def test_an_output_that_is_not_n_by_10_probabilities_is_refused(folder, tmp_path, output, message):
    (folder / "model.onnx").write_bytes(tiny_graph(sha(folder), output))
    result = cli("predict", folder, tmp_path / "seven.png", "--engine", "onnx", "--json")
    assert result.returncode == 1 and message in result.stderr and "probs" not in result.stdout


def test_a_well_formed_crafted_file_gives_probabilities_like_any_other(folder, tmp_path):
    """The checks are not a blanket refusal: a sound softmax graph runs."""
    (folder / "model.onnx").write_bytes(tiny_graph(sha(folder)))
    result = cli("predict", folder, tmp_path / "seven.png", "--engine", "onnx", "--json")
    assert result.returncode == 0, result.stderr
    assert abs(sum(json.loads(result.stdout)[0]["probs"]) - 1) < 1e-3


@pytest.mark.parametrize(
    "content, message",
    [
        (b"garbage", "not an ONNX model"),
        (b"\x0a\xff\xff\xff\x0f", "not an ONNX model"),
        (None, "is not a regular file"),
    ],
)
def test_garbage_links_and_oversized_files_are_one_line(folder, tmp_path, content, message):
    path = folder / "model.onnx"
    if content is None:
        path.symlink_to("/etc/hostname")
    else:
        path.write_bytes(content)
    result = cli("predict", folder, tmp_path / "seven.png", "--engine", "onnx")
    assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1
    path.unlink()
    with open(path, "wb") as f:
        f.truncate(200 << 20)  # sparse: 200 MB declared, nothing read
    result = cli("predict", folder, tmp_path / "seven.png", "--engine", "onnx")
    assert result.returncode == 1 and "more than this model's export can be" in result.stderr


def test_the_server_refuses_a_folder_with_a_crafted_onnx_file(folder):
    from digitlab.errors import DigitlabError
    from digitlab.inference.predictor import Predictor

    (folder / "model.onnx").write_bytes(tiny_graph(sha(folder), external="/etc/passwd"))
    with pytest.raises(DigitlabError, match="stored in another file"):
        Predictor.load(folder, engine="onnx")  # what `serve --engine onnx` loads before it listens
