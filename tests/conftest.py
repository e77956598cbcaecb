"""Shared fixtures: real bundled MNIST (loaded once) and small hand-made data."""

import pytest
import torch

from digitlab.data import Dataset, load_source


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Each test session caches parsed files in its own folder, never the user's."""
    monkeypatch.setenv("DIGITLAB_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def mnist():
    return load_source("mnist")


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """2,000 training and 1,000 test images of real MNIST: enough to learn, quick to train."""
    return mnist.train.select(torch.arange(2000)), mnist.test.select(torch.arange(1000))


def make_dataset(n: int = 50, seed: int = 0) -> Dataset:
    """Random images with labels 0..9 in turn."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    return Dataset(images, torch.arange(n) % 10, "synthetic")
