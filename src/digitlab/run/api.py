"""The Python API: train a model, load one, predict and evaluate, in a few lines.

    import digitlab
    run = digitlab.train(preset="fast", out="runs/fast")     # or digitlab.train(TrainConfig(...))
    model = digitlab.load("runs/fast")                       # the same Model as run.model
    model.predict(["seven.png", pil_image, numpy_digits])    # one Prediction per image
    model.evaluate("mnist").accuracy

The command line calls the same functions, so a script and `digitlab train` train the same model.
"""

import dataclasses
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Unpack

from digitlab.errors import DigitlabError
from digitlab.inference.predictor import Predictor
from digitlab.run.keywords import TrainSettings
from digitlab.run.model import Model
from digitlab.run.settings import TrainConfig, legacy_widths
from digitlab.run.training_run import RunResult, TrainingRun

__all__ = ["Model", "RunResult", "load", "train"]


def train(
    config: TrainConfig | None = None, *, quiet: bool = False, **settings: Unpack[TrainSettings]
) -> RunResult:
    """Train as `digitlab train` does; the model is saved in `out` and returned, ready, in the result.

    `config` and/or settings by name (`preset="fast", epochs=1, out="runs/x"`): the names are
    TrainConfig's fields, the flags' names, each typed (see TrainSettings). Your own model:
    `model="package.module:Class", model_args={"n_classes": 47}`; the optimizer likewise:
    `opt="adamw", opt_args={"weight_decay": 0.01}`.

    >>> run = digitlab.train(model="linear", epochs=1, epoch_size=3_000, out="runs/doc-linear", quiet=True)
    >>> run.folder, len(run.history), run.kept_epoch, run.evaluation.split, run.config.epoch_size
    (PosixPath('runs/doc-linear'), 1, None, 'test', 3000)
    >>> run   # test accuracy and seconds vary with the machine (doctest's ELLIPSIS: ...)
    <RunResult 'runs/doc-linear': 1 epoch, test_accuracy=0..., ... s>
    >>> run.model.info.metrics["test_accuracy"] == run.evaluation.accuracy   # run.model: ready to predict
    True
    """
    values = legacy_widths(dict(settings), note=True)  # channels=(16, 32, 64): the widths, as before
    config = dataclasses.replace(config or TrainConfig(), **values)
    result = TrainingRun(config, quiet=quiet).run()
    if result is None:  # a process of a distributed run other than the first: the first one saves
        raise DigitlabError("train: this process is not the one that saves the model (rank > 0)")
    return result


def _with_each_setting(function: Callable[..., RunResult]) -> inspect.Signature:
    """`train`'s signature with TrainConfig's fields as its keywords, each with its type and default:
    what help(), pdoc and IPython's completion read (type checkers read `Unpack[TrainSettings]`)."""
    signature, hints = inspect.signature(function), typing.get_type_hints(TrainSettings)
    named = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
        for f in dataclasses.fields(TrainConfig)
    ]
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    return signature.replace(parameters=[own[0], *named, *own[1:]])


train.__signature__ = _with_each_setting(train)  # type: ignore[attr-defined]


def load(path: str | Path, engine: str = "torch", trust_code: bool = False, as_is: bool = False) -> Model:
    """A model folder that `train` wrote (or its model file), ready to predict. `trust_code`: the
    folder holds a model of a class from outside digitlab, and you trust it (importing runs its code);
    `as_is`: pictures go to the model only resized (and made grey for a grey model), not made MNIST-style.

    >>> model = digitlab.load("runs/doc-linear")
    >>> model.info.architecture, model.info.classes == list(range(10))
    ('linear', True)
    """
    return Model(Predictor.load(path, engine, trust_code, as_is), Path(path))
