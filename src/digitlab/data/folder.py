"""Image folders: one subfolder per class, any image size, mode or format; each image is made
MNIST-style, or taken as it is (grey or colour, resized), as 28x28. A folder holding any colour image
is colour data (3 channels), unless the user says otherwise.

Subfolders named by numbers (`0/`..`9/`, or `0/`..`46/` for 47 classes) are classes by number, as
digits are; any other names (`cat/`, `dog/`, `größer/`) are named classes, in sorted order. A folder
whose subfolders are `train/` (and maybe `valid/`, `test/`) holds the splits, each of class folders.
"""

import warnings
from pathlib import Path

import numpy as np

from digitlab.data.class_names import check_names
from digitlab.data.decode import IMAGE_SUFFIXES, grey_by_header, is_colour, open_image
from digitlab.data.idx import MAX_CLASSES
from digitlab.data.images import as_input, to_mnist
from digitlab.errors import DigitlabError

SPLIT_NAMES = ("train", "valid", "test")


class SkippedFileWarning(UserWarning):
    """A file in a data folder that was not used (not an image, unreadable or blank)."""


def subfolders(root: Path) -> dict[str, Path]:
    """The folders directly in `root`, by name; hidden ones (`.git`, `.ipynb_checkpoints`) left out."""
    if not root.is_dir():
        return {}
    return {p.name: p for p in root.iterdir() if not p.name.startswith(".") and p.is_dir()}


def _numbered(names: list[str]) -> bool:
    """Every name a class number (`0`, `7`, `46`; not `07`): the classes are numbers, as digits are."""
    return all(n.isdigit() and n.isascii() and str(int(n)) == n and int(n) < MAX_CLASSES for n in names)


def is_class_folder(root: Path) -> bool:
    return bool(subfolders(root))


def split_folders(root: Path) -> dict[str, Path] | None:
    """`{"train": ..., "valid": ..., "test": ...}` (those there are) for a folder of splits, else None."""
    found = subfolders(root)
    if "train" not in found or not set(found) <= set(SPLIT_NAMES) or not subfolders(found["train"]):
        return None
    return found


def folder_classes(root: Path) -> tuple[str, ...] | None:
    """The class names of `root`'s subfolders, sorted; None when they are numbers (labels are the numbers)."""
    names = list(subfolders(root))
    if _numbered(names):
        return None
    check_names(names, str(root))
    return tuple(sorted(names))


def has_colour(roots: list[Path]) -> bool:
    """Whether any image in the class folders of `roots` is colour (`decode.is_colour`); stops at the
    first. Images of grey modes (MNIST's PNGs) are known from their header, others are decoded."""
    for root in roots:
        for folder in subfolders(root).values():
            for path in sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
                if grey_by_header(path):
                    continue
                try:
                    if is_colour(open_image(path), str(path)):
                        return True
                except DigitlabError:  # read_image_folder warns of it
                    continue
    return False


def read_image_folder(
    root: str | Path, classes: tuple[str, ...] | None = None, preprocess: str = "mnist", channels: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Images as uint8 (N,28,28) (colour: (N,3,28,28)) and labels as int64 (N,), class by class.

    `classes`: the names of the labels 0..K-1 (a subfolder of another name is refused); None: the
    subfolders are numbered and each is its number's class. `preprocess`: "mnist" (`to_mnist`: cropped
    to the ink and centred) or "as-is" (`as_input`: only resized, and made grey for `channels` 1).
    """
    root = Path(root)
    folders = subfolders(root)
    if classes is not None and (unknown := sorted(set(folders) - set(classes))):
        raise DigitlabError(
            f"{root / unknown[0]}: class {unknown[0]!r} is not among the classes {list(classes)}"
        )
    if classes is None and not _numbered(list(folders)):
        raise DigitlabError(f"{root}: its subfolders must be class numbers (0/, 1/, ...), as train's are")
    labels_of = {n: int(n) for n in folders} if classes is None else {n: classes.index(n) for n in folders}
    images, labels = [], []
    for name in sorted(folders, key=labels_of.__getitem__):
        for path in sorted(p for p in folders[name].glob("*") if p.is_file()):
            if (image := _read_one(path, preprocess, channels)) is not None:
                images.append(image)
                labels.append(labels_of[name])
    if not images:
        raise DigitlabError(f"{root}: no images found in its class subfolders")
    stacked = np.stack(images)  # (N,H,W), or colour's (N,H,W,3): a tensor's (N,3,H,W) below
    return (stacked if channels == 1 else stacked.transpose(0, 3, 1, 2)), np.array(labels, np.int64)


def _read_one(path: Path, preprocess: str, channels: int) -> np.ndarray | None:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        warnings.warn(f"{path}: skipped, not an image file", SkippedFileWarning, stacklevel=3)
        return None
    try:
        image = open_image(path)
        if preprocess == "as-is":
            made: np.ndarray | None = as_input(image, str(path), channels=channels)
        else:
            made = to_mnist(image, str(path))
    except DigitlabError as e:
        warnings.warn(f"{e}; skipped", SkippedFileWarning, stacklevel=3)
        return None
    if made is None:
        warnings.warn(f"{path}: skipped, the image is blank", SkippedFileWarning, stacklevel=3)
    return made
