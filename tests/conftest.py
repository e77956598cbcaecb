"""The fixtures every test folder shares: real bundled MNIST (loaded once), small IDX folders made from
it, a model trained for real, and the same random state at every test's start (tests/helpers has the rest)."""

import random
import sys

import numpy as np
import pytest
import torch

from digitlab.data import load_source
from tests.helpers import TEST_SEED, mnist_head_dir


@pytest.fixture(autouse=True)
def _seeded():
    """Each test starts from the same random state (TEST_SEED): torch's, numpy's and Python's."""
    torch.manual_seed(TEST_SEED)
    np.random.seed(TEST_SEED)
    random.seed(TEST_SEED)


@pytest.fixture(autouse=True)
def _process_left_as_found():
    """A command run in this process leaves torch's thread count as it found it, failures included: one
    that did not made later reference runs single-threaded, and their weights differed in the last bits.
    The recursion limit is put back: mypy's API raised it to 16,384, and a settings file nested 5,000
    deep then parsed in later tests instead of being refused as too deep."""
    threads, depth = torch.get_num_threads(), sys.getrecursionlimit()
    yield
    assert torch.get_num_threads() == threads, "the test left torch's thread count changed"
    sys.setrecursionlimit(depth)  # put back, not asserted: Inductor raises it to 2,000 at each compile


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


@pytest.fixture(scope="session")
def mini_mnist_dir(tmp_path_factory, mnist):
    """12,000 training and 2,000 test images: enough to learn for real."""
    return mnist_head_dir(tmp_path_factory, mnist, "mini-mnist", 12000, 2000)


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory, mnist):
    """1,200 training and 300 test images: for runs whose result is not the point."""
    return mnist_head_dir(tmp_path_factory, mnist, "tiny-mnist", 1200, 300)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, mini_mnist_dir):
    """A small CNN trained for real (a few seconds): shared by predict, evaluate, submit and web tests."""
    from digitlab.run.api import train
    from digitlab.run.settings import TrainConfig

    out = tmp_path_factory.mktemp("model")
    train(
        TrainConfig(
            data=str(mini_mnist_dir), preset="fast", epochs=1, out=str(out), device="cpu", seed=TEST_SEED
        ),
        quiet=True,
    )
    return out
