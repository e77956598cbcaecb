"""The parts of a training run, built from its `TrainConfig`: the data split, the model, the data on
the device, the optimizer and the Learner that holds them. `training_run.py` runs them; `lr-find`
sweeps the same Learner.
"""

import contextlib
import dataclasses
from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from digitlab.data import DataLoader, DataLoaders, Splits, load_source
from digitlab.data.augment import RandomAffine
from digitlab.data.class_names import parse_classes
from digitlab.data.holdout import Holdout, hold_out
from digitlab.errors import DigitlabError
from digitlab.learning.callbacks import Callback
from digitlab.learning.cuda_graphs import GraphedSteps
from digitlab.learning.learner import Learner
from digitlab.learning.lr_finder import Sweep, minimum, slide, steep, suggest, valley
from digitlab.learning.metrics import accuracy
from digitlab.learning.optim import SGD
from digitlab.learning.steps import ShardedStep
from digitlab.models import build_model, output_count
from digitlab.models.imported import is_import_path
from digitlab.run import processes
from digitlab.run.recipe import fit_to_data, optimizer
from digitlab.run.settings import SGD_ARGS, TrainConfig


@runtime_checkable
class Fittable(Protocol):
    """A model fitted in one pass over the training split, not trained by gradient (the baseline)."""

    def fit(self, images: torch.Tensor, labels: torch.Tensor) -> Any: ...


def build_model_for(config: TrainConfig, splits: Splits) -> torch.nn.Module:
    """A fresh model of the config's architecture for the data: their image size and class count,
    normalising inputs by the training split's statistics.

    A class of the user's own (`package.module:Class`) is imported: naming it is trusting it.
    """
    size, classes = list(splits.image_size), splits.n_classes
    norm = {"mean": splits.mean, "std": splits.std, "input_size": size, "in_channels": splits.train.channels}
    if is_import_path(config.model):
        return _imported_model(config, norm, classes)
    if config.model == "cnn":
        return build_model(
            "cnn", channels=config.widths, convs=config.convs, strided_stem=config.strided_stem,
            dropout=config.dropout, n_out=classes, **norm,
        )  # fmt: skip
    if config.model == "baseline":
        return build_model("baseline", n_classes=classes, input_size=size, in_channels=splits.train.channels)
    return build_model(config.model, n_out=classes, **norm)


def _imported_model(config: TrainConfig, norm: dict, classes: int) -> torch.nn.Module:
    """The user's class built with their arguments, and checked to give one score per class."""
    args = dict(config.model_args or {})
    try:
        model = build_model("imported", trust_code=True, target=config.model, args=args, **norm)
    except (TypeError, ValueError) as e:
        raise DigitlabError(f"model {config.model}: {e}") from None
    try:
        outputs = output_count(model)
    except Exception as e:  # noqa: BLE001 (the user's forward may raise anything)
        raise DigitlabError(
            f"model {config.model}: fails on (2, {norm['in_channels']}, {norm['input_size'][0]}, "
            f"{norm['input_size'][1]}) images ({type(e).__name__}: {e})"
        ) from None
    if outputs != classes:
        raise DigitlabError(
            f"model {config.model}: gives {outputs} scores per image, and the data have {classes} classes "
            "(set its output size with --model-args)"
        )
    return model


def augmentation(config: TrainConfig) -> RandomAffine | None:
    """The run's random warps, when its settings ask for them (the CNN's presets, or the user's model)."""
    if not config.augment or config.model in ("baseline", "linear", "mlp"):
        return None
    warp = {"degrees": config.rotate, "shift": config.shift, "zoom": config.zoom}
    return RandomAffine(**warp, stroke=config.stroke, seed=config.seed, flip=config.augmentation == "mild")


def build_learner(
    model: torch.nn.Module,
    splits: Splits,
    config: TrainConfig,
    quiet: bool,
    augment: RandomAffine | None = None,
    cbs: Sequence[Callback] = (),
    shard: tuple[int, int] = (0, 1),
) -> Learner:
    """The Learner of a run: both splits held on the device, the model channels-last and compiled or
    wrapped for DDP as the config says, training batches warped by `augment`, with callbacks `cbs`.

    `shard`: (rank, world size): each process trains on its slice of every batch.
    """
    device = torch.device(f"cuda:{torch.cuda.current_device()}" if config.device == "cuda" else config.device)
    # with CUDA graphs the recorded step augments, from numbers the same generator draws
    dls = _loaders(splits, config, device, None if config.cuda_graphs else augment, shard=shard)
    if config.model == "cnn":
        model = model.to(memory_format=torch.channels_last)
    if config.compile:  # the Learner trains the compiled wrapper; the weights are the model's own
        model = torch.compile(model.to(device), dynamic=False)
    if shard[1] > 1:
        model = processes.wrap_model(model.to(device), device)
    loss = (
        partial(F.cross_entropy, label_smoothing=config.label_smoothing)
        if config.label_smoothing
        else F.cross_entropy
    )
    learn = Learner(
        dls, model, loss, opt_func=optimizer(config), lr=config.lr, metrics=accuracy, cbs=cbs,
        device=device, autocast=device.type == "cuda", quiet=quiet,
    )  # fmt: skip
    if config.cuda_graphs:
        learn.train_step = GraphedSteps(augment)
    elif shard[1] > 1:
        learn.train_step = ShardedStep(shard[1])
    return learn


def sgd_nesterov(params, lr: float) -> SGD:
    """The optimizer of every preset: digitlab's SGD with Nesterov momentum and weight decay."""
    return SGD(params, lr, **SGD_ARGS)


def _loaders(
    splits: Splits,
    config: TrainConfig,
    device: torch.device,
    augment: RandomAffine | None,
    shard: tuple[int, int],
) -> DataLoaders:
    """Both splits held on `device` (no copies per batch); training batches shuffled and augmented.
    Their leakage is not checked again: `Splits` checked these very samples (as uint8 pixels)."""
    train_xy = (splits.train.floats().to(device), splits.train.labels.to(device))
    valid_xy = (splits.valid.floats().to(device), splits.valid.labels.to(device))
    return DataLoaders(
        DataLoader(
            train_xy,
            config.batch_size,
            shuffle=True,
            seed=config.seed,
            transform=augment,
            shard=shard,
            epoch_size=config.epoch_size,
        ),
        DataLoader(valid_xy, 1000, shard=shard),
        leakage_checked=True,
    )


def load_splits(config: TrainConfig) -> Splits:
    """The source's training data split into train and valid (`data.holdout`'s rule), and its test data."""
    return load_holdout(config)[0]


def load_holdout(config: TrainConfig) -> tuple[Splits, Holdout, TrainConfig]:
    """The splits, how valid was held out, and the config with the preprocessing and channels the data
    decided (or the settings): the model records them."""
    names = parse_classes(config.classes) if config.classes else None
    source = load_source(config.data, names, config.preprocess, config.channels)
    if source.train.labels is None:
        raise DigitlabError(f"{config.data}: has no labels to train on (a test file?)")
    holdout = hold_out(source.train, source.valid, config.valid_fraction, config.seed)
    if len(holdout.train) == 0 or len(holdout.valid) == 0:
        n = len(source.train)
        raise DigitlabError(
            f"{config.data}: {n} image{'s' if n != 1 else ''} with labels, too few to split for validation"
            f" (valid_fraction {config.valid_fraction})"
        )
    decided = dataclasses.replace(config, preprocess=source.preprocessing, channels=source.channels)
    return Splits(holdout.train, holdout.valid, source.test), holdout, decided


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
    torch.manual_seed(config.seed)
    splits = load_splits(config)
    config = fit_to_data(config, splits)[0]
    model = build_model_for(config, splits)
    if isinstance(model, Fittable):
        raise DigitlabError("the baseline has no learning rate: it is fitted, not trained")
    return build_learner(model, splits, config, quiet=True, augment=augmentation(config)), splits


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
