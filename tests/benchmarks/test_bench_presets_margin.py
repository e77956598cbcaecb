"""The presets-with-a-margin benchmark's own parts: the colour shapes it draws, Fashion-MNIST's
download saying what to do without apt, and a verdict that follows the figures."""

import pytest
from bench import other_data, presets_margin
from PIL import Image

from digitlab.data import load_source


def test_the_colour_shapes_are_four_named_classes_of_32x32_colour_pictures(tmp_path):
    root = other_data.colour_shapes(tmp_path / "shapes", n_train=3, n_test=2, seed=1)
    for split, n in (("train", 3), ("test", 2)):
        assert sorted(p.name for p in (root / split).iterdir()) == sorted(other_data.SHAPES)
        pictures = sorted((root / split / "cross").glob("*.png"))
        assert len(pictures) == n
        image = Image.open(pictures[0])
        assert (
            image.size == (32, 32) and image.mode == "RGB" and len(set(image.getdata())) == 2
        )  # ink, ground
    source = load_source(str(root))
    assert source.train.classes == tuple(sorted(other_data.SHAPES)) and len(source.test) == 8


def test_without_apt_the_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(other_data.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="dataset-fashion-mnist package, and apt-get or dpkg is not here"):
        other_data.fashion_mnist(tmp_path)


def test_the_verdict_follows_the_lowest_seed_and_the_mean():
    rows = [(0, 0.9915, 12.0), (1, 0.9899, 13.0)]  # a mean above 0.99, a seed below it
    text = presets_margin.section({("fast", "mnist"): rows, ("fast", "shapes-mild"): rows})
    fast = next(line for line in text.splitlines() if "MNIST's test set" in line)
    assert (
        "| 0: 0.9915, 1: 0.9899 | 0.9907 | 0.9899 | 12.5 | missed (every seed >= 0.99, mean >= 0.992) |"
        in fast
    )
    shapes = next(line for line in text.splitlines() if "shapes' test set" in line)
    assert shapes.endswith("|  |")  # no target for the shapes: no verdict
    assert presets_margin._verdict(0.9921, 0.9925, (0.99, 0.992)).startswith("met")
