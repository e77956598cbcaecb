"""`train --mlflow URI`: the run's settings, each epoch's metrics and the finished model in MLflow.

The run goes into the experiment `--mlflow-experiment` (default "digitlab"), named `--mlflow-run-name`,
tagged by each `--mlflow-tag KEY=VALUE`. Its parameters are the settings that apply to the model
trained (the CNN's sizes only for a CNN). The model is logged as MLflow's Python model (`model`,
see mlflow_model): `mlflow.pyfunc.load_model("runs:/<run id>/model")` loads it elsewhere.

A URI with a scheme (`http://...`, `sqlite:///...`) is passed to MLflow as it is; a plain folder is a
local file store (MLflow 3 keeps the file store only when asked: MLFLOW_ALLOW_FILE_STORE is set for
it). The mlflow extra (`pip install 'digitlab[mlflow]'`, MLflow's client, mlflow-skinny) is imported
only when asked. Only the process that saves the model logs.
"""

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from digitlab.errors import DigitlabError
from digitlab.learning.callbacks import Callback

# Settings of digitlab's CNN alone: a parameter of the run only when the model trained is one
CNN_SETTINGS = ("channels", "convs", "strided_stem", "dropout")


def run_params(settings: dict[str, Any]) -> dict[str, str]:
    """The settings that apply to the model trained, as MLflow's parameters (text of at most 250
    characters): not the unset ones, not the CNN's for another model, not the run's own MLflow
    name and tags."""
    skipped = (*(CNN_SETTINGS if settings.get("model") != "cnn" else ()), "mlflow_run_name", "mlflow_tags")
    return {k: str(v)[:250] for k, v in settings.items() if v is not None and k not in skipped}


def tracking_uri(value: str) -> str:
    if "://" in value or value.startswith("databricks"):
        return value
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return Path(value).resolve().as_uri()


class MLflowLogger(Callback):
    """Starts an MLflow run before training, logs the settings, then each epoch's row."""

    order = 30

    def __init__(self, uri: str, settings: dict[str, Any]):
        try:
            import mlflow
        except ImportError:
            raise DigitlabError("--mlflow needs the mlflow extra: pip install 'digitlab[mlflow]'") from None
        self.mlflow, self.uri, self.settings = mlflow, tracking_uri(uri), settings
        self.run_id: str | None = None

    def before_fit(self, learn) -> None:
        if self.run_id is None:
            client = self.mlflow.tracking.MlflowClient(self.uri)
            name = self.settings.get("mlflow_experiment") or "digitlab"
            experiment = client.get_experiment_by_name(name)
            experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
            tags = dict(tag.split("=", 1) for tag in self.settings.get("mlflow_tags") or ())
            run_name = self.settings.get("mlflow_run_name")
            self.run_id = client.create_run(experiment_id, tags=tags, run_name=run_name).info.run_id
            params = run_params(self.settings)
            client.log_batch(
                self.run_id, params=[self.mlflow.entities.Param(k, v) for k, v in params.items()]
            )

    def after_epoch(self, learn) -> None:
        client = self.mlflow.tracking.MlflowClient(self.uri)
        for key, value in learn.epoch_row.items():
            if key not in ("epoch", "time"):
                client.log_metric(self.run_id, key, float(value), step=learn.epoch)

    def finish(self, model_folder: Path, metrics: dict[str, float]) -> None:
        """The saved model as the run's MLflow model `model`, the final metrics, and the run ended."""
        client = self.mlflow.tracking.MlflowClient(self.uri)
        for key, value in metrics.items():
            client.log_metric(self.run_id, f"final_{key}", float(value))
        current = model_folder / "current"  # the published run folder: model.json, weights, history, report
        folder = current.resolve() if current.exists() else model_folder
        with warnings.catch_warnings():  # MLflow asks a PythonModel for type hints (see mlflow_model)
            warnings.simplefilter("ignore")
            from digitlab.run.mlflow_model import save_pyfunc  # its class derives from MLflow's
        with tempfile.TemporaryDirectory() as tmp:
            save_pyfunc(Path(tmp) / "model", folder, str(self.settings.get("model")))
            client.log_artifacts(self.run_id, str(Path(tmp) / "model"), artifact_path="model")
        client.set_terminated(self.run_id)
