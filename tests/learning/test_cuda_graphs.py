"""Training steps replayed from CUDA graphs, checked on a CPU: there a replay runs the recorded step's
Python again, so everything around the recording (the batch, augmentation numbers and learning rate
copied in, the warm-up undone, the Learner's events) is checked against the plain training step.
The recording itself runs on a GPU only (BENCHMARKS.md, "GPU: the presets against issue #15's targets")."""

import dataclasses

import pytest
import torch

from digitlab.data.augment import RandomAffine
from digitlab.errors import DigitlabError
from digitlab.learning.callbacks import Callback
from digitlab.learning.optim import SGD
from digitlab.run import settings as config_module
from digitlab.run.learner_parts import augmentation, build_learner, build_model_for, load_splits
from digitlab.run.recipe import fit_to_data
from digitlab.run.settings import TrainConfig

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels


class CountEvents(Callback):
    def __init__(self):
        self.seen = []

    def after_step(self, learn):
        self.seen.append((learn.iter, learn.loss.item(), learn.preds.shape[0]))


def _learner(data: str, graphs: bool, batch_size: int = 100, preset: str = "fast"):
    config = TrainConfig(  # 10% held out, as in every preset but fast: 1,080 images to train on
        data=data, preset=preset, seed=3, device="cpu", epochs=1, batch_size=batch_size, valid_fraction=0.1
    )
    config = dataclasses.replace(config.resolve(), cuda_graphs=graphs)  # on a CPU: the stand-in
    torch.manual_seed(config.seed)
    splits = load_splits(config)
    config = fit_to_data(config, splits)[0]  # the recipe the data choose: the digits'
    model = build_model_for(config, splits)
    return build_learner(model, splits, config, quiet=True, augment=augmentation(config)), config


@pytest.mark.parametrize("preset", ["fast", "default"])  # default has dropout: the same masks too
def test_replayed_steps_train_as_the_plain_steps_do(tiny_mnist_dir, preset):
    """The same batches, warps, dropout masks and learning rates: the warm-up before recording leaves
    no trace, not even in the random generators.

    Checked as facts that do not depend on rounding (the same sizes, rates and random draws), plus
    the first step's loss, which sees identical numbers. Later losses are not compared: the recorded
    step takes its learning rate as a tensor (p - lr*g rounds once more than p + (-lr)*g), and over
    11 steps of a barely trained net such last-bit differences grow by more than any fixed bound
    (0.014 apart with AVX-512 kernels, 0.005 with AVX2).
    """
    runs = {}
    for graphs in (False, True):
        learn, config = _learner(str(tiny_mnist_dir), graphs, preset=preset)
        events = CountEvents()
        learn.fit_one_cycle(config.epochs, config.lr, [events])
        augment = learn.train_step.augment if graphs else learn.dls.train.transform
        generators = (
            torch.get_rng_state(),
            learn.dls.train.generator.get_state(),
            augment.generator.get_state(),
        )
        runs[graphs] = learn, events.seen, generators
    (plain, plain_steps, plain_rng), (graphed, graphed_steps, graphed_rng) = runs[False], runs[True]
    assert type(plain.train_step).__name__ == "EagerStep" and graphed.dls.train.transform is None
    assert sorted(graphed.train_step.graphs) == [80, 100]  # 1,080 images: 10 full batches and one of 80
    assert graphed.train_step.seconds > 0
    assert [(i, n) for i, _, n in plain_steps] == [(j, m) for j, _, m in graphed_steps]
    assert len(graphed_steps) == 11  # every event of every training batch
    assert all(torch.equal(a, b) for a, b in zip(plain_rng, graphed_rng, strict=True))  # the same draws
    assert plain.recorder.lrs == graphed.recorder.lrs  # the same schedule, read at the same steps
    # the first step: identical weights, batch, warp and mask; float32 rounding of one pass at most
    assert graphed_steps[0][1] == pytest.approx(plain_steps[0][1], rel=1e-5)
    batch_losses = [float(x) for x in graphed.recorder.batch_losses]  # copies, not the graph's one output
    assert len(set(batch_losses)) == len(batch_losses) == 11


def test_recording_puts_back_everything_its_warm_up_moved(tiny_mnist_dir):
    """Weights, BatchNorm statistics, momentum and the random generators, exactly, mid-run too."""
    learn, _ = _learner(str(tiny_mnist_dir), True, preset="default")  # with dropout
    learn.fit(1, 0.05)  # momentum is not zero any more
    x, y = learn.dls.train.tensors
    learn.xb, learn.yb = x[:64], y[:64]
    model, opt = learn.model.train(), learn.opt
    before = [t.clone() for t in [*model.state_dict().values(), *opt.state_dict().values()]]
    rng, augment_rng = torch.get_rng_state(), learn.train_step.augment.generator.get_state()
    learn.train_step._record(learn, 64)
    after = [*model.state_dict().values(), *opt.state_dict().values()]
    assert len(before) == len(after) and all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert torch.equal(torch.get_rng_state(), rng)  # no dropout mask was drawn
    assert torch.equal(learn.train_step.augment.generator.get_state(), augment_rng)
    assert any(v.abs().sum() > 0 for v in opt.state_dict().values())


def test_a_new_optimizer_is_recorded_again(tiny_mnist_dir):
    learn, _ = _learner(str(tiny_mnist_dir), True, batch_size=540)  # 2 batches of 540
    learn.fit(1, 0.05)
    first = learn.train_step.graphs[540]
    learn.fit(1, 0.05)  # the same optimizer: the same recording
    assert learn.train_step.graphs[540] is first
    learn.unfreeze()  # a fresh optimizer, with buffers of its own
    learn.fit(1, 0.05)
    assert learn.train_step.graphs[540] is not first and learn.train_step.opt is learn.opt


def test_the_learning_rate_can_be_a_tensor_read_when_the_step_runs():
    torch.manual_seed(0)
    start = [torch.randn(20, 10), torch.randn(10)]
    a, b = ([p.clone().requires_grad_() for p in start] for _ in range(2))
    opt_a, opt_b = (SGD(ps, 0.1, momentum=0.9, nesterov=True, weight_decay=5e-4) for ps in (a, b))
    lr = torch.tensor(0.0)
    for step in range(10):
        grads = [torch.randn_like(p) for p in start]
        for params in (a, b):
            for p, g in zip(params, grads, strict=True):
                p.grad = g.clone()
        opt_a.lr = 0.01 * (step + 1)
        lr.fill_(opt_a.lr)  # as a replay refills the recorded step's tensor
        opt_a.step()
        opt_b.step(lr=lr)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a, b, strict=True))
    assert not torch.equal(a[0], start[0])


def test_an_augmentation_is_its_drawn_numbers_then_its_warp():
    x = torch.rand(8, 1, 28, 28)
    whole, parts = RandomAffine(stroke=1.0, seed=5), RandomAffine(stroke=1.0, seed=5)
    assert torch.equal(whole(x), parts.warp(x, parts.draw(8)))
    assert torch.equal(whole(x), parts.warp(x, parts.draw(8)))  # and the generators stay in step


def test_cuda_graphs_are_the_default_on_a_gpu_in_one_process_without_compile(monkeypatch, tiny_mnist_dir):
    data = str(tiny_mnist_dir)
    assert TrainConfig(data=data).resolve().cuda_graphs is False  # this CPU
    with pytest.raises(DigitlabError, match="cuda_graphs needs a CUDA GPU, and the device is 'cpu'"):
        TrainConfig(data=data, cuda_graphs=True).resolve()
    monkeypatch.setattr(config_module, "pick_device", lambda name: "cuda")  # as on a machine with a GPU
    assert TrainConfig(data=data).resolve().cuda_graphs is True
    assert TrainConfig(data=data, cuda_graphs=False).resolve().cuda_graphs is False
    assert TrainConfig(data=data, compile=True).resolve().cuda_graphs is False
    assert TrainConfig(data=data, nproc=2).resolve().cuda_graphs is False
    assert TrainConfig(data=data, model="baseline").resolve().cuda_graphs is False
    with pytest.raises(DigitlabError, match="in one process without compile"):
        TrainConfig(data=data, cuda_graphs=True, compile=True).resolve()
