"""`train --mlflow`: settings, each epoch's metrics and the saved model folder in MLflow."""

import json
import os
import socket
import sys
import time

import pytest

from digitlab.modelfiles.model_file import load_model
from tests.helpers import cli


def test_a_run_is_logged_to_a_local_mlflow_store(tiny_mnist_dir, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    store, out = tmp_path / "mlruns", tmp_path / "model"
    flags = ["--data", tiny_mnist_dir, "--model", "linear", "--epochs", "2", "--seed", "4"]
    result = cli("train", *flags, "--mlflow", store, "--out", out)
    assert result.returncode == 0, result.stderr
    client = mlflow.tracking.MlflowClient(store.resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("digitlab").experiment_id])
    assert run.data.params["model"] == "linear" and run.data.params["seed"] == "4"
    history = client.get_metric_history(run.info.run_id, "accuracy")
    saved = json.loads((out / "model.json").read_text())
    assert [m.step for m in history] == [0, 1]
    assert [m.value for m in history] == pytest.approx([row["accuracy"] for row in saved["history"]])
    assert run.data.metrics["final_test_accuracy"] == pytest.approx(saved["metrics"]["test_accuracy"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert "model/model.json" in artifacts and any(a.endswith(".safetensors") for a in artifacts)
    assert run.info.status == "FINISHED"


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
