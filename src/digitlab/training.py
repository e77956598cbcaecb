"""A training run, as `digitlab train` does it: load, split, build, train, evaluate, save, report."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from digitlab.checkpoint import ModelInfo, load_model, save_model
from digitlab.config import TrainConfig
from digitlab.data import DataLoader, DataLoaders, Splits, load_source
from digitlab.data.augment import RandomAffine
from digitlab.errors import DigitlabError
from digitlab.evaluation import Evaluation, evaluate, final_split
from digitlab.fileio import write_text_atomic
from digitlab.models import build_model
from digitlab.report.training import training_report
from digitlab.train.callbacks import CSVLogger, EarlyStopping
from digitlab.train.learner import Learner, LRFindResult
from digitlab.train.metrics import accuracy
from digitlab.train.optim import SGD


@dataclass
class TrainResult:
    model: torch.nn.Module
    learner: Learner | None  # None for the baseline, which is fitted, not trained
    splits: Splits
    config: TrainConfig  # resolved: exactly what ran
    seconds: dict = field(default_factory=dict)


def load_splits(config: TrainConfig) -> Splits:
    """The source's training data split into train and valid by `valid_fraction` and `seed`."""
    source = load_source(config.data)
    if source.train.labels is None:
        raise DigitlabError(f"{config.data}: has no labels to train on (a test file?)")
    train_part, valid_part = source.train.split(config.valid_fraction, seed=config.seed)
    if len(train_part) == 0 or len(valid_part) == 0:
        raise DigitlabError(f"{config.data}: {len(source.train)} images are too few to split for validation")
    return Splits(train_part, valid_part, source.test)


def train(config: TrainConfig, quiet: bool = False) -> TrainResult:
    """Load, split, build and train; the caller evaluates and saves."""
    start = time.perf_counter()
    init = load_model(config.init) if config.init else None
    config = config.resolve(init[1].architecture if init else None)
    torch.manual_seed(config.seed)
    splits = load_splits(config)
    model = init[0] if init else _build(config, splits)
    seconds = {"load": time.perf_counter() - start}
    learner = None
    if config.model == "baseline":
        model.fit(splits.train.floats(), splits.train.labels)
    else:
        learner = _learner(model, splits, config, quiet)
        stop = [EarlyStopping(patience=config.patience)] if config.patience else []
        learner.fit_one_cycle(config.epochs, config.lr, stop)
    seconds["train"] = time.perf_counter() - start - seconds["load"]
    return TrainResult(model.eval(), learner, splits, config, seconds)


def find_lr(config: TrainConfig) -> LRFindResult:
    """The learning-rate sweep on the model and data that `train` with `config` would use."""
    config = config.resolve()
    if config.model == "baseline":
        raise DigitlabError("the baseline has no learning rate: it is fitted, not trained")
    torch.manual_seed(config.seed)
    splits = load_splits(config)
    learner = _learner(_build(config, splits), splits, config, quiet=True, log=False)
    return learner.lr_find()


def _build(config: TrainConfig, splits: Splits) -> torch.nn.Module:
    norm = {"mean": splits.mean, "std": splits.std}
    if config.model == "cnn":
        return build_model("cnn", channels=config.channels, convs=config.convs, **norm)
    return build_model(config.model, **({} if config.model == "baseline" else norm))


def _learner(model, splits: Splits, config: TrainConfig, quiet: bool, log: bool = True) -> Learner:
    device = torch.device(config.device)
    x, y = splits.train.floats().to(device), splits.train.labels.to(device)
    augment = RandomAffine(seed=config.seed) if config.augment and config.model == "cnn" else None
    dls = DataLoaders(
        DataLoader((x, y), config.batch_size, shuffle=True, seed=config.seed, transform=augment),
        DataLoader((splits.valid.floats().to(device), splits.valid.labels.to(device)), 1000),
    )
    if config.model == "cnn":
        model = model.to(memory_format=torch.channels_last)

    def opt_func(params, lr):
        return SGD(params, lr, momentum=0.9, nesterov=True, weight_decay=5e-4)

    cbs = [CSVLogger(Path(config.out) / "history.csv")] if log else []
    if log and config.tensorboard:
        from digitlab.train.tensorboard import TensorBoardLogger  # imports TensorBoard: only when asked

        cbs.append(TensorBoardLogger(config.tensorboard, config.to_json()))
    return Learner(
        dls, model, F.cross_entropy, opt_func=opt_func, lr=config.lr, metrics=accuracy, cbs=cbs,
        device=device, autocast=device.type == "cuda", quiet=quiet,
    )  # fmt: skip


def train_and_save(config: TrainConfig, quiet: bool = False) -> tuple[TrainResult, Evaluation]:
    """Train, evaluate on the test split (or valid), write model files and report.html."""
    start = time.perf_counter()
    result = train(config, quiet)
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
            **({"valid_accuracy": recorder.rows[-1]["accuracy"]} if recorder else {}),
        },
        data_fingerprint=result.splits.train.fingerprint(),
        seconds={k: round(v, 3) for k, v in result.seconds.items()},
    )
    out = Path(result.config.out)
    save_model(result.model.cpu(), out, info)
    history = recorder.history() if recorder else None
    write_text_atomic(out / "report.html", training_report(result.model, info, history, evaluation, data))
    return result, evaluation
