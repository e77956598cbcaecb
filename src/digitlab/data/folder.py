"""Image folders: one subfolder per class (`0/`..`9/`, or `0/`..`46/` for 47 classes), any image size,
mode or format; each image is made MNIST-style (28x28)."""

import warnings
from pathlib import Path

import numpy as np

from digitlab.data.decode import IMAGE_SUFFIXES, open_image
from digitlab.data.idx import MAX_CLASSES
from digitlab.data.images import to_mnist
from digitlab.errors import DigitlabError


class SkippedFileWarning(UserWarning):
    """A file in a data folder that was not used (not an image, unreadable or blank)."""


def class_folders(root: Path) -> dict[int, Path]:
    """The subfolders named by a class number (`0`, `7`, `46`; not `07` or `x`), by number."""
    if not root.is_dir():
        return {}
    return {
        int(p.name): p
        for p in root.iterdir()
        if p.name.isdigit() and p.name.isascii() and str(int(p.name)) == p.name and int(p.name) < MAX_CLASSES
        and p.is_dir()
    }  # fmt: skip


def is_class_folder(root: Path) -> bool:
    return bool(class_folders(root))


def read_image_folder(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images as uint8 (N,28,28) in MNIST style and labels as int64 (N,), class by class."""
    root = Path(root)
    images, labels = [], []
    for label, folder in sorted(class_folders(root).items()):
        for path in sorted(p for p in folder.glob("*") if p.is_file()):
            if (image := _read_one(path)) is not None:
                images.append(image)
                labels.append(label)
    if not images:
        raise DigitlabError(f"{root}: no images found in its class subfolders (0/, 1/, ...)")
    return np.stack(images), np.array(labels, np.int64)


def _read_one(path: Path) -> np.ndarray | None:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        warnings.warn(f"{path}: skipped, not an image file", SkippedFileWarning, stacklevel=3)
        return None
    try:
        digit = to_mnist(open_image(path), str(path))
    except DigitlabError as e:
        warnings.warn(f"{e}; skipped", SkippedFileWarning, stacklevel=3)
        return None
    if digit is None:
        warnings.warn(f"{path}: skipped, the image is blank", SkippedFileWarning, stacklevel=3)
    return digit
