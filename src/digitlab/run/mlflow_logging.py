"""`train --mlflow URI`: the run's settings, each epoch's metrics and the finished model folder in MLflow.

A URI with a scheme (`http://...`, `sqlite:///...`) is passed to MLflow as it is; a plain folder is a
local file store (MLflow 3 keeps the file store only when asked: MLFLOW_ALLOW_FILE_STORE is set for
it). The mlflow extra (`pip install 'digitlab[mlflow]'`, MLflow's client, mlflow-skinny) is imported
only when asked. Only the process that saves the model logs.
"""

import os
from pathlib import Path
from typing import Any

from digitlab.errors import DigitlabError
from digitlab.learning.callbacks import Callback


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
            experiment = client.get_experiment_by_name("digitlab")
            experiment_id = experiment.experiment_id if experiment else client.create_experiment("digitlab")
            self.run_id = client.create_run(experiment_id).info.run_id
            params = {k: str(v)[:250] for k, v in self.settings.items() if v is not None}
            client.log_batch(
                self.run_id, params=[self.mlflow.entities.Param(k, v) for k, v in params.items()]
            )

    def after_epoch(self, learn) -> None:
        client = self.mlflow.tracking.MlflowClient(self.uri)
        for key, value in learn.epoch_row.items():
            if key not in ("epoch", "time"):
                client.log_metric(self.run_id, key, float(value), step=learn.epoch)

    def finish(self, model_folder: Path, metrics: dict[str, float]) -> None:
        """The saved model folder as the run's artifact `model`, the final metrics, and the run ended."""
        client = self.mlflow.tracking.MlflowClient(self.uri)
        for key, value in metrics.items():
            client.log_metric(self.run_id, f"final_{key}", float(value))
        current = model_folder / "current"  # the published run folder: model.json, weights, history, report
        folder = current.resolve() if current.exists() else model_folder
        client.log_artifacts(self.run_id, str(folder), artifact_path="model")
        client.set_terminated(self.run_id)
