"""What the tests share: the CLI run in-process, test data made by hand, the seed every test starts from."""

import base64
import contextlib
import io
import math
import os
import sys
from dataclasses import dataclass
from html.parser import HTMLParser

import numpy as np
import torch

from digitlab.data import Dataset


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str) -> CliResult:
    """`digitlab ARGS...` run in this process, exactly as the console script runs it (exit code included)."""
    from digitlab.cli import run

    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["digitlab", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = argv
    return CliResult(code, out.getvalue(), err.getvalue())


class PageParts(HTMLParser):
    """The text and the decoded inline images of an HTML page."""

    def __init__(self, html: str):
        super().__init__()
        self.text_parts, self.images = [], []
        self.feed(html)
        self.text = " ".join(self.text_parts)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            from PIL import Image

            data = base64.b64decode(dict(attrs)["src"].split(",", 1)[1])
            self.images.append(Image.open(io.BytesIO(data)))

    def handle_data(self, data):
        self.text_parts.append(data)


def csv_text(images: np.ndarray, labels: np.ndarray | None, eol: str = "\n") -> str:
    """A Kaggle digit-recognizer CSV: `label,pixel0..pixel783` (no label column for a test file)."""
    header = ",".join((["label"] if labels is not None else []) + [f"pixel{i}" for i in range(784)])
    table = images.reshape(len(images), -1).astype(np.int64)
    if labels is not None:
        table = np.concatenate([np.asarray(labels, np.int64).reshape(-1, 1), table], axis=1)
    return header + eol + _csv_body(table, eol)


def _csv_body(table: np.ndarray, eol: str) -> str:
    """Rows of non-negative ints as CSV: each value looked up as text, joined in one bytes call.

    np.savetxt formats value by value in Python: 8.6 s for 30,000 images here, this 1.5 s.
    """
    assert table.size == 0 or table.min() >= 0, "the lookup covers non-negative values"
    values = range(int(table.max()) + 1 if table.size else 1)
    width = len(str(values[-1])) + len(eol)
    cells = np.empty(table.shape, f"S{width}")  # NUL-padded: the padding is dropped below
    cells[:, :-1] = np.array([f"{v}," for v in values], f"S{width}")[table[:, :-1]]
    cells[:, -1] = np.array([f"{v}{eol}" for v in values], f"S{width}")[table[:, -1]]
    return cells.tobytes().replace(b"\0", b"").decode()


# Every test seed is shifted by this: `.ci/run` reruns the numeric tests with other seeds, so a bound
# that fits one seed's result fails in CI, not on a user's machine.
TEST_SEED = int(os.environ.get("DIGITLAB_TEST_SEED", "0"))


def make_dataset(n: int = 50, seed: int = TEST_SEED) -> Dataset:
    """Random images with labels 0..9 in turn."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    return Dataset(images, torch.arange(n) % 10, "synthetic")


def to_idx(array: np.ndarray) -> bytes:
    """Encode an array as IDX bytes: the inverse of the reader, to build test files."""
    from digitlab.data.idx import DTYPES

    codes = {np.dtype(v).newbyteorder("="): k for k, v in DTYPES.items()}
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(np.dtype(DTYPES[code])).tobytes()


def write_idx_folder(folder, train, test=None):
    """An MNIST-style IDX folder from Datasets, as a user might have on disk."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, ds in (("train", train), ("t10k", test)):
        if ds is not None:
            (folder / f"{split}-images-idx3-ubyte").write_bytes(to_idx(ds.images.numpy()))
            (folder / f"{split}-labels-idx1-ubyte").write_bytes(to_idx(ds.labels.to(torch.uint8).numpy()))
    return folder


def mnist_head_dir(tmp_path_factory, mnist, name: str, n_train: int, n_test: int):
    """The first images of real MNIST as an IDX folder."""
    train, test = mnist.train.select(torch.arange(n_train)), mnist.test.select(torch.arange(n_test))
    return write_idx_folder(tmp_path_factory.mktemp(name), train, test)


def make_block_classes(n_per_class: int, classes: int = 47, side: int = 28, seed: int = TEST_SEED) -> Dataset:
    """`classes` kinds of image that are not digits: class k is a bright square in cell k of a grid
    over the image (7x7 cells for 47 classes), moved a pixel or two, on faint noise. A model must
    tell them apart by where the ink is, as it tells digits apart by their strokes."""
    g = torch.Generator().manual_seed(seed)
    grid = math.ceil(math.sqrt(classes))
    cell = side // grid
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    images = torch.randint(0, 40, (len(labels), side, side), generator=g, dtype=torch.uint8)
    jitter = torch.randint(-1, 2, (len(labels), 2), generator=g)
    for i, (label, (dy, dx)) in enumerate(zip(labels.tolist(), jitter.tolist(), strict=True)):
        top = min(max((label // grid) * cell + dy, 0), side - cell)
        left = min(max((label % grid) * cell + dx, 0), side - cell)
        images[i, top : top + cell, left : left + cell] = 255
    order = torch.randperm(len(labels), generator=g)
    return Dataset(images[order], labels[order], f"{classes} block classes")


def write_named_folders(root, data: Dataset, names: dict[int, str]):
    """`root/<name>/<i>.png` for each image of `data` whose label `names` names: a folder of named classes."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(data.images.numpy(), data.labels.tolist(), strict=True)):
        if label in names:
            (root / names[label]).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / names[label] / f"{i}.png")
    return root
