"""Typical wrong answers to the exercises, as learners write them: each must get its own explanation.

WRONG maps a kind of mistake to (the exercise, the wrong function, words its verdict must hold).
"""

import torch

from digitlab.exercises import mistakes, solutions


def distance_over_everything(a, b):
    return (a - b).abs().mean()  # one number for all the images: shape () instead of (N,)


def distance_over_fixed_axes(a, b):
    return (a - b).abs().mean(dim=(1, 2))  # a single (28,28) image has no axis 2: IndexError


def distance_in_place(a, b):
    a -= b  # changes the caller's images
    return a.abs().mean((-1, -2))


def distance_squared(a, b):
    return ((a - b) ** 2).mean((-1, -2))  # L2 squared, not L1: other values


def is_one_as_floats(x, mean1, mean0):
    return (solutions.mnist_distance(x, mean1) < solutions.mnist_distance(x, mean0)).float()


def is_one_reversed(x, mean1, mean0):
    return solutions.mnist_distance(x, mean1) > solutions.mnist_distance(x, mean0)


def init_params_untracked(size, std=1.0):
    return torch.randn(size) * std


def linear1_detached(xb, weights, bias):
    return xb @ weights.data + bias  # the right numbers, but no gradient reaches the weights


def validate_epoch_tensor(model, valid_dl):
    return torch.stack([solutions.batch_accuracy(model(xb), yb) for xb, yb in valid_dl]).mean()


class OptimWithoutNoGrad(solutions.BasicOptim):
    def step(self):
        for p in self.params:
            p -= p.grad * self.lr  # autograd refuses an in-place change of a leaf it tracks


class OptimThatKeepsGradients(solutions.BasicOptim):
    def zero_grad(self):
        pass


def simple_net_as_in_the_notes(xb, w1, b1, w2, b2):
    res = xb @ w1 + b1
    res = res.max(torch.tensor(0.0))
    return xb @ w2 + b2  # the notes' bug: the pixels, not res, into the second layer


def softmax_with_a_detached_sum(logits):
    e = logits.exp()
    return e / e.sum(1, keepdim=True).detach()  # the right probabilities, but half their gradient is lost


def not_written_yet(logits):
    raise NotImplementedError


def train_epoch_on_a_global_loader(model, lr, params):  # the lesson's own signature: `dl` is a global there
    for xb, yb in dl:  # noqa: F821
        solutions.calc_grad(xb, yb, model)


WRONG = {
    "not written": ("softmax", not_written_yet, "is not written yet"),
    "shape": ("mnist_distance", distance_over_everything, "result has shape () where the reference"),
    "exception": ("mnist_distance", distance_over_fixed_axes, "raised IndexError: Dimension out of range"),
    "in place": ("mnist_distance", distance_in_place, "changes its input `a` in place"),
    "value": ("mnist_distance", distance_squared, "result[0] is "),
    "dtype": ("is_one", is_one_as_floats, "has dtype torch.float32 where the reference's has torch.bool"),
    "value at an input": ("is_one", is_one_reversed, "result[0] is "),
    "autograd": ("init_params", init_params_untracked, "not tracked by autograd"),
    "gradient": ("linear1", linear1_detached, "weights.grad is None: no gradient reached it"),
    "gradient values": ("softmax", softmax_with_a_detached_sum, "(the gradient) is "),
    "type": ("validate_epoch", validate_epoch_tensor, "result is a Tensor"),
    "no_grad": ("BasicOptim", OptimWithoutNoGrad, "under `with torch.no_grad():`"),
    "zero_grad": ("BasicOptim", OptimThatKeepsGradients, "w.grad after zero_grad() still holds the gradient"),
    "layer shapes": ("simple_net", simple_net_as_in_the_notes, "shapes cannot be multiplied"),
    "missing sigmoid in the loss": ("mnist_loss", mistakes.loss_without_sigmoid, "a missing sigmoid"),
    "missing sigmoid in accuracy": ("batch_accuracy", mistakes.accuracy_without_sigmoid, "a missing sigmoid"),
    "missing backward": ("calc_grad", mistakes.calc_grad_without_backward, "never calls loss.backward()"),
    "missing zero_": ("train_epoch", mistakes.train_epoch_without_zero, "a missing p.grad.zero_()"),
    "uphill": ("train_epoch", mistakes.train_epoch_uphill, "goes up the gradient"),
    "missing ReLU": ("simple_net", mistakes.net_without_relu, "a missing ReLU"),
    "softmax by column": ("softmax", mistakes.softmax_by_column, "each column sums to 1"),
    "missing log": ("cross_entropy", mistakes.cross_entropy_without_log, "a missing .log()"),
    "fit without backward": ("fit", mistakes.fit_without_backward, "a missing loss.backward()"),
    "fit without zero_grad": ("fit", mistakes.fit_without_zero_grad, "a missing opt.zero_grad()"),
    "signature": ("train_epoch", train_epoch_on_a_global_loader, "is train_epoch(model, lr, params, dl)"),
}  # fmt: skip
