"""A trained model, loaded: `predict` images of any kind, `evaluate` on a data source.

`digitlab.load` returns one; so does `digitlab.train`, in its RunResult, for the module it trained.
"""

import math
from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
import torch
from PIL import Image

from digitlab.errors import DigitlabError
from digitlab.inference.evaluation import Evaluation, evaluate
from digitlab.inference.held_out import held_out
from digitlab.inference.predictor import Prediction, Predictor
from digitlab.modelfiles.model_file import ModelInfo
from digitlab.models.imported import ImportedModel
from digitlab.run.keywords import ImageLike


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
        0..255 or 0..1; a colour model takes pictures (N,H,W,3) too (grey ones: their grey in each channel).

        >>> import numpy as np
        >>> digitlab.load("runs/doc-linear").probs(np.zeros((2, 28, 28), np.uint8)).shape
        torch.Size([2, 10])
        """
        return self.predictor.probs(_as_uint8_digits(digits, self._shape(digits)))

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

    def _shape(self, images: object) -> tuple[int, ...]:
        """(H,W), or (H,W,3) for a colour model given pictures of its size in colour."""
        size, shape = self.predictor.size, tuple(getattr(images, "shape", ()))
        colour = self.predictor.channels == 3 and shape[-3:] == (*size, 3)
        return (*size, 3) if colour else size

    def _predict_array(self, item: np.ndarray | torch.Tensor) -> list[Prediction]:
        array = item.detach().cpu().numpy() if isinstance(item, torch.Tensor) else np.asarray(item)
        shape = self._shape(array)
        if array.shape[-len(shape) :] == shape and array.ndim in (len(shape), len(shape) + 1, 4):
            digits = _as_uint8_digits(array, shape)
            probs = self.predictor.probs(digits)
            return [
                self.predictor.prediction(f"digit {i}", p, d)
                for i, (p, d) in enumerate(zip(probs, digits, strict=True))
            ]
        return [self.predictor.predict_image(_picture(array), "image")]


def _as_uint8_digits(digits: np.ndarray | torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """Images of `shape` (H,W) or colour's (H,W,3), as uint8 (N,*shape)."""
    array = digits.detach().cpu().numpy() if isinstance(digits, torch.Tensor) else np.asarray(digits)
    if array.size % math.prod(shape):
        raise DigitlabError(f"digits of shape {array.shape} are not {'x'.join(map(str, shape))} images")
    array = array.reshape(-1, *shape)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise DigitlabError("digits must be finite values from 0 to 255 (or 0 to 1)")
    if array.dtype != np.uint8:
        array = np.round(array * (255.0 if array.max() <= 1.0 else 1.0)).astype(np.uint8)
    return array


def _picture(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8:
        array = np.clip(np.round(array * (255.0 if array.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(array)
