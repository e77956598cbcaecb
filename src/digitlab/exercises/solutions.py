"""digitlab's own answers to the exercises: the lesson's code, each piece a function of its inputs.

The lesson's cells read globals (`weights`, `dl`, `mean1`); here each piece takes what it needs as
arguments, so it can be run on generated cases and compared with the learner's. Each docstring is
the exercise's task as the learner's stub states it. Where the library has the piece (`mnist_loss`,
`softmax`, `cross_entropy` in digitlab.learning.losses), the reference is that function.
"""

import torch

from digitlab.learning.losses import cross_entropy, mnist_loss, softmax

__all__ = [
    "mnist_distance", "is_one", "init_params", "linear1", "mnist_loss", "calc_grad", "train_epoch",
    "batch_accuracy", "validate_epoch", "BasicOptim", "simple_net", "softmax", "cross_entropy", "fit",
]  # fmt: skip


def mnist_distance(a, b):
    """The mean absolute difference (L1) between images `a` (N,28,28) and `b` (28,28): one per image."""
    return (a - b).abs().mean((-1, -2))  # broadcasting: b is compared with every image of a


def is_one(x, mean1, mean0):
    """The baseline: True for each image of `x` (N,28,28) nearer to `mean1` than to `mean0` (by
    mnist_distance)."""
    return mnist_distance(x, mean1) < mnist_distance(x, mean0)


def init_params(size, std=1.0):
    """Random numbers from a normal distribution times `std`, of shape `size`, tracked by autograd."""
    return (torch.randn(size) * std).requires_grad_()


def linear1(xb, weights, bias):
    """One score per image: the images `xb` (B,784) times `weights` (784,1), plus `bias` (1,)."""
    return xb @ weights + bias


def calc_grad(xb, yb, model):
    """Predict `xb` with `model`, compute mnist_loss against `yb`, and fill in every parameter's gradient."""
    loss = mnist_loss(model(xb), yb)
    loss.backward()


def train_epoch(model, lr, params, dl):
    """One epoch: for each batch of `dl`, calc_grad, then move each of `params` by `lr` against its
    gradient and reset the gradient for the next batch."""
    for xb, yb in dl:
        calc_grad(xb, yb, model)
        for p in params:
            p.data -= p.grad * lr
            p.grad.zero_()


def batch_accuracy(xb, yb):
    """The share of images whose raw score in `xb` (B,1), through the sigmoid, is above 0.5 exactly
    where `yb` (B,1) is 1: the accuracy of one batch, as a 0-dim tensor."""
    preds = xb.sigmoid()
    correct = (preds > 0.5) == yb
    return correct.float().mean()


def validate_epoch(model, valid_dl):
    """batch_accuracy of `model` averaged over the batches of `valid_dl`, as a float rounded to 4 places."""
    accs = [batch_accuracy(model(xb), yb) for xb, yb in valid_dl]
    return round(torch.stack(accs).mean().item(), 4)


class BasicOptim:
    """An optimizer: `step()` moves each parameter by `lr` against its gradient (without autograd
    recording it); `zero_grad()` clears every gradient for the next batch."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def step(self):
        with torch.no_grad():  # the update is not part of the model: autograd must not record it
            for p in self.params:
                p -= p.grad * self.lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def simple_net(xb, w1, b1, w2, b2):
    """Two linear layers, (B,784) -> (B,30) -> (B,1), with a ReLU (negatives to 0) between them."""
    res = xb @ w1 + b1
    res = res.max(torch.tensor(0.0))
    return res @ w2 + b2


def fit(model, dl, loss_func, opt, epochs):
    """Train `model` for `epochs` passes over `dl`: predict, loss, backward, opt.step(), opt.zero_grad()."""
    for _ in range(epochs):
        for xb, yb in dl:
            loss = loss_func(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
