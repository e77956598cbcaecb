"""One prediction path for the CLI, the reports and the web app: image -> MNIST style -> model."""

import contextlib
import math
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from digitlab.data.decode import png_bytes
from digitlab.errors import DigitlabError
from digitlab.inference.preparing import InputKind, Prepared, Preparing, cores
from digitlab.modelfiles.model_file import ModelInfo, load_model
from digitlab.modelfiles.ownership import OwnedFiles
from digitlab.models import predict_probs


@dataclass
class Prediction:
    """One image's answer; printed, one line (its probabilities and input are fields, not shown).

    >>> digitlab.Prediction("seven.png", 7, 0.998, [0.0] * 7 + [0.998] + [0.0] * 2)
    Prediction(path='seven.png', digit=7, confidence=0.998)
    >>> digitlab.Prediction("cat.png", 0, 0.9, [0.9, 0.1], label="cat", named=True)
    Prediction(path='cat.png', label='cat', index=0, confidence=0.9)
    """

    path: str
    digit: int | None = None  # the class's index; None: the image holds no digit (blank), or it failed
    confidence: float | None = None
    probs: list[float] | None = field(default=None, repr=False)  # printed, a Prediction is one line
    input: np.ndarray | None = field(
        default=None, repr=False
    )  # the uint8 image the model saw (28x28; colour HxWx3)
    error: str | None = None
    label: str | None = None  # the class's name ('7' for a digit model's 7)
    named: bool = False  # a model of named classes: its answers say `label` and `index`, not `digit`

    def to_json(self) -> dict:
        """The answer as predict --json prints it: `label` and `index` for every model, and `digit`
        (the index) for a model of numbered classes, the digits, as before names existed."""
        if self.error:
            return {"path": self.path, "error": self.error}
        guess = {"label": self.label, "index": self.digit}
        guess = guess if self.named else {"digit": self.digit, **guess}
        return {"path": self.path, **guess, "confidence": self.confidence, "probs": self.probs}

    def __repr__(self) -> str:
        """One line: the answer as predict names it (a digit, or a named class's label and index)."""
        if self.error:
            return f"Prediction(path={self.path!r}, error={self.error!r})"
        guess = f"label={self.label!r}, index={self.digit!r}" if self.named else f"digit={self.digit!r}"
        return f"Prediction(path={self.path!r}, {guess}, confidence={self.confidence!r})"


ENGINES = ("torch", "onnx")
BATCH = 256  # images per model call when predicting many files


class Predictor:
    """A loaded model, the metadata that came with it, and the engine that runs it.

    `engine="onnx"` runs the same model with ONNX Runtime (the folder's `model.onnx` from
    `digitlab export`, or a fresh export); preprocessing and output are the same for both.
    """

    def __init__(
        self, model: torch.nn.Module, info: ModelInfo, engine: str = "torch", folder=None, as_is: bool = False
    ):
        """`as_is`: images go to the model as they are, only resized (and made grey for a grey model),
        not made MNIST-style; a model trained so (model.json's `preprocessing`) needs no flag, and one
        trained on MNIST-style inputs takes the flag with a warning."""
        if engine not in ENGINES:
            raise DigitlabError(f"engine {engine!r} is unknown: choose torch or onnx")
        self.model, self.info, self.engine = model.eval(), info, engine
        self.size: tuple[int, int] = (info.input_size[0], info.input_size[1])  # (height, width)
        self.channels = info.channels  # 3: colour, pictures read in RGB; grey images repeated
        if as_is and info.preprocessing == "mnist":
            warnings.warn(
                "--as-is (as_is=True): the model was trained on MNIST-style inputs (its model.json says "
                "preprocessing 'mnist'); images as they are may get other answers",
                stacklevel=2,
            )
        self.as_is = as_is or info.preprocessing == "as-is"
        self.onnx = None
        if engine == "onnx":
            from digitlab.inference.onnx_engine import OnnxEngine

            self.onnx = OnnxEngine.for_model(model, info, folder)

    @classmethod
    def load(
        cls, path: str | Path, engine: str = "torch", trust_code: bool = False, as_is: bool = False
    ) -> "Predictor":
        """The model folder (or file) at `path`; `trust_code` lets a model of the user's own class
        import its module (see `load_model`)."""
        model, info = load_model(path, trust_code)
        # The predictor's own model: its weights laid out channels last, which the CPU convolutions run
        # in 0.19 CPU s for 5,000 digits against 0.51 s (1 thread, fast preset, 256 a call, loaded 2-core
        # Xeon; 0.42/0.55 s with ATEN_CPU_CAPABILITY=default). Probabilities move by float32 rounding only
        # (test_predict.py, test_channels_last_gives_the_same_answers).
        model = model.to(memory_format=torch.channels_last)
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        return cls(model, info, engine, folder, as_is)

    def probs(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Probabilities (N,classes) for MNIST-style uint8 images (N,28,28) (or the model's size; colour
        pictures (N,H,W,3)); grey images are repeated in three channels for a colour model."""
        x = self.inputs(images)
        if self.onnx is not None:
            return torch.from_numpy(self.onnx.probs(x.numpy()))
        return predict_probs(self.model, x)

    def inputs(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The model's input (N,C,H,W) floats in [0,1] from uint8 images (N,H,W) or pictures (N,H,W,3)."""
        if tuple(images.shape[1:3]) != self.size:  # e.g. Kaggle's 28x28 rows for a 32x32 model
            (h, w), (mh, mw) = images.shape[1:3], self.size
            raise DigitlabError(f"the images are {h}x{w}, and the model reads {mh}x{mw}")
        x = torch.as_tensor(images).float() / 255
        if x.ndim == 4:
            return x.permute(0, 3, 1, 2).contiguous()
        return x.unsqueeze(1).expand(-1, self.channels, -1, -1).contiguous()

    def predict_image(self, image: Image.Image, name: str = "") -> Prediction:
        digit_image = self.prepare(image, name)
        if digit_image is None:
            return self.prediction(name, None, None)
        return self.prediction(name, self.probs(digit_image[None])[0], digit_image)

    def prepare(self, image: Image.Image, name: str = "") -> np.ndarray | None:
        """The 28x28 MNIST-style digit the model will see (its input size); None for an image that
        holds no digit. With `as_is`: the image itself, resized, and grey unless the model is colour."""
        return self.input_kind.prepare(image, name or "image")

    def prediction(
        self, name: str, probs: torch.Tensor | list[float] | None, digit_image: np.ndarray | None
    ) -> Prediction:
        """The answer for one image from its probabilities (the web server computes them in batches)."""
        if probs is None or digit_image is None:
            return Prediction(name, input=np.zeros(self.size, np.uint8), named=self.info.named)
        # plain floats: a tensor op per value costs more than the whole answer
        values = probs.tolist() if isinstance(probs, torch.Tensor) else probs
        if not all(map(math.isfinite, values)):  # cannot happen with checked weights; never print NaN
            raise DigitlabError(f"{name or 'image'}: the model gave non-finite probabilities")
        best = max(range(len(values)), key=values.__getitem__)  # the first of equals, as argmax
        rounded = [round(p, 6) for p in values]
        return Prediction(
            name,
            best,
            rounded[best],
            rounded,
            digit_image,
            label=self.info.label(best),
            named=self.info.named,
        )

    def predict_file(self, path: str | Path) -> Prediction:
        """A prediction, or one with `error` set: a bad file never stops the others."""
        return next(self._answer([(str(path), *self.input_kind.prepare_file(str(path)))]))

    def predict_paths(self, paths: list[str | Path]) -> list[Prediction]:
        """Files in the order given; folders expanded to their images in sorted order."""
        return list(self.iter_paths(paths))

    def iter_paths(
        self, paths: list[str | Path], batch_size: int = BATCH, workers: int | None = None
    ) -> Iterator[Prediction]:
        """`predict_paths` as a stream: `workers` threads decode and prepare the files (Pillow and
        numpy release the GIL; 0: here, one at a time), the model is called once per `batch_size`
        images while the threads prepare the next batch, and answers come out in the order given as
        each batch is done. Memory holds two batches of 28x28 digits (and one folder's file names),
        however many files."""
        for answers in self.iter_batches(paths, batch_size, workers):
            yield from answers

    def iter_batches(
        self, paths: list[str | Path], batch_size: int = BATCH, workers: int | None = None
    ) -> Iterator[list[Prediction]]:
        """`iter_paths`, a batch's answers at a time: a writer flushes once a batch, not once a line."""
        with Preparing(paths, self.input_kind, workers, ahead=batch_size) as prepared:
            yield from self.answer_batches(prepared, batch_size)

    def answer_batches(
        self, prepared: Iterable[Prepared], batch_size: int = BATCH
    ) -> Iterator[list[Prediction]]:
        """The answers for files prepared elsewhere (`Preparing`), a batch at a time."""
        batch: list[Prepared] = []
        for item in prepared:
            batch.append(item)
            if len(batch) == batch_size:
                yield list(self._answer(batch))
                batch = []
        if batch:
            yield list(self._answer(batch))

    @property
    def input_kind(self) -> InputKind:
        """What this model reads, as the files' preparers need it."""
        return InputKind(self.size, self.channels, self.as_is)

    def _answer(self, batch: list[Prepared]) -> Iterator[Prediction]:
        digits = [digit for _, digit, error in batch if error is None and digit is not None]
        probs = iter(self.probs(np.stack(digits)).tolist()) if digits else iter(())  # one call a batch
        for name, digit, error in batch:
            if error is not None:
                yield Prediction(name, error=error)
            else:
                yield self.prediction(name, next(probs) if digit is not None else None, digit)


def model_threads() -> int:
    """torch's threads beside the decoders: half the cores. OpenMP threads wait for one another at
    every operation, so a model given every core stalls whenever a decoder holds one."""
    return max(1, cores() // 2)


@contextlib.contextmanager
def sharing_cores() -> Iterator[None]:
    """torch's threads set to `model_threads()` while the block runs, then put back."""
    before = torch.get_num_threads()
    torch.set_num_threads(model_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SavedInputs:
    """The 28x28 image each prediction was made from, as `NNNN-name.png` in a folder that may hold
    the user's files (`OwnedFiles`: only names digitlab listed are replaced), a batch at a time."""

    def __init__(self, folder: str | Path):
        self.files, self.pending = OwnedFiles(folder), []

    def add(self, number: int, prediction: Prediction) -> None:
        if prediction.input is not None:
            self.pending.append((f"{number:04d}-{Path(prediction.path).stem}.png", prediction.input))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        self.files.claim([name for name, _ in self.pending])
        for name, image in self.pending:
            self.files.write(name, png_bytes(image))
        self.files.save()
        self.pending = []
