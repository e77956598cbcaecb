"""The parts of a training run, built from its `TrainConfig`: the model, the data on the device,
the optimizer, the run's callbacks and the Learner that holds them. `training.py` runs them.
"""

from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from digitlab.data import DataLoader, DataLoaders, Splits
from digitlab.data.augment import RandomAffine
from digitlab.errors import DigitlabError
from digitlab.learning.callbacks import CSVLogger
from digitlab.learning.cuda_graphs import GraphedSteps
from digitlab.learning.learner import Learner
from digitlab.learning.metrics import accuracy
from digitlab.learning.optim import SGD
from digitlab.learning.steps import ShardedStep
from digitlab.modelfiles.checkpoint_file import Checkpoint
from digitlab.models import build_model, model_name, output_count
from digitlab.models.imported import is_import_path
from digitlab.run import processes
from digitlab.run.recipe import fit_to_data, optimizer, user_callbacks
from digitlab.run.settings import SGD_ARGS, TrainConfig


def build_model_for(config: TrainConfig, splits: Splits) -> torch.nn.Module:
    """A fresh model of the config's architecture for the data: their image size and class count,
    normalising inputs by the training split's statistics.

    A class of the user's own (`package.module:Class`) is imported: naming it is trusting it.
    """
    size, classes = list(splits.image_size), splits.n_classes
    norm = {"mean": splits.mean, "std": splits.std, "input_size": size}
    if is_import_path(config.model):
        return _imported_model(config, norm, classes)
    if config.model == "cnn":
        return build_model(
            "cnn", channels=config.channels, convs=config.convs, strided_stem=config.strided_stem,
            dropout=config.dropout, n_out=classes, **norm,
        )  # fmt: skip
    if config.model == "baseline":
        return build_model("baseline", n_classes=classes, input_size=size)
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
            f"model {config.model}: fails on (2, 1, {norm['input_size'][0]}, "
            f"{norm['input_size'][1]}) images ({type(e).__name__}: {e})"
        ) from None
    if outputs != classes:
        raise DigitlabError(
            f"model {config.model}: gives {outputs} scores per image, and the data have {classes} classes "
            "(set its output size with --model-args)"
        )
    return model


def build_learner(
    model: torch.nn.Module,
    splits: Splits,
    config: TrainConfig,
    quiet: bool,
    log: bool = True,
    resume: tuple | None = None,
    fingerprint: str = "",
) -> Learner:
    """The Learner of a run: both splits held on the device, the model channels-last and compiled or
    wrapped for DDP as the config says, and with `log` the callbacks that write history and checkpoints.

    `resume` is a loaded checkpoint to go on from; `fingerprint` identifies the training data in it.
    """
    rank, world = processes.setup()
    if config.augmentation is None:  # settings resolved without their data: the data choose now
        config = fit_to_data(config, splits)[0]
    device = torch.device(f"cuda:{torch.cuda.current_device()}" if config.device == "cuda" else config.device)
    augment = None
    if config.augment and config.model not in ("baseline", "linear", "mlp"):  # the CNN, or the user's
        warp = {"degrees": config.rotate, "shift": config.shift, "zoom": config.zoom}
        mirror = config.augmentation == "mild"
        augment = RandomAffine(**warp, stroke=config.stroke, seed=config.seed, flip=mirror)
    # with CUDA graphs the recorded step augments, from numbers the same generator draws
    dls = _loaders(splits, config, device, None if config.cuda_graphs else augment, shard=(rank, world))
    if config.model == "cnn":
        model = model.to(memory_format=torch.channels_last)
    spec = {"architecture": model_name(model), "config": model.config}  # what resuming rebuilds
    if config.compile:  # the Learner trains the compiled wrapper; the weights are the model's own
        model = torch.compile(model.to(device), dynamic=False)
    if world > 1:
        model = processes.wrap_model(model.to(device), device)
    cbs = _run_callbacks(config, spec, fingerprint, augment, resume, writer=rank == 0) if log else []
    cbs += user_callbacks(config)
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
    elif world > 1:
        learn.train_step = ShardedStep(world)
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
    """Both splits held on `device` (no copies per batch); training batches shuffled and augmented."""
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
    )


def _run_callbacks(config: TrainConfig, spec: dict, fingerprint: str, augment, resume, writer: bool) -> list:
    """history.csv and the checkpoint under OUT/checkpoint, and TensorBoard when asked for.

    Every process keeps a Checkpoint (they save in step); only the `writer` writes files.
    """
    folder = Path(config.out) / "checkpoint"  # what a run writes as it goes lives here, not beside the model
    extra = {"config": config.to_json(), "data_fingerprint": fingerprint, "model": spec}
    generators = [augment.generator] if augment else []
    checkpoint = Checkpoint(
        folder, config.checkpoint_every, generators, extra, resume_from=resume, write=writer
    )
    if not writer:
        return [checkpoint]
    cbs = [CSVLogger(folder / "history.csv"), checkpoint]
    if config.tensorboard:
        from digitlab.learning.tensorboard import TensorBoardLogger  # imports TensorBoard: only when asked

        cbs.append(TensorBoardLogger(config.tensorboard, config.to_json()))
    if config.mlflow:
        from digitlab.run.mlflow_logging import MLflowLogger  # imports MLflow: only when asked

        cbs.append(MLflowLogger(config.mlflow, config.to_json()))
    return cbs
