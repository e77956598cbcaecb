"""`digitlab train`: a config that maps 1:1 to the CLI flags, presets, and the run itself."""

import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from digitlab.checkpoint import load_model, save_model
from digitlab.data import DataLoader, DataLoaders, Splits, load_source
from digitlab.data.augment import RandomAffine
from digitlab.evaluation import Evaluation, evaluate
from digitlab.fileio import write_text_atomic
from digitlab.models import build_model
from digitlab.report.training import training_report
from digitlab.train.callbacks import CSVLogger
from digitlab.train.learner import Learner
from digitlab.train.metrics import Accuracy

# Each preset: the CNN's channels and convolutions per stage, epochs, batch size, peak learning
# rate of the one-cycle schedule, and whether batches are augmented. Measured in BENCHMARKS.md.
PRESETS = {
    "fast": dict(channels=(16, 32, 64), convs=1, epochs=2, batch_size=128, lr=0.1, augment=False),
    "default": dict(channels=(16, 32, 64), convs=1, epochs=15, batch_size=128, lr=0.1, augment=True),
    "best": dict(channels=(32, 64, 128), convs=2, epochs=25, batch_size=128, lr=0.1, augment=True),
}
LINEAR_LR = {"linear": 0.05, "mlp": 0.1}


@dataclass
class TrainConfig:
    data: str = "mnist"  # SRC: mnist, a Kaggle CSV, an IDX folder or a folder of class folders
    model: str = "cnn"  # baseline, linear, mlp or cnn
    preset: str = "default"  # fast, default or best
    epochs: int | None = None  # None: the preset's
    lr: float | None = None  # peak of the one-cycle schedule; None: the preset's
    batch_size: int | None = None  # None: the preset's
    seed: int = 0
    valid_fraction: float = 0.1  # held out from the training data to watch each epoch
    device: str = "auto"  # auto picks CUDA when present
    out: str = "runs/train"
    init: str | None = None  # a model folder to start from (fine-tuning); its architecture wins

    def resolved(self) -> dict:
        """The preset's values with explicit flags on top: exactly what the run uses."""
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}: choose one of {', '.join(PRESETS)}")
        preset = dict(PRESETS[self.preset])
        if self.model in LINEAR_LR:
            preset["lr"] = LINEAR_LR[self.model]
        for key in ("epochs", "lr", "batch_size"):
            if getattr(self, key) is not None:
                preset[key] = getattr(self, key)
        return {**asdict(self), **preset}


@dataclass
class TrainResult:
    model: torch.nn.Module
    learner: Learner | None
    splits: Splits
    settings: dict
    final_split: str  # "test" or "valid"
    seconds: dict = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return torch.device(name)


def train(config: TrainConfig) -> TrainResult:
    """Load, split, build and train; the caller evaluates and saves."""
    start = time.perf_counter()
    settings = config.resolved()
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    source = load_source(config.data)
    train_part, valid_part = source.train.split(config.valid_fraction, seed=config.seed)
    splits = Splits(train_part, valid_part, source.test)
    if config.init:
        model, info = load_model(config.init)
        settings["model"] = info["architecture"]
    else:
        model = _build(config.model, settings, splits)
    seconds = {"load": time.perf_counter() - start}
    if settings["model"] == "baseline":
        model.fit(splits.train.floats(), splits.train.labels)
        learner = None
    else:
        learner = _learner(model, splits, settings, device)
        learner.fit_one_cycle(settings["epochs"], settings["lr"])
    seconds["train"] = time.perf_counter() - start - seconds["load"]
    final = "test" if splits.test is not None and splits.test.labels is not None else "valid"
    return TrainResult(model.eval(), learner, splits, settings, final, seconds)


def _build(name: str, settings: dict, splits: Splits) -> torch.nn.Module:
    norm = {"mean": splits.mean, "std": splits.std}
    if name == "cnn":
        return build_model("cnn", channels=settings["channels"], convs=settings["convs"], **norm)
    if name == "baseline":
        return build_model("baseline")
    return build_model(name, **norm)


def _learner(model, splits: Splits, settings: dict, device: torch.device) -> Learner:
    seed, bs = settings["seed"], settings["batch_size"]
    x, y = splits.train.floats().to(device), splits.train.labels.to(device)
    augment = RandomAffine(seed=seed) if settings["augment"] and settings["model"] == "cnn" else None
    dls = DataLoaders(
        DataLoader(x, y, bs, shuffle=True, seed=seed, transform=augment),
        DataLoader(splits.valid.floats().to(device), splits.valid.labels.to(device), 1000),
    )
    if settings["model"] == "cnn":
        model = model.to(memory_format=torch.channels_last)
    opt_fn = functools.partial(torch.optim.SGD, momentum=0.9, nesterov=True, weight_decay=5e-4)
    callbacks = [CSVLogger(Path(settings["out"]) / "history.csv")]
    return Learner(
        dls,
        model,
        F.cross_entropy,
        opt_fn,
        [Accuracy()],
        callbacks,
        settings["lr"],
        device,
        autocast=device.type == "cuda",
    )


def train_and_save(config: TrainConfig) -> tuple[TrainResult, Evaluation]:
    """Train, evaluate on the test split (or valid), write model files and report.html."""
    start = time.perf_counter()
    result = train(config)
    data = result.splits.test if result.final_split == "test" else result.splits.valid
    device = pick_device(config.device)
    evaluation, _ = evaluate(result.model, data, result.final_split, device)
    result.seconds["evaluate"] = time.perf_counter() - start - sum(result.seconds.values())
    history = result.learner.recorder.history() if result.learner else None
    info = {
        "classes": list(range(10)),
        # what the model's own Normalize layer applies (a fine-tuned model keeps its original one)
        "normalization": {k: result.model.config.get(k, d) for k, d in (("mean", 0.0), ("std", 1.0))},
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in result.settings.items()},
        "history": result.learner.recorder.rows if result.learner else [],
        "metrics": {
            f"{result.final_split}_accuracy": evaluation.accuracy,
            **({"valid_accuracy": history["accuracy"][-1]} if history else {}),
        },
        "data_fingerprint": result.splits.train.fingerprint(),
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
    }
    out = Path(config.out)
    save_model(result.model.cpu(), out, **info)
    info["architecture"] = result.settings["model"]
    write_text_atomic(out / "report.html", training_report(result.model, info, history, evaluation, data))
    return result, evaluation
