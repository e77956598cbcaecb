"""Image folders: one subfolder per class (`0/`..`9/`), any image size, mode or format."""

import warnings
from pathlib import Path

import numpy as np

from digitlab.data.decode import IMAGE_SUFFIXES, open_image
from digitlab.data.images import to_mnist
from digitlab.errors import DigitlabError


class SkippedFileWarning(UserWarning):
    """A file in a data folder that was not used (not an image, unreadable or blank)."""


def is_class_folder(root: Path) -> bool:
    return root.is_dir() and any((root / str(d)).is_dir() for d in range(10))


def read_image_folder(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images as uint8 (N,28,28) in MNIST style and labels as int64 (N,), class by class."""
    root = Path(root)
    images, labels = [], []
    for digit in range(10):
        for path in sorted(p for p in (root / str(digit)).glob("*") if p.is_file()):
            if (image := _read_one(path)) is not None:
                images.append(image)
                labels.append(digit)
    if not images:
        raise DigitlabError(f"{root}: no images found in its 0/..9/ subfolders")
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
