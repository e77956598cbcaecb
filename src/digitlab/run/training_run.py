"""A training run, read top to bottom: `TrainingRun(config).run()` builds, fits, evaluates, publishes.

As pytorch/examples' mnist/main.py reads in one screen: the settings are resolved and the processes
joined once, when the run is made; `run()` then goes through the four stages, each between a
`before_` and an `after_` event for the run's callbacks (TensorBoard and MLflow among them, each
giving the Learner its part). `digitlab train` and `digitlab.train` both get the RunResult.
"""

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from digitlab.data.sources import source_location
from digitlab.errors import DigitlabError, plain
from digitlab.inference.evaluation import Evaluation, evaluate, final_split
from digitlab.inference.predictor import Predictor
from digitlab.learning.callbacks import Callback, CSVLogger, history_csv
from digitlab.learning.cuda_graphs import GraphedSteps
from digitlab.learning.guards import EarlyStopping
from digitlab.learning.learner import Learner
from digitlab.modelfiles import checkpoint_file
from digitlab.modelfiles.checkpoint_file import Checkpoint
from digitlab.modelfiles.model_file import JSON_NAME, TRUST_HINT, ModelInfo, load_model
from digitlab.modelfiles.ownership import CHECKPOINT_FOLDER, remove_own_folder, writing
from digitlab.modelfiles.publishing import publish_run
from digitlab.models import UntrustedCode, build_model, check_fits, model_name
from digitlab.report.model_report import training_report
from digitlab.run import processes
from digitlab.run.learner_parts import (
    Fittable,
    augmentation,
    build_learner,
    build_model_for,
    compile_failure_explained,
    deterministic_cudnn,
    load_holdout,
)
from digitlab.run.model import Model
from digitlab.run.recipe import fit_to_data, recipe_line, refuse_untrusted, user_callbacks
from digitlab.run.settings import TrainConfig, as_text
from digitlab.run.warmup import warm_up

STAGES = ("build", "fit", "evaluate", "publish")
RUN_EVENTS = tuple(f"{when}_{stage}" for stage in STAGES for when in ("before", "after"))


@dataclass(frozen=True)
class Resume:
    """A run's checkpoint to go on from (modelfiles/checkpoint_file.py): its tensors and what it stored."""

    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]  # where it stopped (epoch, iter), the callbacks' state, and `extra`

    @classmethod
    def load(cls, out: str | Path) -> "Resume":
        """OUT/checkpoint; a run that finished removed it, and says so rather than that a file is missing."""
        if not (Path(out) / CHECKPOINT_FOLDER).exists() and (Path(out) / JSON_NAME).exists():
            raise DigitlabError(f"{out}: its run has finished (its model is {JSON_NAME}): nothing to resume")
        return cls(*checkpoint_file.load(Path(out) / CHECKPOINT_FOLDER))

    @property
    def extra(self) -> dict[str, Any]:
        """What the run stored with it: its settings, its data's fingerprint, its model's description."""
        return dict(self.meta["extra"])

    @property
    def position(self) -> tuple[int, int]:
        """(epoch, batches done in it): where the Learner's fit starts again."""
        return self.meta["epoch"], self.meta["iter"]


@dataclass(frozen=True)
class RunResult:
    """What a training run did: the model, where it is saved, and the run's figures (`digitlab.train`'s
    example shows them). `digitlab train` prints from the same object."""

    model: Model  # ready to predict: the module trained in this process, not read back from disk
    folder: Path  # the model folder: model.json, weights, history.csv, report.html
    config: TrainConfig  # resolved: exactly what ran
    history: list[dict[str, float]]  # a row per epoch: train_loss, valid_loss, accuracy... (baseline: none)
    kept_epoch: int | None  # with --patience: the epoch whose weights were kept (from 0); else None
    evaluation: Evaluation  # on the test split (the valid split when the data have none)
    metrics: dict[str, float]  # model.json's: the test (or valid) accuracy, the kept epoch's valid figures
    seconds: dict[str, float]  # per stage: load, warmup, train, evaluate

    def __repr__(self) -> str:
        score = f"{self.evaluation.split}_accuracy={self.evaluation.accuracy:.4f}"
        total = sum(self.seconds.values())
        epochs = f"{len(self.history)} epoch{'s' if len(self.history) != 1 else ''}"
        return f"<RunResult {str(self.folder)!r}: {epochs}, {score}, {total:.1f} s>"

    def stopped_early(self) -> str | None:
        """'stopped early at epoch 7, kept epoch 4' (numbered from 1, as the table's rows are not)."""
        if self.kept_epoch is None or self.kept_epoch == len(self.history) - 1:
            return None
        return f"stopped early at epoch {len(self.history)}, kept epoch {self.kept_epoch + 1}"


class TrainingRun:
    """One run of `digitlab train`, made once from its settings: rank and world size, resolved
    settings, folders, the checkpoint to resume from, and the callbacks that hear its events.

    `trust_code`: an `init` model or a checkpoint may name a class of the user's own, to import.
    """

    result: RunResult  # set by `publish`

    def __init__(
        self, config: TrainConfig, *, quiet: bool = False, resume: Resume | None = None,
        trust_code: bool = False, cbs: Iterable[Any] = (),
    ) -> None:  # fmt: skip
        self.start = time.perf_counter()
        self.rank, self.world = processes.setup()
        self.resume, self.trust_code = resume, trust_code
        self.init = load_model(config.init, trust_code) if config.init and resume is None else None
        self.config = config.resolve(_trained_model_name(self.init[1]) if self.init else None)
        self.quiet = quiet or self.rank > 0  # the first process speaks for all
        self.folder = Path(self.config.out)
        self.checkpoint_folder = self.folder / CHECKPOINT_FOLDER  # what a run writes as it goes
        if resume is not None:  # the checkpoint's optimizer and callbacks (its model: `_model_to_resume`)
            refuse_untrusted(
                dataclasses.replace(self.config, model="cnn"), str(self.checkpoint_folder), trust_code
            )
        self.cbs = [*(_loggers(self.config) if self.rank == 0 else []), *cbs]  # only the first writes
        self.seconds: dict[str, float] = {}
        self.learner: Learner | None = None  # None for a model that is fitted, not trained

    def run(self) -> RunResult | None:
        """Build, fit, evaluate, publish; None in a process other than the first of a distributed
        run, which trains its share and leaves evaluating and writing to the first."""
        writes = self.rank == 0
        with writing(self.folder, resume=self.resume is not None) if writes else nullcontext() as files:
            self.manifest = files
            self._stage("build", self.build)
            self._stage("fit", self.fit)
            if self.rank > 0:
                return None
            self._stage("evaluate", self.evaluate)
            self._stage("publish", self.publish)
        return self.result

    def build(self) -> None:
        """The data split, the model (fresh, the `init` model, or the checkpoint's) and its Learner."""
        torch.manual_seed(self.config.seed)
        self.splits, holdout, self.config = load_holdout(self.config)  # the data's preprocessing, channels
        self.config, self.recipe = fit_to_data(self.config, self.splits)
        self.fingerprint = self.splits.train.fingerprint()
        self.model = self._model()
        for part in (self.splits.train, self.splits.valid):  # a model trained further (init, checkpoint) fits
            check_fits(self.model, part, self.config.data)
        self.loaded = time.perf_counter()  # the Learner's making counts as training (or warm-up), as before
        self.seconds["load"] = self.loaded - self.start
        if not isinstance(self.model, Fittable):
            self.learner = self._learner()
            if not self.quiet:
                lines = (settings_line(self.config), holdout.line(), holdout.warning())
                lines += (
                    budget_line(self.config, len(self.splits.train)),
                    recipe_line(self.config, self.recipe),
                )
                for line in lines:
                    if line:
                        self.learner.progress.console.print(plain(line), markup=False)  # names stay text

    def fit(self) -> None:
        """The baseline's one pass, or the Learner's one-cycle schedule (warmed up first on a GPU or
        with --compile; with --patience, stopping early and keeping the best epoch)."""
        self.kept_epoch = None
        if self.learner is None:
            self.model.fit(self.splits.train.floats(), self.splits.train.labels)
        else:
            self._train(self.learner)
        self.seconds["train"] = time.perf_counter() - self.loaded - self.seconds.get("warmup", 0.0)
        processes.teardown()

    def evaluate(self) -> None:
        """The trained model on the test split (the valid split when the data have none)."""
        start = time.perf_counter()
        self.model.eval()
        self.split, self.data = final_split(self.splits)
        self.evaluation, _ = evaluate(self.model, self.data, self.split)
        self.seconds["evaluate"] = time.perf_counter() - start

    def publish(self) -> None:
        """model.json and the weights, history.csv and report.html, switched into OUT at once; the
        checkpoint removed (nothing is left to resume)."""
        history = self.learner.recorder.rows if self.learner else []
        metrics = {f"{self.split}_accuracy": self.evaluation.accuracy}
        info = ModelInfo.describe(
            self.model, settings=self.config.to_json(), history=history,
            metrics=metrics | (kept_metrics(history, self.kept_epoch) if history else {}),
            classes=self.splits.class_labels(), preprocessing=self.config.preprocess or "mnist",
            data_fingerprint=self.fingerprint, data_source=source_location(self.config.data),
            seconds={k: round(v, 3) for k, v in self.seconds.items()}, augmentation_chosen=self.recipe,
        )  # fmt: skip
        columns = self.learner.recorder.history() if self.learner else None
        files = {"report.html": training_report(self.model, info, columns, self.evaluation, self.data)}
        if history:
            files["history.csv"] = history_csv(history)
        publish_run(self.folder, self.manifest, self.model.cpu(), info, files)
        remove_own_folder(self.checkpoint_folder)
        model = Model(Predictor(self.model, info, folder=self.folder), self.folder)
        self.result = RunResult(
            model, self.folder, self.config, history, self.kept_epoch, self.evaluation, info.metrics,
            self.seconds,
        )  # fmt: skip

    # --- the parts ----------------------------------------------------------------
    def _stage(self, name: str, step: Callable[[], None]) -> None:
        self.callback(f"before_{name}")
        step()
        self.callback(f"after_{name}")

    def callback(self, event: str) -> None:
        """Each callback's method for `event`, if it has one, in `order`; an error names the callback."""
        for cb in sorted(self.cbs, key=lambda c: getattr(c, "order", 0)):
            if (method := getattr(cb, event, None)) is not None:
                try:
                    method(self)
                except Exception as e:
                    e.add_note(f"in callback {type(cb).__name__}.{event}")
                    raise

    def _model(self) -> torch.nn.Module:
        if self.resume is not None:
            return self._model_to_resume(self.resume.extra)
        return self.init[0] if self.init else build_model_for(self.config, self.splits)

    def _learner(self) -> Learner:
        """The Learner with the run's own callbacks: history.csv and the checkpoint as it trains, and
        the parts of the run's callbacks that act on each batch or epoch."""
        augment = augmentation(self.config)
        spec = {"architecture": model_name(self.model), "config": self.model.config}  # what resuming rebuilds
        extra = {"config": self.config.to_json(), "data_fingerprint": self.fingerprint, "model": spec}
        generators = [augment.generator] if augment else []
        resume_from = (self.resume.tensors, self.resume.meta) if self.resume else None
        checkpoint = Checkpoint(  # every process keeps one (they save in step); only the first writes
            self.checkpoint_folder, self.config.checkpoint_every, generators, extra,
            resume_from=resume_from, write=self.rank == 0,
        )  # fmt: skip
        cbs: list[Callback] = [checkpoint]
        if self.rank == 0:
            cbs.append(CSVLogger(self.checkpoint_folder / "history.csv"))
        cbs += [part for cb in self.cbs for part in getattr(cb, "learner_cbs", [])] + user_callbacks(
            self.config
        )
        shard = (self.rank, self.world)
        return build_learner(self.model, self.splits, self.config, self.quiet, augment, cbs, shard)

    def _train(self, learner: Learner) -> None:
        with deterministic_cudnn(), compile_failure_explained():
            if (self.config.compile or self.config.device == "cuda") and self.world == 1:
                warm_up(learner)
                self.seconds["warmup"] = time.perf_counter() - self.loaded
            stop = [EarlyStopping(patience=self.config.patience)] if self.config.patience else []
            position = self.resume.position if self.resume else (0, 0)
            learner.fit_one_cycle(self.config.epochs, cbs=stop, start=position)  # at the Learner's lr
            self.kept_epoch = stop[0].best_epoch if stop else None
        if isinstance(learner.train_step, GraphedSteps):  # recording is warm-up, not training
            self.seconds["warmup"] = self.seconds.get("warmup", 0.0) + learner.train_step.seconds

    def _model_to_resume(self, extra: dict[str, Any]) -> torch.nn.Module:
        """The model the checkpoint describes, for the data it was trained on (a class of the user's own
        only with `trust_code`: the checkpoint may come from anyone)."""
        if extra.get("data_fingerprint") != self.fingerprint:
            raise DigitlabError(
                f"{self.config.data}: the data differ from those the checkpoint was trained on (its settings "
                f"name {extra['config'].get('data')!r}: resume with --data naming those data)"
            )
        spec = extra.get("model")
        try:  # the description is bounded like a model.json's config before anything is built
            if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
                raise ValueError("it must say the architecture and its config")
            imported = spec.get("architecture") == "imported"
            if (spec["config"].get("target") if imported else spec.get("architecture")) != self.config.model:
                raise ValueError(f"architecture must be the settings' {self.config.model!r}")
            return build_model(spec["architecture"], self.trust_code, **spec["config"])
        except UntrustedCode as e:
            raise DigitlabError(f"{self.checkpoint_folder}: {e}; {TRUST_HINT}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise DigitlabError(f"{self.checkpoint_folder}: its model description is damaged ({e})") from None


def resumed(
    out: str | Path, data: str = "mnist", tensorboard: str | None = None
) -> tuple[TrainConfig, Resume]:
    """`digitlab train --resume OUT`: the stored run's settings and its checkpoint, to run to its end.

    Paths and the process count come from the command line, never from the checkpoint (a folder
    may come from anyone): `data` and `tensorboard` as given, the processes as launched.
    """
    resume = Resume.load(out)
    stored = TrainConfig.from_json(resume.extra.get("config"))
    world = processes.world_size()
    if stored.nproc != world:
        raise DigitlabError(
            f"{out}: its run trained in {stored.nproc} process{'es' if stored.nproc > 1 else ''}; resume it "
            f"with --nproc {stored.nproc} (the same count goes on bit for bit), not {world}"
        )
    return dataclasses.replace(stored, out=str(out), data=data, tensorboard=tensorboard, init=None), resume


def kept_metrics(rows: list[dict], kept_epoch: int | None) -> dict:
    """The validation figures of the weights that were saved: the kept epoch's row when early
    stopping went back to an earlier epoch, else the last row."""
    kept = len(rows) - 1 if kept_epoch is None else kept_epoch
    metrics = {"valid_accuracy": rows[kept]["accuracy"], "valid_loss": rows[kept]["valid_loss"]}
    if kept != len(rows) - 1:
        metrics |= {"kept_epoch": kept + 1, "stopped_epoch": len(rows)}
    return metrics


SHOWN_SETTINGS = ("data", "model", "model_args", "preset", "epochs", "lr", "batch_size", "seed", "out")


def settings_line(config: TrainConfig) -> str:
    """The run's main settings, resolved, as it starts (all of them: --verbose, or --print-config)."""
    shown = " ".join(
        f"{k}={as_text(getattr(config, k))}" for k in SHOWN_SETTINGS if getattr(config, k) is not None
    )
    return f"settings: {shown} (every setting: --print-config)"


def budget_line(config: TrainConfig, n_train: int) -> str:
    """What the run will train: epochs, images and optimizer steps, and the data they come from."""
    size = config.epoch_size or n_train
    steps = config.epochs * math.ceil(size / config.batch_size)
    epochs = f"{config.epochs} epoch{'s' if config.epochs > 1 else ''}"
    whose = (
        "an epoch is that many images, whatever the data's size"
        if config.epoch_size
        else "passes over the training images"
    )
    return (
        f"budget: {epochs} of {size:,} images, {steps:,} steps of {config.batch_size} ({whose}), "
        f"on {n_train:,} training images"
    )


def _trained_model_name(info: ModelInfo) -> str:
    """The `model` setting of a run that goes on from this model: its architecture, or its class."""
    return str(info.config["target"] if info.architecture == "imported" else info.architecture)


def _loggers(config: TrainConfig) -> list[Any]:
    """TensorBoard and MLflow, when asked for (each imports its library only then)."""
    loggers: list[Any] = []
    if config.tensorboard:
        from digitlab.run.tensorboard_logging import TensorBoardLogger

        loggers.append(TensorBoardLogger(config.tensorboard, config.to_json()))
    if config.mlflow:
        from digitlab.run.mlflow_logging import MLflowLogger

        loggers.append(MLflowLogger(config.mlflow, config.to_json()))
    return loggers
