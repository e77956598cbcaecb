"""`train --mlflow`: settings, each epoch's metrics and the saved model folder in MLflow."""

import json
import sys

import pytest

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
