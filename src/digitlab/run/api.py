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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Unpack, overload

import numpy as np
import torch
from PIL import Image

from digitlab.errors import DigitlabError
from digitlab.inference.evaluation import Evaluation, evaluate
from digitlab.inference.held_out import held_out
from digitlab.inference.predictor import Prediction, Predictor
from digitlab.modelfiles.model_file import JSON_NAME, ModelInfo, read_info
from digitlab.models.imported import ImportedModel
from digitlab.run.keywords import ImageLike, TrainSettings
from digitlab.run.settings import TrainConfig
from digitlab.run.training_run import train_and_save


class Model:
    """A trained model folder, loaded: `predict` images of any kind, `evaluate` on a data source.

    >>> model = digitlab.load("runs/doc-linear")   # the folder `train`'s example wrote
    >>> model
    <Model 'runs/doc-linear': linear, 10 classes, 28x28 input>
    """

    def __init__(self, predictor: Predictor, path: Path | None = None):
        self.predictor, self.path = predictor, path

    def __repr__(self) -> str:
        info = self.info
        size = "x".join(map(str, info.input_size))
        return f"<Model {str(self.path)!r}: {info.architecture}, {len(info.classes)} classes, {size} input>"

    @property
    def info(self) -> ModelInfo:
        """What model.json says: architecture, settings, metrics, history.

        >>> digitlab.load("runs/doc-linear").info.settings["epochs"]
        1
        """
        return self.predictor.info

    @property
    def module(self) -> torch.nn.Module:
        """The PyTorch module that was trained, in eval mode: digitlab's model, or an instance of your
        own class (`model="package.module:Class"`), which digitlab feeds standardised images
        (its wrapper, which standardises them first, is `predictor.model`).

        >>> type(digitlab.load("runs/doc-linear").module).__name__
        'Linear'
        """
        model = self.predictor.model
        return model.net if isinstance(model, ImportedModel) else model

    # One signature per kind of image, as an editor shows them; each gives one Prediction per image
    @overload
    def predict(self, images: str | Path) -> list[Prediction]: ...  # a file, or a folder's images
    @overload
    def predict(self, images: np.ndarray) -> list[Prediction]: ...  # 28x28 digits (N of them), or a picture
    @overload
    def predict(self, images: torch.Tensor) -> list[Prediction]: ...  # as an array
    @overload
    def predict(self, images: Image.Image) -> list[Prediction]: ...  # a picture, prepared as a file is
    @overload
    def predict(self, images: Sequence[ImageLike]) -> list[Prediction]: ...  # any of these, in order

    def predict(self, images: ImageLike | Sequence[ImageLike]) -> list[Prediction]:
        """One Prediction per image, in order, batched. `images`: a file path or folder, a PIL image,
        a numpy array or tensor, or a list of these. A 28x28 array (or N of them: (N,28,28) or
        (N,1,28,28)) is taken as MNIST-style digits, white ink on black, 0..255 or 0..1; any other
        array, and every file and PIL image, is a picture, prepared as `digitlab predict` prepares it.
        (28x28 is MNIST's size: for a model trained on other sizes, its `input_size`.)

        >>> from digitlab.data import load_source
        >>> digits = load_source("mnist").test.images[:3].numpy()   # (3,28,28) uint8
        >>> answers = digitlab.load("runs/doc-linear").predict(digits)
        >>> [a.path for a in answers], all(a.digit in range(10) for a in answers)
        (['digit 0', 'digit 1', 'digit 2'], True)
        """
        if isinstance(images, ImageLike):
            items: list[ImageLike] = [images]
        else:  # a list or tuple (any sequence) of images
            items = list(images)
        predictions: list[Prediction] = []
        paths: list[str | Path] = []  # files in a row are predicted together: a model call per 256
        for item in items:
            if isinstance(item, str | Path):
                paths.append(item)
                continue
            predictions += self.predictor.predict_paths(paths)
            paths = []
            if isinstance(item, Image.Image):
                predictions.append(self.predictor.predict_image(item, "image"))
            else:
                predictions += self._predict_array(item)
        return predictions + self.predictor.predict_paths(paths)

    def probs(self, digits: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Probabilities (N, classes) for MNIST-style digits (N,28,28) (the model's input size),
        0..255 or 0..1.

        >>> import numpy as np
        >>> digitlab.load("runs/doc-linear").probs(np.zeros((2, 28, 28), np.uint8)).shape
        torch.Size([2, 10])
        """
        return self.predictor.probs(_as_uint8_digits(digits, self.predictor.size))

    def evaluate(self, source: str | None = None) -> Evaluation:
        """Accuracy, precision, recall, confusion and top losses on the source's test split (or all
        of its labelled images), as `digitlab evaluate` scores them; None: the model's own data (its
        test split, else the valid split train held out).

        >>> scores = digitlab.load("runs/doc-linear").evaluate("mnist")
        >>> scores.split, scores.n, 0 <= scores.accuracy <= 1
        ('test', 10000, True)
        """
        scored = held_out(self.predictor.info, source)
        return evaluate(self.predictor.model, scored.data, scored.split)[0]

    def _predict_array(self, item: np.ndarray | torch.Tensor) -> list[Prediction]:
        array = item.detach().cpu().numpy() if isinstance(item, torch.Tensor) else np.asarray(item)
        if array.shape[-2:] == self.predictor.size and array.ndim in (2, 3, 4):
            digits = _as_uint8_digits(array, self.predictor.size)
            probs = self.predictor.probs(digits)
            return [
                self.predictor.prediction(f"digit {i}", p, d)
                for i, (p, d) in enumerate(zip(probs, digits, strict=True))
            ]
        return [self.predictor.predict_image(_picture(array), "image")]


def _as_uint8_digits(digits: np.ndarray | torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    array = digits.detach().cpu().numpy() if isinstance(digits, torch.Tensor) else np.asarray(digits)
    if array.size % (size[0] * size[1]):
        raise DigitlabError(f"digits of shape {array.shape} are not {size[0]}x{size[1]} images")
    array = array.reshape(-1, *size)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise DigitlabError("digits must be finite values from 0 to 255 (or 0 to 1)")
    if array.dtype != np.uint8:
        array = np.round(array * (255.0 if array.max() <= 1.0 else 1.0)).astype(np.uint8)
    return array


def _picture(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8:
        array = np.clip(np.round(array * (255.0 if array.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(array)


@dataclass(frozen=True)
class RunResult:
    """What `digitlab.train` did: the model, where it is saved, and the run's figures (`train`'s
    example shows them)."""

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
    config = dataclasses.replace(config or TrainConfig(), **settings)
    done = train_and_save(config, quiet=quiet)
    if done is None:  # a process of a distributed run other than the first: the first one saves
        raise DigitlabError("train: this process is not the one that saves the model (rank > 0)")
    result, evaluation = done
    folder = Path(result.config.out)
    info = read_info(folder / JSON_NAME)  # what was written beside the weights; the module is this one
    rows = result.learner.recorder.rows if result.learner else []
    return RunResult(
        Model(Predictor(result.model, info, folder=folder), folder), folder, result.config, rows,
        result.kept_epoch, evaluation, info.metrics, result.seconds,
    )  # fmt: skip


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
    `as_is`: pictures go to the model only made grey and resized, not made MNIST-style.

    >>> model = digitlab.load("runs/doc-linear")
    >>> model.info.architecture, model.info.classes == list(range(10))
    ('linear', True)
    """
    return Model(Predictor.load(path, engine, trust_code, as_is), Path(path))
