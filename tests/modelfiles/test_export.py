"""ONNX export with its built-in proof, the ONNX Runtime engine, and TensorBoard logging."""

import json
import sys

import numpy as np
import pytest

from digitlab.errors import DigitlabError
from tests.helpers import cli

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


@pytest.fixture(scope="module")
def exported(trained_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "digits.onnx"
    result = cli("export", trained_model, "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


@pytest.mark.numeric
def test_export_checks_itself_against_pytorch(exported, trained_model, mini_mnist_dir):
    from digitlab.modelfiles.model_file import load_model
    from digitlab.modelfiles.onnx_export import onnx_metadata

    out, stdout = exported  # checked on the model's own data (no --data): the IDX folder's 2,000 test images
    assert f"data: {mini_mnist_dir}, test split (2,000 images)" in stdout
    assert "checked on these 2,000 images" in stdout and "agree on 100.00%" in stdout
    difference = float(stdout.split("largest probability difference ")[1].split()[0])
    assert difference <= 1e-4
    meta = onnx_metadata(out.read_bytes())
    _, info = load_model(trained_model)
    assert meta["source_weights_sha256"] == info.weights_sha256 and json.loads(meta["classes"]) == list(
        range(10)
    )
    assert json.loads(meta["normalization"]) == info.normalization and meta["digitlab_version"]


@pytest.mark.numeric
def test_the_file_alone_runs_with_onnxruntime_and_numpy(exported, mnist):
    """docs/onnx.md's example: nothing of digitlab, any batch size, probabilities out."""
    import onnxruntime as ort

    out, _ = exported
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"] and session.get_outputs()[0].name == "probs"
    for n in (1, 7, 300):
        images = mnist.test.images[:n].numpy().astype(np.float32)[:, None] / 255
        (probs,) = session.run(["probs"], {"image": images})
        assert probs.shape == (n, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert (probs.argmax(1) == mnist.test.labels[:300].numpy()).mean() > 0.9


def test_a_disagreeing_export_leaves_no_file(trained_model, tmp_path, monkeypatch):
    import digitlab.inference.onnx_engine as export
    from digitlab.data import load_source
    from digitlab.modelfiles.model_file import load_model

    model, info = load_model(trained_model)
    real_probs = export.OnnxEngine.probs
    monkeypatch.setattr(export.OnnxEngine, "probs", lambda self, x: real_probs(self, x)[:, ::-1].copy())
    test = load_source("mnist").test.select(np.arange(200))
    with pytest.raises(DigitlabError, match="not written: the ONNX model disagrees"):
        export.export_model(model, info, tmp_path / "bad.onnx", test.floats(), test.labels)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.numeric
def test_predict_and_serve_give_the_same_answers_with_either_engine(trained_model, exported, mnist, tmp_path):
    from fastapi.testclient import TestClient
    from PIL import Image

    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app

    for i in range(3):
        Image.fromarray(mnist.test.images[i].numpy()).save(tmp_path / f"{i}.png")
    answers = {}
    for engine in ("torch", "onnx"):
        result = cli("predict", trained_model, tmp_path, "--json", "--engine", engine)
        assert result.returncode == 0, result.stderr
        answers[engine] = json.loads(result.stdout)
    assert [a["digit"] for a in answers["torch"]] == [a["digit"] for a in answers["onnx"]]
    for a, b in zip(answers["torch"], answers["onnx"], strict=True):
        assert np.allclose(a["probs"], b["probs"], atol=1e-4)
    client = TestClient(create_app(Predictor.load(trained_model, "onnx")), base_url="http://localhost")
    body = client.post("/api/predict", json={"pixels": mnist.test.images[1].numpy().tolist()}).json()
    assert body["digit"] == 2
    assert cli("predict", trained_model, tmp_path, "--engine", "tpu").returncode == 2  # a usage error


def test_without_the_extra_the_message_says_what_to_install(trained_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    result = cli("export", trained_model, "--out", tmp_path / "m.onnx")
    assert result.returncode == 1 and "pip install 'digitlab[onnx]'" in result.stderr
    result = cli("predict", trained_model, tmp_path, "--engine", "onnx")
    assert result.returncode == 1 and "digitlab[onnx]" in result.stderr


def test_tensorboard_logs_batches_epochs_weights_and_settings(mini_mnist_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = tmp_path / "tb"
    flags = ["--model", "mlp", "--epochs", "2", "--out", tmp_path / "m", "--tensorboard", logs]
    result = cli("train", "--data", mini_mnist_dir, *flags)
    assert result.returncode == 0, result.stderr
    assert len(list(logs.iterdir())) == 1  # one event file: the hparams live in the same run
    events = EventAccumulator(str(logs), size_guidance={"tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/batch_loss", "train/lr", "epoch/valid_loss", "epoch/accuracy"} <= set(tags["scalars"])
    assert tags["images"] == ["first_layer_weights"]
    assert "_hparams_/experiment" in events.PluginTagToContent("hparams")
    assert len(events.Scalars("epoch/accuracy")) == 2


def test_tensorboard_at_a_file_is_one_line_before_any_training(tiny_mnist_dir, tmp_path):
    pytest.importorskip("tensorboard")
    (tmp_path / "logs").write_text("not a folder")
    result = cli("train", "--data", tiny_mnist_dir, "--model", "linear", "--epochs", "1",
                 "--out", tmp_path / "m", "--tensorboard", tmp_path / "logs")  # fmt: skip
    assert result.returncode == 1 and not (tmp_path / "m").exists()
    assert result.stderr.strip() == f"error: {tmp_path / 'logs'}: is a file, and --tensorboard wants a folder"
