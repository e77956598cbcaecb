"""`train --mlflow`: settings, each epoch's metrics and the saved model folder in MLflow."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

import digitlab
from digitlab.modelfiles.model_file import load_model
from tests.helpers import cli


def test_a_run_is_logged_to_a_local_mlflow_store(tiny_mnist_dir, tmp_path, mnist):
    mlflow = pytest.importorskip("mlflow")
    store, out = tmp_path / "mlruns", tmp_path / "model"
    flags = ["--data", tiny_mnist_dir, "--model", "linear", "--epochs", "2", "--seed", "4"]
    named = ["--mlflow-experiment", "digits", "--mlflow-run-name", "first try"]
    tags = ["--mlflow-tag", "team=vision", "--mlflow-tag", "note=a=b c"]  # the first '=' splits
    result = cli("train", *flags, "--mlflow", store, *named, *tags, "--out", out)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    client = mlflow.tracking.MlflowClient(store.resolve().as_uri())
    assert client.get_experiment_by_name("digitlab") is None  # the experiment named, not the default
    (run,) = client.search_runs([client.get_experiment_by_name("digits").experiment_id])
    assert run.info.run_name == "first try"
    assert run.data.tags["team"] == "vision" and run.data.tags["note"] == "a=b c"
    assert run.data.params["model"] == "linear" and run.data.params["seed"] == "4"
    assert not {"widths", "convs", "strided_stem", "dropout"} & set(run.data.params)  # a CNN's only
    history = client.get_metric_history(run.info.run_id, "accuracy")
    saved = json.loads((out / "model.json").read_text())
    assert [m.step for m in history] == [0, 1]
    assert [m.value for m in history] == pytest.approx([row["accuracy"] for row in saved["history"]])
    assert run.data.metrics["final_test_accuracy"] == pytest.approx(saved["metrics"]["test_accuracy"])
    (folder,) = client.list_artifacts(run.info.run_id, "model/artifacts")  # the published model folder
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, folder.path)}
    assert f"{folder.path}/model.json" in artifacts and "model/MLmodel" in {
        a.path for a in client.list_artifacts(run.info.run_id, "model")
    }
    assert any(a.endswith(".safetensors") for a in artifacts) and run.info.status == "FINISHED"
    loaded = mlflow.pyfunc.load_model(f"{run.info.artifact_uri}/model")  # as MLflow's users load it
    digits = mnist.test.images[:5].numpy()
    answers = loaded.predict(digits.reshape(5, 784))
    assert list(answers["digit"]) == [p.digit for p in digitlab.load(out).predict(digits)]


def test_a_cnn_run_logs_the_cnn_s_settings(tiny_mnist_dir, tmp_path):
    from digitlab.run.mlflow_logging import run_params
    from digitlab.run.settings import TrainConfig

    cnn = TrainConfig(data=str(tiny_mnist_dir), preset="fast", device="cpu").resolve().to_json()
    assert run_params(cnn)["widths"] == "[16, 24, 48]" and run_params(cnn)["convs"] == "1"
    own = dict(cnn, model="mymodels:Net", mlflow_run_name="x", mlflow_tags=["a=b"], lr=None)
    assert not {"widths", "dropout", "mlflow_run_name", "mlflow_tags", "lr"} & set(run_params(own))


# Another process, in another folder, with neither the user's module nor the training's folders
LOAD_ELSEWHERE = """
import json, sys
import mlflow, numpy as np
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(f"runs:/{sys.argv[2]}/model")
answers = model.predict(np.zeros((3, 28, 28), np.uint8))
print(json.dumps({"n": len(answers), "probs": len(answers["probs"][0]), "module": "mynets" in sys.modules}))
"""
OWN_MODULE = """
from torch import nn

class Net(nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, n_classes))

    def forward(self, x):
        return self.layers(x)
"""


@pytest.mark.slow  # a training and a second interpreter loading torch and MLflow: about 15 s
def test_a_model_of_the_user_s_own_class_loads_elsewhere_with_its_source(
    tiny_mnist_dir, tmp_path, monkeypatch
):
    mlflow = pytest.importorskip("mlflow")
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir(), elsewhere.mkdir()
    (work / "mynets.py").write_text(OWN_MODULE)
    monkeypatch.chdir(work)
    monkeypatch.delitem(sys.modules, "mynets", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # as digitlab sets it for a folder, here and below
    store = (tmp_path / "mlruns").as_uri()
    flags = ["--data", tiny_mnist_dir, "--model", "mynets:Net", "--model-args", '{"n_classes": 10}']
    result = cli(
        "train", *flags, "--epochs", "1", "--mlflow", tmp_path / "mlruns", "--out", tmp_path / "model"
    )
    assert result.returncode == 0, result.stderr
    client = mlflow.tracking.MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("digitlab").experiment_id])
    assert run.data.params["model_args"] == '{"n_classes": 10}' and "widths" not in run.data.params
    (work / "mynets.py").unlink()  # gone from here too: only the copy MLflow keeps can be imported
    sys.modules.pop("mynets", None)
    loaded = subprocess.run([sys.executable, "-c", LOAD_ELSEWHERE, store, run.info.run_id], cwd=elsewhere,
                            capture_output=True, text=True)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout.splitlines()[-1]) == {"n": 3, "probs": 10, "module": True}


def test_without_the_extra_it_is_one_line(tiny_mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    result = cli("train", "--data", tiny_mnist_dir, "--model", "linear", "--epochs", "1",
                 "--mlflow", tmp_path / "m", "--out", tmp_path / "o")  # fmt: skip
    assert result.returncode == 1 and "pip install 'digitlab[mlflow]'" in result.stderr


@pytest.fixture
def short_limits(monkeypatch):
    """MLflow's HTTP limits as digitlab sets them, made short (1 s, one retry), in a copy of os.environ."""
    from digitlab.run import mlflow_logging

    limits = dict(
        mlflow_logging.HTTP_LIMITS, MLFLOW_HTTP_REQUEST_TIMEOUT=1, MLFLOW_HTTP_REQUEST_MAX_RETRIES=1
    )
    monkeypatch.setattr(mlflow_logging, "HTTP_LIMITS", limits)
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k not in limits})
    return limits


def test_a_tracking_server_that_never_answers_is_one_line_within_the_limits(
    tiny_mnist_dir, tmp_path, short_limits, monkeypatch
):
    pytest.importorskip("mlflow")
    from digitlab.run.mlflow_logging import MLflowLogger

    seconds, start_run = [], MLflowLogger._start_run

    def timed(self):
        start = time.monotonic()
        try:
            return start_run(self)
        finally:
            seconds.append(time.monotonic() - start)

    monkeypatch.setattr(MLflowLogger, "_start_run", timed)
    with socket.socket() as server:  # accepts connections (the kernel's backlog) and never answers
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        uri = f"http://127.0.0.1:{server.getsockname()[1]}"
        result = cli("train", "--data", tiny_mnist_dir, "--model", "linear", "--epochs", "1",
                     "--mlflow", uri, "--out", tmp_path / "m")  # fmt: skip
        server.setblocking(False)
        assert server.accept()  # the client did connect: it gave up waiting for an answer
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: MLflow at {uri} failed starting a run (ReadTimeoutError(")
    # The first call fails: 2 tries of 1 s each, no wait before the first retry (urllib3's backoff), and
    # 1 s for the rest on a busy machine. MLflow's own limits (7 retries of 120 s) take many minutes.
    assert len(seconds) == 1 and seconds[0] < 2 * 1 + 1
    assert not (tmp_path / "m" / "model.json").exists()  # nothing was trained


def test_when_logging_fails_once_training_has_begun_the_model_is_kept(tiny_mnist_dir, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    calls = []

    def server_went_away(self, *args, **kwargs):
        calls.append(args)
        raise ConnectionError("Connection reset by peer\nmore lines of the traceback")

    monkeypatch.setattr(mlflow.tracking.MlflowClient, "log_metric", server_went_away)
    store, out = tmp_path / "mlruns", tmp_path / "model"
    result = cli("train", "--data", tiny_mnist_dir, "--model", "linear", "--epochs", "2",
                 "--mlflow", store, "--out", out)  # fmt: skip
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    failed = f"MLflow at {store.resolve().as_uri()} failed logging epoch 0 (Connection reset by peer)"
    assert result.stderr == f"error: {out}/ is saved, but {failed}\n"
    assert len(calls) == 1  # nothing more was sent after the first failure
    model, info = load_model(out)  # trained for every epoch, and saved
    assert len(info.history) == 2
