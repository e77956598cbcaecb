"""The Python API: train a model, load one, predict and evaluate, in a few lines.

    import digitlab
    model = digitlab.train(preset="fast", out="runs/fast")   # or digitlab.train(TrainConfig(...))
    model = digitlab.load("runs/fast")
    model.predict(["seven.png", pil_image, numpy_digits])    # one Prediction per image
    model.evaluate("mnist").accuracy

The command line calls the same functions, so a script and `digitlab train` train the same model.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from digitlab.data import load_source
from digitlab.errors import DigitlabError
from digitlab.inference.evaluation import Evaluation, evaluate, evaluation_data
from digitlab.inference.predictor import Prediction, Predictor
from digitlab.modelfiles.model_file import ModelInfo
from digitlab.models.imported import is_import_path
from digitlab.run.settings import TrainConfig
from digitlab.run.training_run import train_and_save


class Model:
    """A trained model folder, loaded: `predict` images of any kind, `evaluate` on a data source."""

    def __init__(self, predictor: Predictor, path: Path | None = None):
        self.predictor, self.path = predictor, path

    @property
    def info(self) -> ModelInfo:
        """What model.json says: architecture, settings, metrics, history."""
        return self.predictor.info

    @property
    def module(self) -> torch.nn.Module:
        """The PyTorch module itself (eval mode)."""
        return self.predictor.model

    def predict(self, images: Any) -> list[Prediction]:
        """One Prediction per image, in order, batched. `images`: a file path or folder, a PIL image,
        a numpy array or tensor, or a list of these. A 28x28 array (or N of them: (N,28,28) or
        (N,1,28,28)) is taken as MNIST-style digits, white ink on black, 0..255 or 0..1; any other
        array, and every file and PIL image, is a picture, prepared as `digitlab predict` prepares it.
        (28x28 is MNIST's size: for a model trained on other sizes, its `input_size`.)"""
        items = images if isinstance(images, list | tuple) else [images]
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
        0..255 or 0..1."""
        return self.predictor.probs(_as_uint8_digits(digits, self.predictor.size))

    def evaluate(self, source: str = "mnist") -> Evaluation:
        """Accuracy, precision, recall, confusion and top losses on the source's test split (or all
        of its labelled images), as `digitlab evaluate` scores them."""
        split, data = evaluation_data(load_source(source), self.predictor.info.classes)
        return evaluate(self.predictor.model, data, split)[0]

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


def train(config: TrainConfig | None = None, /, quiet: bool = False, **settings: Any) -> Model:
    """Train as `digitlab train` does and return the saved model. `config` and/or settings by name
    (`preset="fast", epochs=1, out="runs/x"`): the names are TrainConfig's fields, the flags' names.
    Your own model: `model="package.module:Class", model_args={"n_classes": 47}` (a dict or JSON)."""
    if isinstance(settings.get("model_args"), dict):
        settings["model_args"] = json.dumps(settings["model_args"])
    config = dataclasses.replace(config or TrainConfig(), **settings)
    done = train_and_save(config, quiet=quiet)
    if done is None:  # a process of a distributed run other than the first: the first one saves
        raise DigitlabError("train: this process is not the one that saves the model (rank > 0)")
    return load(config.out, trust_code=is_import_path(config.model))  # the class it was just given


def load(path: str | Path, engine: str = "torch", trust_code: bool = False, as_is: bool = False) -> Model:
    """A model folder that `train` wrote (or its model file), ready to predict. `trust_code`: the
    folder holds a model of a class from outside digitlab, and you trust it (importing runs its code);
    `as_is`: pictures go to the model only made grey and resized, not made MNIST-style."""
    return Model(Predictor.load(path, engine, trust_code, as_is), Path(path))
