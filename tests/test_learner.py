import io

import pytest
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn

from digitlab.data import DataLoader, DataLoaders
from digitlab.errors import DigitlabError
from digitlab.models import build_model
from digitlab.train import callbacks as cbs
from digitlab.train.learner import EVENTS, Learner
from digitlab.train.metrics import Accuracy
from digitlab.train.optim import SGD


def make_dls(n=256, bs=32, seed=0):
    """Two easy classes: bright top half vs bright bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.3
    x[y == 0, :, :14] += 0.7
    x[y == 1, :, 14:] += 0.7
    return DataLoaders(
        DataLoader(x[: n * 3 // 4], y[: n * 3 // 4], bs, shuffle=True, seed=seed),
        DataLoader(x[n * 3 // 4 :], y[n * 3 // 4 :], bs),
    )


def quiet_learner(model=None, **kwargs):
    console = Console(file=io.StringIO(), width=120)
    callbacks = kwargs.pop("callbacks", [])
    learn = Learner(
        make_dls(),
        model or build_model("linear"),
        F.cross_entropy,
        metrics=[Accuracy()],
        callbacks=[*callbacks],
        default_callbacks=False,
        **kwargs,
    )
    learn.callbacks += [cbs.Recorder(), cbs.ProgressTable(console), cbs.NaNGuard()]
    learn.recorder = learn.callbacks[-3]
    return learn, console


class RecordEvents(cbs.Callback):
    def __init__(self):
        self.events = []

    def __getattr__(self, name):
        if name in EVENTS:
            return lambda learn: self.events.append(name)
        raise AttributeError(name)


def test_event_order():
    rec = RecordEvents()
    learn = Learner(
        make_dls(n=8, bs=8), build_model("linear"), F.cross_entropy, callbacks=[rec], default_callbacks=False
    )
    learn.fit(1, 0.1)
    train_batch = [
        "before_batch",
        "after_pred",
        "after_loss",
        "after_backward",
        "after_step",
        "after_batch",
        "cleanup_batch",
    ]
    valid_batch = ["before_batch", "after_pred", "after_loss", "after_batch", "cleanup_batch"]
    assert rec.events == [
        "before_fit",
        "before_epoch",
        *train_batch,
        *valid_batch,
        "after_epoch",
        "cleanup_epoch",
        "after_fit",
        "cleanup_fit",
    ]


def test_misspelt_event_is_refused():
    class Typo(cbs.Callback):
        def before_epoc(self, learn):
            pass

    with pytest.raises(ValueError, match="before_epoc is not an event"):
        Learner(make_dls(), build_model("linear"), F.cross_entropy, callbacks=[Typo()])


def test_callback_errors_name_the_callback_and_event():
    class Broken(cbs.Callback):
        def after_loss(self, learn):
            raise RuntimeError("boom")

    learn, _ = quiet_learner(callbacks=[Broken()])
    with pytest.raises(RuntimeError) as e:
        learn.fit(1)
    assert "in callback Broken.after_loss" in e.value.__notes__


def test_fit_learns_and_prints_the_epoch_table():
    learn, console = quiet_learner()
    learn.fit(3, 0.1)
    text = console.file.getvalue()
    assert text.splitlines()[0].split() == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    assert len(text.splitlines()) == 4
    history = learn.recorder.history()
    assert history["accuracy"][-1] > 0.95
    assert len(history["batch_loss"]) == 3 * len(learn.dls.train)


def test_learner_equals_a_hand_written_loop():
    torch.manual_seed(0)
    model_a = build_model("linear", n_out=2)
    model_b = build_model("linear", n_out=2)
    model_b.load_state_dict(model_a.state_dict())
    learn = Learner(make_dls(), model_a, F.cross_entropy, SGD, default_callbacks=False)
    learn.fit(2, 0.5)
    dls, opt = make_dls(), SGD(model_b.parameters(), 0.5)
    for _ in range(2):
        for xb, yb in dls.train:
            F.cross_entropy(model_b(xb), yb).backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_get_preds_in_order_even_from_a_shuffled_loader():
    learn, _ = quiet_learner()
    probs, targets = learn.get_preds(learn.dls.train)
    assert torch.equal(targets, learn.dls.train.y)
    torch.testing.assert_close(probs.sum(1), torch.ones(len(probs)))
    classes, p = learn.predict(learn.dls.valid.x[0])
    assert classes.shape == (1,) and p.shape == (1, 10)


def test_fine_tune_freezes_then_unfreezes():
    model = build_model("mlp", n_out=2)
    seen = []

    class Watch(cbs.Callback):
        def before_fit(self, learn):
            seen.append(learn.model[2].weight.requires_grad)

    learn, _ = quiet_learner(model, callbacks=[Watch()])
    learn.fit_one_cycle(1, 0.1, callbacks=[])
    before_frozen = model[2].weight.detach().clone()
    last_before = model[4].weight.detach().clone()
    learn.freeze()
    learn.fit(1, 0.1)
    assert seen == [True, False]
    assert torch.equal(before_frozen, model[2].weight)  # the first layer stood still
    assert not torch.equal(last_before, model[4].weight)  # the last one learnt
    learn.unfreeze()
    learn.fine_tune(1, 0.1)
    assert seen[-2:] == [False, True]
    assert not torch.equal(before_frozen, model[2].weight)


def test_lr_find_restores_everything():
    learn, _ = quiet_learner()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    result = learn.lr_find(max_iter=20)
    assert 1e-7 <= result.suggestion <= 10 and len(result.lrs) == len(result.losses) > 2
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    assert learn.opt is None and result.plot()[:4] == b"\x89PNG"


def test_early_stopping_restores_the_best_weights():
    class Worsen(cbs.Callback):  # pretend validation gets worse after the first epoch
        order = -1

        def after_epoch(self, learn):
            learn.epoch_row["valid_loss"] = float(learn.epoch)

    stopper = cbs.EarlyStopping(patience=2)
    learn, _ = quiet_learner(callbacks=[Worsen(), stopper])
    snapshots = []

    class Snap(cbs.Callback):
        order = 50

        def after_epoch(self, learn):
            snapshots.append(learn.model[2].weight.detach().clone())

    learn.fit(10, 0.1, callbacks=[Snap()])
    assert learn.epoch == 2 and stopper.best_epoch == 0  # stopped after 2 epochs without progress
    assert torch.equal(learn.model[2].weight, snapshots[0])


def test_nan_guard_stops_with_a_message():
    learn, _ = quiet_learner()
    learn.dls.train.x[0, 0, 0, 0] = float("nan")
    with pytest.raises(DigitlabError, match="training diverged: loss is nan"):
        learn.fit(1, 0.1)


def test_csv_logger(tmp_path):
    learn, _ = quiet_learner(callbacks=[cbs.CSVLogger(tmp_path / "history.csv")])
    learn.fit(2, 0.1)
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,valid_loss,accuracy,time" and len(lines) == 3


def test_binary_output_with_the_lesson_loss():
    from digitlab.train.losses import mnist_loss

    learn = Learner(
        make_dls(), build_model("linear", n_out=1), mnist_loss, metrics=[Accuracy()], default_callbacks=False
    )
    learn.fit(3, 1.0)
    probs, _ = learn.get_preds()
    assert probs.shape[1] == 1 and 0 <= probs.min() and probs.max() <= 1
    assert learn.epoch_row["accuracy"] > 0.95


def test_one_batch():
    learn, _ = quiet_learner()
    xb, yb = learn.one_batch()
    assert xb.shape == (32, 1, 28, 28) and yb.shape == (32,)


def test_model_is_switched_to_eval_for_validation():
    modes = []

    class Mode(cbs.Callback):
        def after_pred(self, learn):
            modes.append((learn.training, learn.model.training))

    learn, _ = quiet_learner(
        nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(784, 2)), callbacks=[Mode()]
    )
    learn.fit(1, 0.1)
    assert all(t == m for t, m in modes) and {t for t, _ in modes} == {True, False}
