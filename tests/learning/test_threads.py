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


@pytest.mark.parametrize(
    "model, shape",
    [
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 30), nn.ReLU(), nn.Linear(30, 10)), (5, 1, 28, 28)),
        (
            nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8 * 26 * 26, 10)),
            (3, 1, 28, 28),
        ),
        (nn.Sequential(nn.Conv2d(1, 4, 5, stride=5), nn.Flatten(), nn.Linear(4 * 5 * 5, 10)), (2, 1, 28, 28)),
    ],
)
def test_the_weight_bound_never_exceeds_the_counted_flops(model, shape):
    """The shortcut's premise, with torch's FlopCounterMode as the oracle: 2 x weights x batch is a
    least count, so a batch it calls large is one the counter would call large too."""
    from torch.utils.flop_counter import FlopCounterMode

    from digitlab.learning.threads import SMALL, surely_large

    with FlopCounterMode(display=False) as counter:
        model(torch.rand(shape))
    weights = sum(p.numel() for p in model.parameters() if p.dim() >= 2)
    assert 2 * weights * shape[0] <= counter.get_total_flops()
    assert surely_large(model, shape[0]) == (2 * weights * shape[0] >= SMALL)


def test_a_cnn_fit_on_the_cpu_leaves_torch_dynamo_unimported():
    """The fast preset's fit counts nothing: FlopCounterMode would import torch._dynamo (over a second)."""
    import subprocess
    import sys

    code = (
        "import sys, torch; from torch import nn; "
        "from digitlab.data import DataLoader, DataLoaders; from digitlab.learning.learner import Learner; "
        "x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,)); "
        "dls = DataLoaders(DataLoader((x, y), 32), DataLoader((x, y), 32)); "
        "m = nn.Sequential(nn.Conv2d(1, 16, 3), nn.Flatten(), nn.Linear(16 * 26 * 26, 10)); "
        "Learner(dls, m, nn.CrossEntropyLoss(), quiet=True).fit(1, 0.1); "
        "print('torch._dynamo' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "False"
