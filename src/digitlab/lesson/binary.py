"""Sections 1-5: two digits. Baseline, then a linear model and a neural net trained by hand and
with the Learner."""

import torch
from torch import nn

from digitlab.data import DataLoader, DataLoaders, Dataset
from digitlab.lesson.story import Story
from digitlab.models import MLP, Linear, PixelSimilarity
from digitlab.models.raw import RawLinear
from digitlab.report import figures
from digitlab.train.callbacks import ProgressTable, Recorder
from digitlab.train.learner import Learner
from digitlab.train.losses import l1_distance, l2_distance, mnist_loss
from digitlab.train.metrics import Accuracy, batch_accuracy
from digitlab.train.optim import SGD


def pair_data(story: Story, train: Dataset, valid: Dataset, pair: tuple[int, int]) -> DataLoaders:
    """1. Only the two digits; target 1 for the second digit of the pair, 0 for the first."""
    a, b = pair
    story.section(f"1. Data: {a} versus {b}")
    tr, va = train.subset([a, b], relabel=True), valid.subset([a, b], relabel=True)
    story.say(
        f"MNIST training images split 80/20 with seed 1337: {len(train):,} to train on, "
        f"{len(valid):,} held out for validation."
    )
    story.say(
        f"Digits {a} and {b}: {len(tr):,} training images "
        f"({int((tr.labels == 0).sum()):,} of {a}, {int((tr.labels == 1).sum()):,} of {b}), "
        f"{len(va):,} validation images. Each image is 28x28 = 784 numbers in [0, 1]."
    )
    story.figure(
        figures.image_grid(tr.images[:10], [str(pair[int(y)]) for y in tr.labels[:10]]),
        "the first training images",
    )
    return DataLoaders(
        DataLoader(tr.floats(), tr.labels, 256, shuffle=True, seed=1337),
        DataLoader(va.floats(), va.labels, 1024),
    )


def baseline(story: Story, dls: DataLoaders, pair: tuple[int, int]) -> float:
    """2. Pixel similarity: compare each image to the mean image of each digit."""
    story.section("2. Baseline: pixel similarity")
    x, y = dls.train.x, dls.train.y
    model = PixelSimilarity(2).fit(x, y)
    story.figure(figures.mean_digits(model.means, list(pair)), "the mean image of each digit")
    example = x[y == 1][0, 0]
    story.figure(figures.digit(example, f"a training {pair[1]}"), f"one training image of a {pair[1]}")
    rows = [
        {
            "distance to": f"mean {pair[c]}",
            "L1 (mean abs)": l1_distance(example, model.means[c]).item(),
            "L2 (root mean sq)": l2_distance(example, model.means[c]).item(),
        }
        for c in range(2)
    ]
    story.table(rows, f"a training {pair[1]} compared with both means")
    with torch.no_grad():
        predicted = model(dls.valid.x).argmax(1)
    per_class = [(predicted[dls.valid.y == c] == c).float().mean().item() for c in range(2)]
    overall = (predicted == dls.valid.y).float().mean().item()
    story.table(
        [{"digit": pair[c], "valid accuracy": per_class[c]} for c in range(2)]
        + [{"digit": "all", "valid accuracy": overall}],
        "baseline (L1 distance) on held-out images",
    )
    return overall


def calc_grad(xb: torch.Tensor, yb: torch.Tensor, model) -> None:
    """Loss, then gradients. The lesson's version stopped before `backward()`, so no gradient
    was ever computed; without this line nothing can learn."""
    loss = mnist_loss(model(xb), yb)
    loss.backward()


def validate(model, dl: DataLoader) -> float:
    with torch.no_grad():
        correct = sum(batch_accuracy(model(xb), yb).item() * len(yb) for xb, yb in dl)
    return correct / len(dl.x)


def linear_from_scratch(story: Story, dls: DataLoaders, epochs: int = 5, lr: float = 1.0) -> float:
    """3. The seven steps of SGD with nothing but tensors, autograd and our own pieces."""
    story.section("3. A linear model trained from scratch")
    story.say(
        "weights (784,1) and a bias drawn at random; predictions xb @ weights + bias; "
        "mnist_loss (sigmoid, then distance to the target); gradients by autograd; "
        f"our SGD with lr={lr}; our DataLoader with batches of 256."
    )
    model = RawLinear(n_out=1, generator=torch.Generator().manual_seed(42))
    opt = SGD(model.parameters(), lr)
    rows = [{"epoch": "init", "valid accuracy": validate(model, dls.valid)}]
    for epoch in range(epochs):
        for xb, yb in dls.train:
            calc_grad(xb, yb, model)
            opt.step()
            opt.zero_grad()
        rows.append({"epoch": epoch, "valid accuracy": validate(model, dls.valid)})
    story.table(rows, "validation accuracy after each epoch")
    return rows[-1]["valid accuracy"]


def learner_for(dls: DataLoaders, model: nn.Module, loss_fn, story: Story, lr: float, opt_fn=SGD) -> Learner:
    return Learner(
        dls,
        model,
        loss_fn,
        opt_fn,
        [Accuracy()],
        lr=lr,
        default_callbacks=False,
        callbacks=[Recorder(), ProgressTable(story.console)],
    )


def linear_with_learner(story: Story, dls: DataLoaders, epochs: int = 5, lr: float = 1.0) -> float:
    """4. The same model with nn.Linear and the Learner doing the loop."""
    story.section("4. The same with the Learner and nn.Linear")
    torch.manual_seed(42)
    learn = learner_for(dls, Linear(n_out=1), mnist_loss, story, lr)
    learn.fit(epochs)
    story.table(learn.recorder.rows, "epoch table")
    return learn.recorder.rows[-1]["accuracy"]


def two_layer_net(story: Story, dls: DataLoaders, epochs: int = 10, lr: float = 0.1) -> float:
    """5. Linear, ReLU, linear: a neural net, and a look at what its first layer learnt."""
    story.section("5. A two-layer neural net (with its ReLU)")
    torch.manual_seed(42)
    model = MLP(hidden=30, n_out=1)
    learn = learner_for(dls, model, mnist_loss, story, lr)
    learn.fit(epochs)
    story.table(learn.recorder.rows, "epoch table")
    story.figure(
        figures.first_layer_weights(model.first_layer.weight),
        "each of the 30 hidden units' 784 weights as a 28x28 image (red positive, blue negative)",
    )
    return learn.recorder.rows[-1]["accuracy"]
