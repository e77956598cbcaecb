"""One prediction path for the CLI, the reports and the web app: image -> MNIST style -> model."""

import contextlib
import math
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from digitlab.data.decode import IMAGE_SUFFIXES, open_image, png_bytes
from digitlab.data.images import as_input, to_mnist
from digitlab.errors import DigitlabError
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
        if self.as_is:
            return as_input(image, name or "image", self.size, self.channels)
        return to_mnist(image, name or "image", self.size)

    def prediction(self, name: str, probs: torch.Tensor | None, digit_image: np.ndarray | None) -> Prediction:
        """The answer for one image from its probabilities (the web server computes them in batches)."""
        if probs is None or digit_image is None:
            return Prediction(name, input=np.zeros(self.size, np.uint8), named=self.info.named)
        values = probs.tolist()  # plain floats: a tensor op per value costs more than the whole answer
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
        return next(self._answer([(str(path), *self._prepared(str(path)))]))

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
        pool = ThreadPoolExecutor(workers or decode_threads()) if workers != 0 else None
        try:
            batch: list[tuple[str, np.ndarray | None, Prediction | None]] = []
            for item in self._prepared_in_order(self._files(paths), pool, batch_size):
                batch.append(item)
                if len(batch) == batch_size:
                    yield list(self._answer(batch))
                    batch = []
            if batch:
                yield list(self._answer(batch))
        finally:
            if pool is not None:  # a consumer that stops early leaves no work running
                pool.shutdown(cancel_futures=True)

    def _prepared_in_order(
        self, files: Iterator[tuple[str, Prediction | None]], pool: ThreadPoolExecutor | None, ahead: int
    ) -> Iterator[tuple[str, np.ndarray | None, Prediction | None]]:
        """Each file's (name, digit, error), in order; with a pool, at most `ahead` files in flight."""
        if pool is None:
            yield from (
                (name, None, error) if error else (name, *self._prepared(name)) for name, error in files
            )
            return
        pending: deque[tuple[str, Future | Prediction]] = deque()
        for name, error in files:
            pending.append((name, error or pool.submit(self._prepared, name)))
            if len(pending) >= ahead:
                yield _collected(*pending.popleft())
        while pending:
            yield _collected(*pending.popleft())

    def _files(self, paths: list[str | Path]) -> Iterator[tuple[str, Prediction | None]]:
        for path in map(Path, paths):
            if not path.is_dir():
                yield str(path), None
                continue
            found: list[Prediction] = []
            images = image_files(path, found)
            yield from ((f.path, f) for f in found)  # subfolders that could not be read
            if not images:
                yield str(path), Prediction(str(path), error=f"{path}: folder holds no images")
            yield from ((str(p), None) for p in images)

    def _prepared(self, name: str) -> tuple[np.ndarray | None, Prediction | None]:
        """The file's 28x28 digit (None if blank), or the Prediction that says why there is none."""
        try:
            return self.prepare(open_image(name), name), None
        except DigitlabError as e:
            return None, Prediction(name, error=str(e))
        except Exception as e:  # noqa: BLE001 (an image no step foresaw: its own error, the others go on)
            return None, Prediction(name, error=f"{name}: cannot read image ({type(e).__name__}: {e})")

    def _answer(self, batch: list[tuple[str, np.ndarray | None, Prediction | None]]) -> Iterator[Prediction]:
        digits = [digit for _, digit, done in batch if done is None and digit is not None]
        probs = iter(self.probs(np.stack(digits))) if digits else iter(())
        for name, digit, done in batch:
            if done is not None:
                yield done
            else:
                yield self.prediction(name, next(probs) if digit is not None else None, digit)


def decode_threads() -> int:
    """Threads that decode and prepare images: one a core (they wait on files and hold the GIL in
    turns, so fewer leave cores idle)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def model_threads() -> int:
    """torch's threads beside the decoders: half the cores. OpenMP threads wait for one another at
    every operation, so a model given every core stalls whenever a decoder holds one."""
    return max(1, decode_threads() // 2)


@contextlib.contextmanager
def sharing_cores() -> Iterator[None]:
    """torch's threads set to `model_threads()` while the block runs, then put back."""
    before = torch.get_num_threads()
    torch.set_num_threads(model_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _collected(name: str, work: "Future | Prediction") -> tuple[str, np.ndarray | None, Prediction | None]:
    if isinstance(work, Prediction):
        return name, None, work
    return (name, *work.result())


def image_files(folder: Path, results: list[Prediction]) -> list[Path]:
    """Every image file below `folder`, sorted; a subfolder that cannot be read adds an error entry."""

    def unreadable(error: OSError) -> None:
        results.append(
            Prediction(str(error.filename), error=f"{error.filename}: cannot read folder ({error.strerror})")
        )
        warnings.warn(f"{error.filename}: skipped, cannot read folder ({error.strerror})", stacklevel=2)

    found = [path for path in _walk(folder, unreadable) if path.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(p for p in found if p.is_file())


def _walk(folder: Path, unreadable: Callable[[OSError], None]) -> Iterator[Path]:
    """Every entry below `folder` but its folders, as os.walk finds them (links to folders not followed),
    from a list of folders still to read: Python 3.11's os.walk recurses, so a folder nested past
    Python's recursion limit (a few thousand levels are easily made) would end it with a RecursionError."""
    waiting = [folder]
    while waiting:
        try:
            with os.scandir(waiting.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        waiting.append(Path(entry.path))
                    else:
                        yield Path(entry.path)
        except OSError as e:
            unreadable(e)


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
