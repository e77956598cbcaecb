"""`SRC` as the CLI names it: `mnist`, a Kaggle CSV, a folder of IDX files or of class folders."""

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from digitlab.data.cache import cached_arrays
from digitlab.data.class_names import check_labels_named, classes_txt
from digitlab.data.dataset import Dataset
from digitlab.data.folder import folder_classes, has_colour, is_class_folder, read_image_folder, split_folders
from digitlab.data.idx import MAX_PAYLOAD, MAX_SIDE, MIN_SIDE, read_idx_images, read_idx_labels
from digitlab.data.kaggle import read_kaggle_csv
from digitlab.errors import DigitlabError

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

MNIST_IS_GREY = (
    "{src}: --preprocess mnist centres grey digits and cannot keep colour: train 3 channels as-is "
    "(their default), or give --channels 1 to make the images grey"
)


@dataclass
class Source:
    """What a SRC holds: training data (labelled, or not for a Kaggle test CSV), maybe a test set, and
    maybe its own validation set (a valid/ folder: then nothing is held out of train)."""

    name: str
    train: Dataset
    test: Dataset | None = None
    valid: Dataset | None = None
    preprocessing: str = "mnist"  # what a model of these data does to an image (folders: how they were read)
    channels: int = 1  # of every image: 1 grey, 3 colour (image folders only)


def bundled_mnist_dir() -> Path:
    return Path(str(resources.files("digitlab") / "data" / "mnist"))


@functools.cache
def verify_bundled_mnist() -> Path:
    """Check the bundled files against SHA256SUMS, once per process."""
    root = bundled_mnist_dir()
    for line in (root / "SHA256SUMS").read_text().splitlines():
        expected, name = line.split()
        actual = hashlib.sha256((root / name).read_bytes()).hexdigest()
        if actual != expected:
            raise DigitlabError(
                f"{root / name}: checksum mismatch (expected {expected[:12]}…, got {actual[:12]}…)"
            )
    return root


def load_source(
    src: str | Path = "mnist",
    classes: tuple[str, ...] | None = None,
    preprocess: str | None = None,
    channels: int | None = None,
) -> Source:
    """Load any supported SRC into tensors; `classes` names its labels 0..K-1 (`train --classes`),
    else a `classes.txt` beside the data does, or the names of its class folders.

    `preprocess` ("mnist" or "as-is"): how image folders are read, and what a model of these data
    is to do with an image; None: MNIST style for numbered classes (digits) in grey, as-is for named
    ones and colour. `channels` (1 or 3): how image folders are read; None: 3 when any image is colour.
    IDX files and CSVs are grey: for `channels` 3 their grey is repeated in three channels."""
    path = Path(src)
    if is_class_folder(path) and str(src) != "mnist":
        return _image_folders(path, classes, preprocess, channels)
    if channels == 3 and preprocess == "mnist":
        raise DigitlabError(MNIST_IS_GREY.format(src=src))
    if channels != 3:
        return _grey_source(src, path, classes, preprocess)
    return _in_colour(_grey_source(src, path, classes, preprocess or "as-is"))


def _grey_source(
    src: str | Path, path: Path, classes: tuple[str, ...] | None, preprocess: str | None
) -> Source:
    """The bundled MNIST, a Kaggle CSV or a folder of IDX files."""
    if str(src) == "mnist":
        return _named(_load_idx_folder(verify_bundled_mnist(), "mnist"), classes, "mnist", preprocess)
    if path.is_file() and path.suffix.lower() == ".csv":
        images, labels = read_kaggle_csv(path)
        source = Source(str(path), _dataset(images, labels, path.name))
        return _named(source, classes or classes_txt(path), src, preprocess)
    if path.is_dir() and _find_idx(path, IDX_NAMES["train"][0]):
        return _named(_load_idx_folder(path, str(path)), classes or classes_txt(path), src, preprocess)
    if not path.exists():
        raise DigitlabError(f"{src}: no such file or folder (SRC is 'mnist', a .csv, or a folder)")
    raise DigitlabError(
        f"{src}: not a data source: expected a Kaggle .csv, a folder with IDX files, "
        "or a folder with one image subfolder per class (0/..9/, or any names: cat/, dog/)"
    )


def _image_folders(
    root: Path, given: tuple[str, ...] | None, preprocess: str | None, channels: int | None
) -> Source:
    """A folder of class folders, or of train/ (valid/, test/) folders of class folders."""
    splits = split_folders(root) or {"train": root}
    folders = folder_classes(splits["train"])  # None: numbered folders, each its number's class
    names = folders or given or classes_txt(root)
    if folders is not None and given is not None:  # the folders' names, in the order given
        if set(given) != set(folders):
            raise DigitlabError(
                f"--classes {','.join(given)}: must list the class folders of {root}: {list(folders)}"
            )
        folders = names = given
    channels = channels or (3 if has_colour(list(splits.values())) else 1)
    preprocess = preprocess or default_preprocessing(names, channels)
    if preprocess == "mnist" and channels == 3:
        raise DigitlabError(MNIST_IS_GREY.format(src=root))
    parts = {
        split: _dataset(*read_image_folder(f, folders, preprocess, channels), f.name)
        for split, f in splits.items()
    }
    source = Source(str(root), parts["train"], parts.get("test"), parts.get("valid"), channels=channels)
    return _named(source, names, root, preprocess)


def source_location(src: str | Path) -> str:
    """Where SRC is, as a model records it: 'mnist', or the absolute path (any folder may run it later)."""
    return "mnist" if str(src) == "mnist" else str(Path(src).absolute())


def default_preprocessing(names: tuple[str, ...] | None, channels: int = 1) -> str:
    """Grey digits (numbered classes) are made MNIST-style; images of named classes, and colour images,
    are taken as they are."""
    return "mnist" if names is None and channels == 1 else "as-is"


def _named(
    source: Source, names: tuple[str, ...] | None, where: str | Path, preprocess: str | None
) -> Source:
    """`source` with its labels named, each label checked to have a name, and its preprocessing."""
    source.preprocessing = preprocess or default_preprocessing(names, source.channels)
    if names is None:
        return source
    parts = {"train": source.train, "test": source.test, "valid": source.valid}
    for split, ds in parts.items():
        if ds is not None and ds.labels is not None and len(ds.labels):
            check_labels_named(int(ds.labels.max()), names, f"{where} ({split})")

    def name(ds: Dataset) -> Dataset:
        return Dataset(ds.images, ds.labels, ds.name, names)

    test, valid = (None if d is None else name(d) for d in (source.test, source.valid))
    return Source(source.name, name(source.train), test, valid, source.preprocessing, source.channels)


def _in_colour(source: Source) -> Source:
    """Grey data for a colour model: each image's grey repeated in its three channels."""
    test, valid = (None if d is None else d.in_colour() for d in (source.test, source.valid))
    return Source(source.name, source.train.in_colour(), test, valid, source.preprocessing, 3)


def _load_idx_folder(root: Path, name: str) -> Source:
    train = _read_idx_pair(root, "train")
    test = _read_idx_pair(root, "test") if _find_idx(root, IDX_NAMES["test"][0]) else None
    if test is not None and test.images.shape[1:] != train.images.shape[1:]:
        (h, w), (th, tw) = train.images.shape[1:], test.images.shape[1:]
        raise DigitlabError(f"{root}: training images are {h}x{w} but test images {th}x{tw}")
    return Source(name, train, test)


def _read_idx_pair(root: Path, split: str) -> Dataset:
    image_name, label_name = IDX_NAMES[split]
    image_path = _find_idx(root, image_name)
    if image_path is None:
        raise DigitlabError(f"{root}: has no {image_name}[.gz]")
    images = _cached_idx_images(image_path)
    label_path = _find_idx(root, label_name)
    if label_path is None:
        raise DigitlabError(f"{root}: has {image_name} but no {label_name}[.gz]")
    labels = read_idx_labels(label_path)
    if len(labels) != len(images):
        raise DigitlabError(f"{label_path}: {len(labels)} labels for {len(images)} images")
    return _dataset(images, labels, split)


def _cached_idx_images(path: Path) -> np.ndarray:
    """`read_idx_images`, or the images it gave before for a file of exactly these bytes: MNIST's
    training images take 0.3 s to inflate, 5 ms to hash and map (BENCHMARKS.md, "Time to 99.0%")."""
    if path.stat().st_size > MAX_PAYLOAD:  # as read_idx refuses it, before hashing it
        return read_idx_images(path)
    arrays = cached_arrays(path, "idx", lambda p: {"images": read_idx_images(p)}, _sound_images, ("images",))
    return arrays["images"]


def _sound_images(arrays: dict[str, np.ndarray]) -> bool:
    images = arrays.get("images")
    return (
        images is not None
        and images.dtype == np.uint8
        and images.ndim == 3
        and all(MIN_SIDE <= side <= MAX_SIDE for side in images.shape[1:])
    )


def _find_idx(root: Path, stem: str) -> Path | None:
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _dataset(images: np.ndarray, labels: np.ndarray | None, name: str) -> Dataset:
    labels_t = None if labels is None else torch.from_numpy(np.ascontiguousarray(labels))
    return Dataset(torch.from_numpy(np.ascontiguousarray(images)), labels_t, name)
