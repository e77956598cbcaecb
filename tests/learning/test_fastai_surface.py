"""The fastai methods the notes and the book call on a Learner, with fastai's semantics (fast checks;
tests/benchmarks/test_fastai_oracle.py compares them with fastai 2.8.12 itself)."""

import contextlib
import io
import math

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from digitlab.data import DataLoader, DataLoaders
from digitlab.learning import callbacks as cbs
from digitlab.learning.learner import Learner
from digitlab.learning.lr_finder import SuggestionMethod, minimum, slide, steep, suggest, valley
from digitlab.learning.metrics import accuracy
from tests.helpers import TEST_SEED

matplotlib.use("Agg")
import matplotlib.pyplot as plt

pytestmark = pytest.mark.numeric  # losses and rates compared with bounds: rerun under other kernels


def pairs_learner(n: int = 120, bs: int = 5) -> Learner:
    """The notes' setting, small: a list of (784 pixels, label) pairs, batches of 5, a 784-30-10 net."""
    g = torch.Generator().manual_seed(TEST_SEED)
    y = torch.arange(n) % 10
    x = torch.rand(n, 784, generator=g) * 0.2
    for digit in range(10):  # each class lights its own band of pixels: learnable in a few epochs
        x[y == digit, digit * 78 : (digit + 1) * 78] += 0.8
    cut = n * 3 // 4
    pairs = list(zip(x, y, strict=True))
    dls = DataLoaders(DataLoader(pairs[:cut], bs, shuffle=True, seed=TEST_SEED), DataLoader(pairs[cut:], bs))
    torch.manual_seed(TEST_SEED)
    net = nn.Sequential(nn.Linear(784, 30), nn.ReLU(), nn.Linear(30, 10))
    return Learner(dls, net, loss_func=nn.CrossEntropyLoss(), metrics=accuracy, quiet=True)


def test_train_loss_is_the_running_loss_fastai_shows():
    """fastai's train_loss: beta=0.98 moving average of the batch losses, debiased by 1 - beta**n,
    carried across the epochs of a fit and read at each epoch's end (here written out in float64)."""
    learn = pairs_learner()
    learn.fit(3, 0.1)
    val, expected = 0.0, []
    for n, loss in enumerate(learn.recorder.batch_losses, start=1):
        val = 0.98 * val + 0.02 * float(loss)
        expected.append(val / (1 - 0.98**n))
    at_epoch_ends = [expected[i - 1] for i in learn.recorder.iters]
    assert learn.recorder.iters == [18, 36, 54]  # 90 training pairs in batches of 5, each epoch
    # float32 lerp against float64 arithmetic over 54 steps: relative error about 1e-7 a step
    assert [row["train_loss"] for row in learn.recorder.rows] == pytest.approx(at_epoch_ends, rel=1e-5)
    assert learn.recorder.losses == pytest.approx(expected, rel=1e-5)
    epoch_mean = sum(float(x) for x in learn.recorder.batch_losses[36:]) / 18
    assert abs(learn.recorder.rows[2]["train_loss"] - epoch_mean) > 1e-4  # not the epoch's mean
    learn.fit(1, 0.1)  # a new fit starts a new average, as fastai's Recorder.before_fit does
    first = float(learn.recorder.batch_losses[0])
    assert learn.recorder.losses[0] == pytest.approx(first, rel=1e-6)


def test_validate_gives_the_valid_loss_and_metrics_of_the_epoch_table():
    learn = pairs_learner()
    learn.fit(2, 0.1)
    assert learn.validate() == pytest.approx(learn.recorder.values[-1][1:], rel=1e-6)  # same sums, same order
    x, y = (torch.stack(t) for t in zip(*learn.dls.train.dataset, strict=True))
    learn.model.eval()
    with torch.no_grad():
        out = learn.model(x)
    loss, acc = learn.validate(ds_idx=0)  # the training data, in one go here against batches of 5
    assert loss == pytest.approx(float(F.cross_entropy(out, y)), rel=1e-5)  # float32 sums of 90 terms
    assert acc == pytest.approx(float((out.argmax(1) == y).float().mean()), abs=1e-6)


def test_predict_gives_the_class_its_index_and_the_probabilities():
    learn = pairs_learner()
    learn.fit(2, 0.1)
    x, _ = learn.dls.valid.dataset[3]
    decoded, index, probs = learn.predict(x)
    learn.model.eval()
    expected = F.softmax(learn.model(x[None]), dim=1)[0].detach()
    torch.testing.assert_close(probs, expected)
    assert index.shape == () and int(index) == int(expected.argmax()) and decoded == int(index)
    learn.dls.vocab = [f"digit {i}" for i in range(10)]  # DataLoaders with class names, as fastai's
    assert learn.predict(x)[0] == f"digit {int(index)}"
    with pytest.raises(RuntimeError):
        learn.predict(torch.rand(2, 784))  # one sample, as fastai's


def test_valley_and_the_other_suggestions_on_a_curve_worked_by_hand():
    lrs = torch.logspace(-7, 1, 100)
    falling = 2 - 0.0004 * torch.arange(61.0) ** 2  # faster and faster, to 0.56 at point 60
    losses = torch.cat([falling, torch.linspace(0.6, 3.0, 39)])  # then rises
    # valley: the longest falling run is points 0-60 (61 long); fastai counts from 60 - 61 = -1, so
    # a third of it is 20.33 and the pick is -1 + 20 + int(20.33 / 2) = 29
    assert valley(lrs, losses, 100)[0] == pytest.approx(float(lrs[29]))
    assert minimum(lrs, losses, 100)[0] == pytest.approx(float(lrs[60]) / 10)  # a tenth of the lowest
    assert steep(lrs, losses, 100)[0] == pytest.approx(float(lrs[59]))  # the step from 59 to 60
    assert lrs[0] <= slide(lrs, losses, 100)[0] <= lrs[-1]
    names = suggest(lrs.tolist(), losses.tolist(), 100, [valley, SuggestionMethod.Steep]).suggestions
    assert names._fields == ("valley", "steep")
    # the first tenth and the last five are left out before suggesting, as fastai does
    assert names.valley == pytest.approx(valley(lrs[10:-5], losses[10:-5], 100)[0])


def test_lr_find_sweeps_restores_and_suggests_as_fastai():
    learn = pairs_learner(n=400)
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    suggested = learn.lr_find(num_it=60, suggest_funcs=(valley, slide, minimum, steep))
    fig = plt.gcf()
    assert suggested._fields == ("valley", "slide", "minimum", "steep")
    lrs = learn.recorder.lrs
    assert lrs[:3] == pytest.approx([1e-7 * 1e8 ** (i / 60) for i in range(3)])  # geometric from start_lr
    assert len(lrs) == len(learn.recorder.losses) <= 60
    assert all(math.isfinite(v) and 1e-7 <= v <= 10 for v in suggested)
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 1 + 4  # the curve and one dot a suggestion
    plt.close("all")


def test_lr_find_that_stops_too_soon_says_so():
    learn = pairs_learner()
    with pytest.raises(ValueError, match="too few to suggest"):
        learn.lr_find(start_lr=1e3, end_lr=1e6, num_it=30, show_plot=False)  # diverges at once


def test_show_training_loop_lists_every_event_in_the_order_they_run():
    assert sorted(e for e in cbs.LOOP if e in cbs.EVENTS) == sorted(cbs.EVENTS)  # each event, once
    learn = pairs_learner(n=8, bs=4)

    class Record(cbs.Callback):
        order = 5

        def __init__(self):
            self.seen = []

        def __getattr__(self, name):
            if name in cbs.EVENTS:
                return lambda learn: self.seen.append(name)
            raise AttributeError(name)

    record = Record()
    learn.add_cbs([record])
    learn.fit(1, 0.1)
    listed = [e for e in cbs.LOOP if e in cbs.EVENTS]
    assert record.seen.count("before_batch") == 3  # 6 training pairs in 2 batches, 2 valid in 1
    for a, b in zip(record.seen, record.seen[1:], strict=False):  # each next event is further down the list,
        assert listed.index(b) > listed.index(a) or b == "before_batch", (a, b)  # or a new batch
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        learn.show_training_loop()
    lines = out.getvalue().splitlines()
    by_event = {
        line.split(":")[0].strip(" -"): line.split(":", 1)[1].strip() for line in lines if " - " in line
    }
    assert by_event["after_batch"] == "[Metrics, Record, Recorder, ProgressTable]"  # by order: -10, 5, 10, 20
    assert by_event["after_loss"] == "[NaNGuard, Record]"
    assert lines[0] == "Start Fit" and lines[-1] == "End Fit"


def test_plot_loss_and_show_results_draw_what_fastai_draws():
    learn = pairs_learner()
    learn.fit(2, 0.1)
    ax = learn.recorder.plot_loss(skip_start=5)
    train, valid = ax.lines
    assert list(train.get_xdata()) == list(range(5, 36)) and list(valid.get_xdata()) == [18, 36]
    assert list(valid.get_ydata()) == pytest.approx([row["valid_loss"] for row in learn.recorder.rows])
    plt.close("all")
    fig = learn.show_results(max_n=4)
    titled = [a for a in fig.axes if a.get_title()]
    assert len(titled) == 4  # max_n of a batch of 5
    for a in titled:
        label, answer = a.get_title().split("\n")
        assert a.title.get_color() == ("green" if label == answer else "red")
    plt.close("all")


def test_the_one_import_brings_fastais_suggestion_names():
    names: dict = {}
    exec("from digitlab.all import *", names)
    assert {"Learner", "valley", "slide", "minimum", "steep", "SuggestionMethod"} <= set(names)
    assert names["SuggestionMethod"].Valley is names["valley"] is valley
