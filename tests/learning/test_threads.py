"""A fit whose batches are too small to share out runs on one thread, and gives the count back."""

import pytest
import torch
from torch import nn

from digitlab.data import DataLoader, DataLoaders
from digitlab.learning.callbacks import Callback
from digitlab.learning.learner import Learner


class SeeThreads(Callback):
    def __init__(self):
        self.seen = []

    def after_batch(self, learn):
        self.seen.append(torch.get_num_threads())


class Explode(Callback):
    def after_batch(self, learn):
        if learn.iter == 2:
            raise RuntimeError("boom")


def fit_with(width: int, batch_size: int, cbs=()) -> list[int]:
    x, y = torch.rand(40, 784), torch.randint(0, 10, (40,))
    dls = DataLoaders(DataLoader((x[:30], y[:30]), batch_size), DataLoader((x[30:], y[30:]), batch_size))
    see = SeeThreads()
    model = nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Linear(width, 10))
    learn = Learner(dls, model, nn.CrossEntropyLoss(), cbs=[see, *cbs], quiet=True)
    learn.fit(1, 0.1)
    return see.seen


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_the_notes_batches_of_5_run_on_one_thread_and_the_count_comes_back(two_threads):
    seen = fit_with(30, 5)  # 2 x 5 x (784 x 30 + 30 x 10) = 0.24 million FLOPs a forward pass
    assert set(seen) == {1}  # counted in the first forward pass: one thread from its backward on
    assert torch.get_num_threads() == 2


def test_larger_batches_keep_their_threads(two_threads):
    seen = fit_with(200, 30)  # 2 x 30 x (784 x 200 + 200 x 10) = 9.5 million FLOPs
    assert set(seen) == {2}


def test_the_count_comes_back_when_the_fit_fails(two_threads):
    with pytest.raises(RuntimeError, match="boom"):
        fit_with(30, 5, cbs=[Explode()])
    assert torch.get_num_threads() == 2
