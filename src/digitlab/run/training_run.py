"""A training run, as `digitlab train` does it: load, split, build, train, evaluate, save, report."""

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from digitlab.data import Splits, load_source
from digitlab.data.class_names import parse_classes
from digitlab.data.holdout import Holdout, hold_out
from digitlab.data.sources import source_location
from digitlab.errors import DigitlabError, plain
from digitlab.inference.evaluation import Evaluation, evaluate, final_split
from digitlab.learning.callbacks import history_csv
from digitlab.learning.cuda_graphs import GraphedSteps
from digitlab.learning.guards import EarlyStopping
from digitlab.learning.learner import Learner
from digitlab.learning.lr_finder import Sweep, minimum, slide, steep, suggest, valley
from digitlab.modelfiles import checkpoint_file
from digitlab.modelfiles.model_file import JSON_NAME, TRUST_HINT, ModelInfo, load_model
from digitlab.modelfiles.ownership import remove_own_folder, writing
from digitlab.modelfiles.publishing import publish_run
from digitlab.models import UntrustedCode, build_model, check_fits
from digitlab.report.model_report import training_report
from digitlab.run import processes
from digitlab.run.learner_parts import build_learner, build_model_for
from digitlab.run.recipe import fit_to_data, recipe_line, refuse_untrusted
from digitlab.run.settings import TrainConfig, as_text
from digitlab.run.warmup import warm_up


@dataclass
class TrainResult:
    model: torch.nn.Module
    learner: Learner | None  # None for the baseline, which is fitted, not trained
    splits: Splits
    config: TrainConfig  # resolved: exactly what ran
    fingerprint: str  # SHA-256 of the training images and labels
    seconds: dict = field(default_factory=dict)
    kept_epoch: int | None = None  # early stopping: the epoch whose weights were kept (from 0)
    recipe: str = ""  # why the augmentation is the one it is (`run.recipe.fit_to_data`)

    def stopped_early(self) -> str | None:
        """'stopped early at epoch 7, kept epoch 4' (numbered from 1, as the table's rows are not)."""
        rows = self.learner.recorder.rows if self.learner else []
        if self.kept_epoch is None or not rows or self.kept_epoch == len(rows) - 1:
            return None
        return f"stopped early at epoch {len(rows)}, kept epoch {self.kept_epoch + 1}"


def load_splits(config: TrainConfig) -> Splits:
    """The source's training data split into train and valid (`data.holdout`'s rule), and its test data."""
    return _load_holdout(config)[0]


def _load_holdout(config: TrainConfig) -> tuple[Splits, Holdout, str]:
    """The splits, how valid was held out, and the preprocessing the data decided (or the settings)."""
    names = parse_classes(config.classes) if config.classes else None
    source = load_source(config.data, names, config.preprocess)
    if source.train.labels is None:
        raise DigitlabError(f"{config.data}: has no labels to train on (a test file?)")
    holdout = hold_out(source.train, source.valid, config.valid_fraction, config.seed)
    if len(holdout.train) == 0 or len(holdout.valid) == 0:
        n = len(source.train)
        raise DigitlabError(
            f"{config.data}: {n} image{'s' if n != 1 else ''} with labels, too few to split for validation"
            f" (valid_fraction {config.valid_fraction})"
        )
    return Splits(holdout.train, holdout.valid, source.test), holdout, source.preprocessing


def train(
    config: TrainConfig, quiet: bool = False, resume: tuple | None = None, trust_code: bool = False
) -> TrainResult:
    """Load, split, build and train (or go on from the checkpoint `resume`); the caller saves.

    Inside torch.distributed.run every process calls this; each trains on its slice of every batch.
    `trust_code`: an `init` model or a checkpoint may name a class of the user's own, to import.
    """
    start = time.perf_counter()
    rank, world = processes.setup()
    init = load_model(config.init, trust_code) if config.init and resume is None else None
    config = config.resolve(_trained_model_name(init[1]) if init else None)
    torch.manual_seed(config.seed)
    splits, holdout, preprocess = _load_holdout(config)
    config = dataclasses.replace(config, preprocess=preprocess)  # resolved: the model records it
    config, why = fit_to_data(config, splits)
    fingerprint = splits.train.fingerprint()
    if resume is not None:
        model = _model_to_resume(resume[1]["extra"], fingerprint, config, trust_code)
    else:
        model = init[0] if init else build_model_for(config, splits)
    for part in (splits.train, splits.valid):  # a model trained further (init, checkpoint) fits the data
        check_fits(model, part, config.data)
    seconds = {"load": time.perf_counter() - start}
    learner, kept = None, None
    if config.model == "baseline":
        model.fit(splits.train.floats(), splits.train.labels)
    else:
        learner = build_learner(
            model, splits, config, quiet or rank > 0, resume=resume, fingerprint=fingerprint
        )
        if not (quiet or rank > 0):
            console = learner.progress.console
            console.print(plain(settings_line(config)), markup=False)  # names from outside stay text
            lines = (holdout.line(), holdout.warning(), budget_line(config, len(splits.train)))
            for line in (*lines, recipe_line(config, why)):
                if line:
                    console.print(line, markup=False)
        with deterministic_cudnn(), compile_failure_explained():
            if (config.compile or config.device == "cuda") and world == 1:
                warm_up(learner)
                seconds["warmup"] = time.perf_counter() - start - seconds["load"]
            stop = [EarlyStopping(patience=config.patience)] if config.patience else []
            position = (resume[1]["epoch"], resume[1]["iter"]) if resume else (0, 0)
            learner.fit_one_cycle(config.epochs, cbs=stop, start=position)  # at the Learner's lr
            kept = stop[0].best_epoch if stop else None
    seconds["train"] = time.perf_counter() - start - sum(seconds.values())
    recording = getattr(learner, "train_step", None)
    if isinstance(recording, GraphedSteps):  # recording is warm-up, not training
        seconds["warmup"] = seconds.get("warmup", 0.0) + recording.seconds
        seconds["train"] -= recording.seconds
    return TrainResult(model.eval(), learner, splits, config, fingerprint, seconds, kept, recipe=why)


def _trained_model_name(info: ModelInfo) -> str:
    """The `model` setting of a run that goes on from this model: its architecture, or its class."""
    return info.config["target"] if info.architecture == "imported" else info.architecture


def _kept_metrics(rows: list[dict], kept_epoch: int | None) -> dict:
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
    whose = "the preset's budget" if config.epoch_size else "passes over the training images"
    return (
        f"budget: {epochs} of {size:,} images, {steps:,} steps of {config.batch_size} ({whose}), "
        f"on {n_train:,} training images"
    )


@contextlib.contextmanager
def deterministic_cudnn():
    """Only cuDNN's deterministic algorithms inside (the flag is put back after): by default some of
    its convolution gradients add up in a varying order, and a seed would not fix a GPU run's weights."""
    before = torch.backends.cudnn.deterministic
    torch.backends.cudnn.deterministic = True
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic = before


@contextlib.contextmanager
def compile_failure_explained():
    """torch.compile's failure to build a model (e.g. Inductor's C++ on a machine or kernel set it
    does not handle) as one line that says what to do, not a compiler's page of output."""
    try:
        yield
    except torch._dynamo.exc.BackendCompilerFailed as error:
        cause = str(error.inner_exception).strip().splitlines() or [type(error.inner_exception).__name__]
        raise DigitlabError(
            f"--compile: torch.compile could not build the model on this machine ({cause[0][:200]}); "
            "train without --compile"
        ) from error


def _model_to_resume(extra: dict, fingerprint: str, config: TrainConfig, trust_code: bool) -> torch.nn.Module:
    """The model the checkpoint describes, for the data it was trained on (a class of the user's own
    only with `trust_code`: the checkpoint may come from anyone)."""
    stored = extra.get("data_fingerprint")
    if stored != fingerprint:
        raise DigitlabError(
            f"{config.data}: the data differ from those the checkpoint was trained on (its settings name "
            f"{extra['config'].get('data')!r}: resume with --data naming those data)"
        )
    spec = extra.get("model")
    try:  # the description is bounded like a model.json's config before anything is built
        if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
            raise ValueError("it must say the architecture and its config")
        imported = spec.get("architecture") == "imported"
        if (spec["config"].get("target") if imported else spec.get("architecture")) != config.model:
            raise ValueError(f"architecture must be the settings' {config.model!r}")
        return build_model(spec["architecture"], trust_code, **spec["config"])
    except UntrustedCode as e:
        raise DigitlabError(f"{config.out}/checkpoint: {e}; {TRUST_HINT}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise DigitlabError(f"{config.out}/checkpoint: its model description is damaged ({e})") from None


def resume_and_save(
    out: str | Path,
    data: str = "mnist",
    tensorboard: str | None = None,
    quiet: bool = False,
    trust_code: bool = False,
) -> tuple[TrainResult, Evaluation] | None:
    """`digitlab train --resume OUT`: the stored run, with its stored settings, to its end.

    Paths and the process count come from the command line, never from the checkpoint (a folder
    may come from anyone): `data` and `tensorboard` as given, the processes as launched.
    """
    state = checkpoint_file.load(_checkpoint_of(out))
    stored = TrainConfig.from_json(state[1]["extra"].get("config"))
    refuse_untrusted(
        dataclasses.replace(stored, model="cnn"), f"{out}/checkpoint", trust_code
    )  # model: below
    world = processes.world_size()
    if stored.nproc != world:
        raise DigitlabError(
            f"{out}: its run trained in {stored.nproc} process{'es' if stored.nproc > 1 else ''}; resume it "
            f"with --nproc {stored.nproc} (the same count goes on bit for bit), not {world}"
        )
    config = dataclasses.replace(stored, out=str(out), data=data, tensorboard=tensorboard, init=None)
    return train_and_save(config, quiet, resume=state, trust_code=trust_code)


def _checkpoint_of(out: str | Path) -> Path:
    """OUT/checkpoint; a run that finished removed it, and says so rather than that a file is missing."""
    folder = Path(out) / "checkpoint"
    if not folder.exists() and (Path(out) / JSON_NAME).exists():
        raise DigitlabError(f"{out}: its run has finished (its model is {JSON_NAME}): nothing to resume")
    return folder


def find_lr(config: TrainConfig) -> Sweep:
    """The learning-rate sweep on the model and data that `train` with `config` would use, and fastai's
    suggestions from it (`valley` first)."""
    learn, num_it = quiet_learner(config)[0], 100
    learn.lr_find(num_it=num_it, show_plot=False)
    return suggest(learn.recorder.lrs, learn.recorder.losses, num_it, (valley, slide, minimum, steep))


def quiet_learner(config: TrainConfig) -> tuple[Learner, Splits]:
    """The Learner `train` with `config` would build (model, data, optimizer, augmentation), and the
    data split, with no progress table and no files: for sweeps and experiments."""
    config = config.resolve()
    if config.model == "baseline":
        raise DigitlabError("the baseline has no learning rate: it is fitted, not trained")
    torch.manual_seed(config.seed)
    splits = load_splits(config)
    return build_learner(build_model_for(config, splits), splits, config, quiet=True, log=False), splits


def train_and_save(
    config: TrainConfig, quiet: bool = False, resume: tuple | None = None, trust_code: bool = False
) -> tuple[TrainResult, Evaluation] | None:
    """Train, evaluate on the test split (or valid), then publish the model, history.csv and report.html.

    In distributed training only rank 0 evaluates and writes; the other processes return None.
    """
    rank, _ = processes.setup()
    if rank > 0:  # only rank 0 writes files
        train(config, quiet, resume, trust_code)
        processes.teardown()
        return None
    with writing(config.out, resume=resume is not None) as manifest:
        return _train_and_publish(config, quiet, resume, manifest, trust_code)


def _train_and_publish(
    config: TrainConfig, quiet: bool, resume: tuple | None, manifest, trust_code: bool
) -> tuple:
    start = time.perf_counter()
    result = train(config, quiet, resume, trust_code)
    processes.teardown()
    split, data = final_split(result.splits)
    evaluation, _ = evaluate(result.model, data, split)
    result.seconds["evaluate"] = time.perf_counter() - start - sum(result.seconds.values())
    recorder = result.learner.recorder if result.learner else None
    info = ModelInfo.describe(
        result.model,
        settings=result.config.to_json(),
        history=recorder.rows if recorder else [],
        metrics={
            f"{split}_accuracy": evaluation.accuracy,
            **(_kept_metrics(recorder.rows, result.kept_epoch) if recorder else {}),
        },
        classes=result.splits.class_labels(),
        preprocessing=result.config.preprocess or "mnist",
        data_fingerprint=result.fingerprint,
        data_source=source_location(result.config.data),
        seconds={k: round(v, 3) for k, v in result.seconds.items()},
        augmentation_chosen=result.recipe,
    )
    out = Path(result.config.out)
    history = recorder.history() if recorder else None
    files = {"report.html": training_report(result.model, info, history, evaluation, data)}
    if recorder:
        files["history.csv"] = history_csv(recorder.rows)
    publish_run(out, manifest, result.model.cpu(), info, files)
    remove_own_folder(out / "checkpoint")  # the run is over: nothing to resume
    from digitlab.run.mlflow_logging import MLflowLogger

    for logger in (
        cb for cb in (result.learner.cbs if result.learner else []) if isinstance(cb, MLflowLogger)
    ):
        logger.finish(out, info.metrics)
    return result, evaluation
