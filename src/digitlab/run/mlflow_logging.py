"""`train --mlflow URI`: the run's settings, each epoch's metrics and the finished model in MLflow.

The run goes into the experiment `--mlflow-experiment` (default "digitlab"), named `--mlflow-run-name`,
tagged by each `--mlflow-tag KEY=VALUE`. Its parameters are the settings that apply to the model
trained (the CNN's sizes only for a CNN). The model is logged as MLflow's Python model (`model`,
see mlflow_model): `mlflow.pyfunc.load_model("runs:/<run id>/model")` loads it elsewhere.

A URI with a scheme (`http://...`, `sqlite:///...`) is passed to MLflow as it is; a plain folder is a
local file store (MLflow 3 keeps the file store only when asked: MLFLOW_ALLOW_FILE_STORE is set for
it). The mlflow extra (`pip install 'digitlab[mlflow]'`, MLflow's client, mlflow-skinny) is imported
only when asked. Only the process that saves the model logs.

A tracking server that does not answer costs seconds per call (HTTP_LIMITS, set for MLflow's client
unless the environment sets them), not MLflow's default of minutes of retries, and its first failure
is one line: before training, the run stops there; once training has begun, logging stops, training
goes on, the model is saved, and the run then fails saying the model is kept.
"""

import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitlab.errors import DigitlabError
from digitlab.learning.callbacks import Callback
from digitlab.learning.learner import Learner

if TYPE_CHECKING:  # the run makes this callback: its name for hints only
    from digitlab.run.training_run import TrainingRun
from digitlab.run.settings import as_text

# MLflow's environment variables for its HTTP client (the defaults: 120 s and 7 retries, minutes apart).
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": 10,  # seconds to connect, and for each read; a server answers in ms
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": 2,
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": 1,  # urllib3 waits 0 s before the first retry, then 2, 4, ...
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": 1,  # plus up to 1 s each
}

# Settings of digitlab's CNN alone: a parameter of the run only when the model trained is one
CNN_SETTINGS = ("widths", "convs", "strided_stem", "dropout")


def run_params(settings: dict[str, Any]) -> dict[str, str]:
    """The settings that apply to the model trained, as MLflow's parameters (text of at most 250
    characters): not the unset ones, not the CNN's for another model, not the run's own MLflow
    name and tags."""
    skipped = (*(CNN_SETTINGS if settings.get("model") != "cnn" else ()), "mlflow_run_name", "mlflow_tags")
    return {k: as_text(v)[:250] for k, v in settings.items() if v is not None and k not in skipped}


def tracking_uri(value: str) -> str:
    if "://" in value or value.startswith("databricks"):
        return value
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return Path(value).resolve().as_uri()


class MLflowLogger:
    """A callback of the run: starts an MLflow run before the fit and logs the settings; its part on
    the Learner logs each epoch's row; once the model is published, logs it and ends the run."""

    def __init__(self, uri: str, settings: dict[str, Any]):
        try:
            import mlflow
        except ImportError:
            raise DigitlabError("--mlflow needs the mlflow extra: pip install 'digitlab[mlflow]'") from None
        for key, value in HTTP_LIMITS.items():
            os.environ.setdefault(key, str(value))  # read by MLflow at each call
        self.mlflow, self.uri, self.settings = mlflow, tracking_uri(uri), settings
        self.run_id: str | None = None
        self.failure: str | None = None  # the first failed call: nothing more is sent after it
        self.learner_cbs: list[Callback] = [MLflowEpochs(self)]

    def before_fit(self, run: "TrainingRun") -> None:
        self.settings = run.config.to_json()  # fitted to the data: its kind's recipe and CNN size
        self.run_id = self._call("starting a run", self._start_run)
        if self.failure is not None:  # nothing trained yet: stop before the time is spent
            raise DigitlabError(self.failure)

    def _start_run(self) -> str:
        client = self.mlflow.tracking.MlflowClient(self.uri)
        name = self.settings.get("mlflow_experiment") or "digitlab"
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
        tags = dict(tag.split("=", 1) for tag in self.settings.get("mlflow_tags") or ())
        run_name = self.settings.get("mlflow_run_name")
        run_id = client.create_run(experiment_id, tags=tags, run_name=run_name).info.run_id
        params = run_params(self.settings)
        client.log_batch(run_id, params=[self.mlflow.entities.Param(k, v) for k, v in params.items()])
        return str(run_id)

    def log_epoch(self, epoch: int, row: dict[str, float]) -> None:
        self._call(f"logging epoch {epoch}", self._log_epoch, epoch, row)

    def _log_epoch(self, epoch: int, row: dict[str, float]) -> None:
        client = self.mlflow.tracking.MlflowClient(self.uri)
        for key, value in row.items():
            if key not in ("epoch", "time"):
                client.log_metric(self.run_id, key, float(value), step=epoch)

    def after_publish(self, run: "TrainingRun") -> None:
        """The saved model as the run's MLflow model `model`, the final metrics, and the run ended;
        one line saying the model is kept if any logging failed."""
        self._call("logging the model", self._log_model, run.result.folder, run.result.metrics)
        if self.failure is not None:
            raise DigitlabError(f"{run.result.folder}/ is saved, but {self.failure}")

    def _log_model(self, model_folder: Path, metrics: dict[str, float]) -> None:
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

    def _call(self, what: str, call: Any, *args: Any) -> Any:
        """`call(*args)` unless an earlier call failed; a failure of MLflow or the network is kept as
        one line in `failure` (training goes on without logging)."""
        if self.failure is not None:
            return None
        try:
            return call(*args)
        except Exception as e:  # noqa: BLE001 (MLflow, requests and urllib3 raise their own kinds)
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            reason = reason.split("Caused by ", 1)[-1][:300]  # urllib3's cause: what the network did
            self.failure = f"MLflow at {self.uri} failed {what} ({reason})"
            return None


class MLflowEpochs(Callback):
    """The logger's part on the Learner: each epoch's row, as the epoch ends."""

    order = 30

    def __init__(self, logger: MLflowLogger):
        self.logger = logger

    def after_epoch(self, learn: Learner) -> None:
        self.logger.log_epoch(learn.epoch, learn.epoch_row)
