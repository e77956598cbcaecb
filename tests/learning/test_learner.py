import io
import math

import pytest
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn

from digitlab.data import DataLoader, DataLoaders
from digitlab.data.augment import RandomAffine, max_filter3, restroke
from digitlab.errors import TrainingDiverged
from digitlab.learning import callbacks as cbs
from digitlab.learning.callbacks import EVENTS
from digitlab.learning.guards import EarlyStopping
from digitlab.learning.learner import Learner
from digitlab.learning.metrics import Metric, accuracy
from digitlab.learning.optim import SGD
from digitlab.learning.schedules import one_cycle
from digitlab.models import build_model
from tests.helpers import TEST_SEED

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels


def make_dls(n=256, bs=32, seed=TEST_SEED):
    """Two easy classes: bright top half vs bright bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.3
    x[y == 0, :, :14] += 0.7
    x[y == 1, :, 14:] += 0.7
    cut = n * 3 // 4
    return DataLoaders(
        DataLoader((x[:cut], y[:cut]), bs, shuffle=True, seed=seed), DataLoader((x[cut:], y[cut:]), bs)
    )


def quiet_learner(model=None, cbs=(), **kwargs):
    """A Learner whose epoch table goes to a string."""
    learn = Learner(
        make_dls(), model or build_model("linear"), F.cross_entropy, metrics=accuracy, cbs=cbs, **kwargs
    )
    learn.progress.console = Console(file=io.StringIO(), width=120)
    return learn, learn.progress.console


class RecordEvents(cbs.Callback):
    def __init__(self):
        self.events = []

    def __getattr__(self, name):
        if name in EVENTS:
            return lambda learn: self.events.append(name)
        raise AttributeError(name)


def test_event_order():
    rec = RecordEvents()
    learn = Learner(make_dls(n=8, bs=8), build_model("linear"), F.cross_entropy, cbs=[rec], quiet=True)
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


def test_the_callbacks_that_run_follow_the_list_between_fits():
    """Each event's handlers are looked up once per list of callbacks, not at every batch: a change
    to the list, through add_cbs, a fit's own callbacks or a plain list edit, still counts."""
    once, kept = RecordEvents(), RecordEvents()
    learn = Learner(make_dls(n=8, bs=8), build_model("linear"), F.cross_entropy, quiet=True)
    learn.fit(1, 0.1, cbs=[once])  # for this call only
    learn.add_cbs([kept])
    learn.fit(1, 0.1)
    assert once.events.count("before_fit") == 1 and kept.events.count("before_fit") == 1
    learn.cbs.remove(kept)
    learn.fit(1, 0.1)
    assert kept.events.count("before_fit") == 1


def test_misspelt_event_is_refused():
    class Typo(cbs.Callback):
        def before_epoc(self, learn):
            pass

    with pytest.raises(ValueError, match="before_epoc is not an event"):
        Learner(make_dls(), build_model("linear"), F.cross_entropy, cbs=[Typo()])


def test_callback_errors_name_the_callback_and_event():
    class Broken(cbs.Callback):
        def after_loss(self, learn):
            raise RuntimeError("boom")

    learn, _ = quiet_learner(cbs=[Broken()])
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
    model_a = build_model("linear", n_out=2)
    model_b = build_model("linear", n_out=2)
    model_b.load_state_dict(model_a.state_dict())
    learn = Learner(make_dls(), model_a, F.cross_entropy, opt_func=SGD, quiet=True)
    learn.fit(2, 0.5)
    dls, opt = make_dls(), SGD(model_b.parameters(), 0.5)
    for _ in range(2):
        for xb, yb in dls.train:
            F.cross_entropy(model_b(xb), yb).backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_bf16_autocast_the_gpu_path_runs_on_a_cpu_too():
    """Every CUDA run trains under bf16 autocast: low-precision activations, float32 weights and loss."""

    class Dtypes(cbs.Callback):
        def __init__(self):
            self.preds, self.losses = set(), set()

        def after_loss(self, learn):
            self.preds.add(learn.preds.dtype)
            self.losses.add(learn.loss.dtype)

    seen = Dtypes()
    model = build_model("cnn", channels=(4, 8, 8), dropout=0.0)
    learn, _ = quiet_learner(model, cbs=[seen], autocast=True)
    learn.fit(4, 0.1)  # float32 gets there in 2 epochs, bf16 in 3
    assert seen.preds == {torch.bfloat16} and seen.losses == {torch.float32}
    assert all(p.dtype == torch.float32 for p in learn.model.parameters())
    assert learn.recorder.history()["accuracy"][-1] > 0.9
    probs, _ = learn.get_preds()
    assert probs.dtype == torch.float32  # predictions outside training are full precision


def test_get_preds_in_order_even_from_a_shuffled_loader():
    learn, _ = quiet_learner()
    scores, targets = learn.get_preds(learn.dls.train)
    assert torch.equal(targets, learn.dls.train.tensors[1])
    learn.model.eval()
    torch.testing.assert_close(scores, learn.model(learn.dls.train.tensors[0]).detach())
    order = learn.dls.train.generator.get_state()
    decoded, index, p = learn.predict(learn.dls.valid.tensors[0][0])
    assert decoded == int(index) == int(p.argmax()) and p.shape == (10,)
    assert torch.equal(order, learn.dls.train.generator.get_state())  # predicting draws no batch


def test_get_preds_gives_what_fastai_gives():
    """Raw outputs for a plain loss (nn.CrossEntropyLoss has no `activation`), the loss's own
    activation when it has one, `act` above both, and each sample's loss with `with_loss`."""
    learn, _ = quiet_learner()
    learn.loss_func = nn.CrossEntropyLoss()
    x, y = learn.dls.valid.tensors
    learn.model.eval()
    raw = learn.model(x).detach()
    scores, targets = learn.get_preds()
    torch.testing.assert_close(scores, raw)
    assert not torch.allclose(scores.sum(1), torch.ones(len(scores)))  # scores, not probabilities
    probs, _ = learn.get_preds(act=lambda t: t.softmax(1))
    torch.testing.assert_close(probs.sum(1), torch.ones(len(probs)))
    _, _, losses = learn.get_preds(with_loss=True)
    torch.testing.assert_close(losses, F.cross_entropy(raw, y, reduction="none"))
    assert learn.loss_func.reduction == "mean"  # the learner's own loss is left as it was

    class SoftmaxLoss(nn.CrossEntropyLoss):  # as fastai's CrossEntropyLossFlat: it has an activation
        def activation(self, outputs):
            return outputs.softmax(1)

    learn.loss_func = SoftmaxLoss()
    torch.testing.assert_close(learn.get_preds()[0], raw.softmax(1))

    def per_batch_loss(outputs, targets):  # a plain function: its losses come one sample at a time
        return F.cross_entropy(outputs, targets)

    learn.loss_func = per_batch_loss
    torch.testing.assert_close(learn.get_preds(with_loss=True)[2], F.cross_entropy(raw, y, reduction="none"))


def test_fine_tune_trains_a_one_group_model_whole_as_fastai_does():
    """fastai's default splitter puts every parameter in one group and `freeze` leaves the last
    group trainable: the 'frozen' epoch of a plain nn.Sequential trains every layer."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.ReLU(), nn.Linear(8, 10))
    seen = []

    class Watch(cbs.Callback):
        def before_fit(self, learn):
            seen.append((learn.model[1].weight.requires_grad, learn.opt.lr))

    learn, _ = quiet_learner(model, cbs=[Watch()])
    first = model[1].weight.detach().clone()
    learn.fine_tune(1, 0.1)
    assert seen == [(True, 0.1), (True, 0.05)]  # both phases train the first layer; then half the rate
    assert not torch.equal(first, model[1].weight)


def test_fine_tune_freezes_every_group_but_the_last_with_a_splitter():
    model = build_model("mlp", n_out=2)
    seen = []

    class Watch(cbs.Callback):
        def before_fit(self, learn):
            seen.append(learn.model.first_layer.weight.requires_grad)

    def body_and_head(m):
        return [[*m.first_layer.parameters()], [*m.last_layer.parameters()]]

    learn, _ = quiet_learner(model, cbs=[Watch()])
    learn.splitter = body_and_head
    learn.fit_one_cycle(1, 0.1)
    before_frozen = model.first_layer.weight.detach().clone()
    last_before = model.last_layer.weight.detach().clone()
    learn.freeze()
    learn.fit(1, 0.1)
    assert seen == [True, False]
    assert torch.equal(before_frozen, model.first_layer.weight)  # the first layer stood still
    assert not torch.equal(last_before, model.last_layer.weight)  # the last one learnt
    learn.unfreeze()
    learn.fine_tune(1, 0.1)
    assert seen[-2:] == [False, True]
    assert not torch.equal(before_frozen, model.first_layer.weight)


def test_lr_find_restores_everything():
    learn, _ = quiet_learner()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    result = learn.lr_find(num_it=20, show_plot=False)
    assert 1e-7 <= result.valley <= 10 and len(learn.recorder.lrs) == len(learn.recorder.losses) > 2
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    assert learn.opt is None and not learn.progress.quiet


def test_early_stopping_restores_the_best_weights():
    class Worsen(cbs.Callback):  # pretend validation gets worse after the first epoch
        order = -1

        def after_epoch(self, learn):
            learn.epoch_row["valid_loss"] = float(learn.epoch)

    stopper = EarlyStopping(patience=2)
    learn, _ = quiet_learner(cbs=[Worsen(), stopper])
    snapshots = []

    class Snap(cbs.Callback):
        order = 50

        def after_epoch(self, learn):
            snapshots.append(learn.model.first_layer.weight.detach().clone())

    learn.fit(10, 0.1, cbs=[Snap()])
    assert learn.epoch == 2 and stopper.best_epoch == 0  # stopped after 2 epochs without progress
    assert torch.equal(learn.model.first_layer.weight, snapshots[0])


def test_nan_guard_stops_with_a_message():
    learn, _ = quiet_learner()
    learn.dls.train.tensors[0][0, 0, 0, 0] = float("nan")
    with pytest.raises(TrainingDiverged, match="training diverged: loss is nan"):
        learn.fit(1, 0.1)


def test_nan_guard_names_the_batch_and_stops_one_batch_later():
    learn, _ = quiet_learner()
    learn.dls.train.tensors[0][:, 0, 0, 0] = float("nan")  # every image: the first batch diverges
    with pytest.raises(TrainingDiverged, match="at epoch 0, batch 0 "):
        learn.fit(1, 0.1)
    assert (learn.epoch, learn.iter, learn.training) == (0, 1, True)  # read while batch 1 ran


def test_csv_logger(tmp_path):
    learn, _ = quiet_learner(cbs=[cbs.CSVLogger(tmp_path / "history.csv")])
    learn.fit(2, 0.1)
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,valid_loss,accuracy,time" and len(lines) == 3


def test_binary_output_with_the_lesson_loss():
    from digitlab.learning.losses import mnist_loss

    learn = Learner(make_dls(), build_model("linear", n_out=1), mnist_loss, metrics=[accuracy], quiet=True)
    learn.fit(3, 1.0)
    scores, _ = learn.get_preds()  # mnist_loss is a plain function: raw scores, as in fastai
    probs = learn.get_preds(act=torch.sigmoid)[0]
    assert scores.shape[1] == 1 and (scores < 0).any() and 0 <= probs.min() and probs.max() <= 1
    assert learn.epoch_row["accuracy"] > 0.95


def test_one_batch():
    learn, _ = quiet_learner()
    xb, yb = learn.dls.one_batch()
    assert xb.shape == (32, 1, 28, 28) and yb.shape == (32,)


def test_model_is_switched_to_eval_for_validation():
    modes = []

    class Mode(cbs.Callback):
        def after_pred(self, learn):
            modes.append((learn.training, learn.model.training))

    learn, _ = quiet_learner(nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(784, 2)), cbs=[Mode()])
    learn.fit(1, 0.1)
    assert all(t == m for t, m in modes) and {t for t, _ in modes} == {True, False}


def test_the_notes_learner_call_with_a_plain_function_metric_and_flat_inputs():
    def batch_accuracy(xb, yb):  # the notes' own metric, written as they wrote it
        preds = xb.sigmoid()
        correct = (preds > 0.5) == yb
        return correct.float().mean()

    images = make_dls()

    def flat_pairs(dl):  # the notes' dataset: a list of (784-vector, [label]) pairs
        x, y = dl.tensors
        return list(zip(x.reshape(len(x), -1), y.unsqueeze(1).float(), strict=True))

    dset, valid_dset = flat_pairs(images.train), flat_pairs(images.valid)
    dls = DataLoaders(DataLoader(dset, batch_size=16, shuffle=True), DataLoader(valid_dset, batch_size=16))
    from digitlab.learning.losses import mnist_loss

    learn = Learner(dls, nn.Linear(28 * 28, 1), opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
    learn.progress.quiet = True
    learn.fit(3, lr=1.0)
    assert list(learn.recorder.rows[0]) == ["epoch", "train_loss", "valid_loss", "batch_accuracy", "time"]
    assert len(learn.recorder.values) == 3 and len(learn.recorder.values[0]) == 3
    assert learn.recorder.values[-1][2] == learn.recorder.rows[-1]["batch_accuracy"] > 0.9


def test_metrics_are_weighted_by_batch_size():
    metric = Metric(lambda preds, targets: preds.float().mean())
    metric.update(torch.ones(3), torch.zeros(3))  # a batch of 3 with value 1
    metric.update(torch.zeros(1), torch.zeros(1))  # a batch of 1 with value 0
    assert metric.compute() == pytest.approx(0.75)  # not (1 + 0) / 2
    metric.reset()
    assert math.isnan(metric.compute())


def test_cancel_batch_skips_the_step_but_not_the_rest():
    class SkipOddBatches(cbs.Callback):
        def after_loss(self, learn):
            if learn.training and learn.iter % 2:
                raise cbs.CancelBatchException()

    class CountSteps(cbs.Callback):
        steps = cancelled = 0

        def after_step(self, learn):
            self.steps += 1

        def after_cancel_batch(self, learn):
            self.cancelled += 1

    counter = CountSteps()
    learn, _ = quiet_learner(cbs=[SkipOddBatches(), counter])
    learn.fit(1, 0.1)
    n = len(learn.dls.train)
    assert counter.steps == math.ceil(n / 2) and counter.cancelled == n // 2
    assert len(learn.recorder.rows) == 1  # the epoch still finished and was recorded


def test_one_cycle_schedule():
    lr_max = 0.4
    assert one_cycle(lr_max, 0.0) == pytest.approx(lr_max / 25)
    assert one_cycle(lr_max, 0.25) == pytest.approx(lr_max)
    assert one_cycle(lr_max, 1.0) == pytest.approx(lr_max / 1e5)
    lrs = [one_cycle(lr_max, i / 100) for i in range(101)]
    peak = lrs.index(max(lrs))
    assert all(a <= b for a, b in zip(lrs[:peak], lrs[1 : peak + 1], strict=True))  # warm-up rises
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :], strict=False))  # then it anneals


def test_one_cycle_callback_drives_the_optimizer():
    learn, _ = quiet_learner()
    learn.fit_one_cycle(2, 0.3)
    lrs = learn.recorder.lrs
    assert len(lrs) == 2 * len(learn.dls.train) and max(lrs) == pytest.approx(0.3, rel=0.05)
    assert lrs[0] < 0.3 / 10 and lrs[-1] < 0.3 / 10


def test_random_affine_keeps_shape_and_ink_and_is_seeded():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0
    a, b = RandomAffine(seed=1)(x), RandomAffine(seed=1)(x)
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, RandomAffine(seed=2)(x))
    assert not torch.equal(a[0], a[1])  # one warp per image
    ink = a.sum((1, 2, 3)) / x.sum((1, 2, 3))
    assert ((ink > 0.7) & (ink < 1.4)).all()  # a small warp: the digit stays about as big
    assert torch.equal(RandomAffine(degrees=0, shift=0, zoom=0)(x), x)


def test_random_affine_shifts_by_a_fraction_of_the_image_size():
    x = torch.zeros(1, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0
    moved = RandomAffine(degrees=0, shift=2 / 28, zoom=0).warp(x, torch.tensor([[0.0, 0, 1, -1, 0, 0]]))
    assert torch.allclose(moved, torch.roll(x, (2, -2), (2, 3)), atol=1e-5)  # 2 pixels up and to the left


def test_max_filter_equals_max_pool_and_restroke_thickens_and_thins():
    x = torch.rand(6, 1, 28, 28) * (torch.rand(6, 1, 28, 28) > 0.7)
    assert torch.equal(max_filter3(x), F.max_pool2d(x, 3, stride=1, padding=1))
    digit = torch.zeros(3, 1, 28, 28)
    digit[:, :, 8:20, 12:15] = 1.0  # a 3-pixel-wide stroke
    out = restroke(digit, torch.tensor([1.0, -1.0, 0.0]))
    assert out[0].sum() == 14 * 5 and out[1].sum() == 10 * 1  # one pixel more / less on each side
    assert torch.equal(out[2], digit[2])
    half = restroke(digit, torch.tensor([0.5, -0.5, 0.0]))
    assert torch.allclose(half[:2], (digit[:2] + out[:2]) / 2)
    # one filter pass for the batch gives each image its own dilation or erosion (border as black)
    amount = torch.tensor([0.7, -0.4, 0.0, -1.0, 1.0, 0.2]).view(-1, 1, 1, 1)
    wide, thin = F.max_pool2d(x, 3, 1, 1), -F.max_pool2d(F.pad(-x, (1, 1, 1, 1)), 3, 1)
    assert torch.equal(
        restroke(x, amount.flatten()), x + amount.abs() * (torch.where(amount > 0, wide, thin) - x)
    )


def test_stroke_augmentation_changes_ink_of_about_half_the_images():
    x = torch.zeros(400, 1, 28, 28)
    x[:, :, 8:20, 12:15] = 1.0
    plain = RandomAffine(degrees=0, shift=0, zoom=0, seed=3)(x)
    stroked = RandomAffine(degrees=0, shift=0, zoom=0, stroke=1.0, seed=3)(x)
    assert torch.allclose(plain, x, atol=1e-5)
    ink = stroked.sum((1, 2, 3)) / x.sum((1, 2, 3))
    changed = (ink - 1).abs() > 1e-3
    assert 0.4 < changed.float().mean() < 0.6
    assert (ink > 1).sum() > 2 * (ink < 1).sum()  # thicker more often than thinner
    assert ink.max() > 1.5 and 0.5 < ink.min() < 1


def test_quiet_learner_prints_nothing_and_a_loud_one_prints_the_table_once():
    learn, console = quiet_learner(quiet=True)
    learn.fit(2, 0.1)
    assert console.file.getvalue() == ""
    learn.progress.quiet = False
    learn.fit(2, 0.1)
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].split()[0] == "epoch"
    assert all(line.split()[-1].count(":") == 1 for line in lines[1:])  # times as mm:ss
