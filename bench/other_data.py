"""Data that are not MNIST, for the presets' recipes: Fashion-MNIST from Debian's package, and a
small colour-shapes set drawn here.

Fashion-MNIST is ten numbered grey 28x28 classes of clothes: what digit-likeness must tell from
digits. It needs no internet beyond a Debian mirror: `apt-get download dataset-fashion-mnist`, then
`dpkg -x` (its IDX files are under usr/share/datasets/fashion-mnist).
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PACKAGE = "dataset-fashion-mnist"
INSIDE = Path("usr/share/datasets/fashion-mnist")
SHAPES = ("circle", "square", "triangle", "cross")


def fashion_mnist(cache: Path = Path("runs/bench/cache")) -> Path:
    """The folder of Fashion-MNIST's IDX files, downloaded and extracted into `cache` once."""
    folder = cache / "fashion-mnist" / INSIDE
    if (folder / "t10k-labels-idx1-ubyte.gz").exists():
        return folder
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise RuntimeError(
            f"Fashion-MNIST comes from Debian's {PACKAGE} package, and apt-get or dpkg is not here: "
            "download its .deb on a Debian machine and extract it with dpkg -x into "
            f"{cache / 'fashion-mnist'}"
        )
    download = cache / "fashion-mnist-deb"
    download.mkdir(parents=True, exist_ok=True)
    _run(["apt-get", "download", PACKAGE], download)
    deb = next(download.glob(f"{PACKAGE}_*.deb")).resolve()  # dpkg runs in `download`: whole paths
    _run(["dpkg", "-x", str(deb), str((cache / "fashion-mnist").resolve())], download)
    return folder


def _run(command: list[str], folder: Path) -> None:
    """The command in `folder`; its failure as one line saying what to do."""
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(
            f"{' '.join(command)} failed ({last}): is a Debian mirror reachable (apt-get update)?"
        )


def colour_shapes(root: Path, n_train: int = 1000, n_test: int = 250, seed: int = 0, size: int = 32) -> Path:
    """`root/train/<shape>/` and `root/test/<shape>/`: PNGs of a circle, square, triangle or cross in a
    random colour, size and place on a random background colour (n_train and n_test of each shape)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for shape in SHAPES:
            (root / split / shape).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                _shape(shape, rng, size).save(root / split / shape / f"{i}.png")
    return root


def _shape(shape: str, rng: np.random.Generator, size: int) -> Image.Image:
    """One picture: the shape's box is 40-80% of the image, anywhere it fits."""
    background, ink = (tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(2))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    side = int(rng.integers(size * 4 // 10, size * 8 // 10))
    x, y = (int(v) for v in rng.integers(0, size - side, 2))
    box = (x, y, x + side, y + side)
    if shape == "circle":
        draw.ellipse(box, fill=ink)
    elif shape == "square":
        draw.rectangle(box, fill=ink)
    elif shape == "triangle":
        draw.polygon([(x, y + side), (x + side, y + side), (x + side // 2, y)], fill=ink)
    else:
        bar = max(2, side // 4)
        mid = side // 2 - bar // 2
        draw.rectangle((x + mid, y, x + mid + bar, y + side), fill=ink)
        draw.rectangle((x, y + mid, x + side, y + mid + bar), fill=ink)
    return image
