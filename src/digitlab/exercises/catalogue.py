"""Every exercise: its reference, the cases it is run on, what is compared, and the typical mistakes
it is told apart from (each a small wrong version with its own explanation)."""

import re

import torch

from digitlab.exercises import mistakes as wrong
from digitlab.exercises import solutions as ref
from digitlab.exercises.cases import (
    Args,
    Case,
    Exercise,
    Mistake,
    batches,
    gradients_after,
    images,
    labels,
    linear_model,
    optimizer_steps,
    parameters_after,
    randn,
    returns,
    seeded,
)
from digitlab.learning.optim import SGD
from digitlab.lesson.cells import lesson_text


def section_title(number: int) -> str:
    """`3 ("Stochastic gradient descent")`: the lesson's own heading of that section."""
    match = re.search(rf"^## {number}\. (.+?)(?: \(notes:.*\))?$", lesson_text(), re.M)
    return f'{number} ("{match.group(1)}")' if match else str(number)


def _optimizer_case(g: torch.Generator) -> Args:
    params = [randn(g, 3, 2, grad=True), randn(g, 2, grad=True)]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    return {"params": params, "lr": 0.1}


def _batch_case(g: torch.Generator, times: int) -> Args:
    xb, yb = batches(g, 1)[0]
    return {"model": linear_model(g), "xb": xb, "yb": yb, "times": times}


def _epoch_case(g: torch.Generator) -> Args:
    model = linear_model(g)
    return {"model": model, "lr": 0.5, "params": list(model.parameters()), "dl": batches(g)}


def _fit_case(g: torch.Generator) -> Args:
    model = linear_model(g)  # digitlab's SGD skips a parameter without a gradient, as torch.optim's does
    opt = SGD(model.parameters(), 0.5)
    return {"model": model, "dl": batches(g), "loss_func": ref.mnist_loss, "opt": opt, "epochs": 2}


IMAGES = "3 random 28x28 images"
BATCHES = "3 batches of 4 flattened images (4,784) and 0/1 labels (4,1)"
MODEL = "model = nn.Linear(784, 1)"
EXERCISES = (
    Exercise("mnist_distance", 2, ref.mnist_distance, (
        Case(f"a = {IMAGES}, b = one image", lambda g: {"a": images(g, 3), "b": images(g, 1)[0]}),
        Case("a = one image, b = another", lambda g: {"a": images(g, 1)[0], "b": images(g, 1)[0]}, 1),
    ), returns, shapes="a (N,28,28), b (28,28) -> (N,)"),
    Exercise("is_one", 2, ref.is_one, (
        Case("x = 6 images, mean1 and mean0 two others", lambda g: {
            "x": images(g, 6), "mean1": images(g, 1)[0], "mean0": images(g, 1)[0]}),
    ), returns, deps=("mnist_distance",)),
    Exercise("init_params", 3, ref.init_params, (
        Case("size = (4, 3) after torch.manual_seed(0)", lambda g: {"size": (4, 3)}),
        Case("size = (5,), std = 0.5 after torch.manual_seed(0)", lambda g: {"size": (5,), "std": 0.5}),
    ), seeded),
    Exercise("linear1", 3, ref.linear1, (
        Case("xb = 4 flattened images (4,784), weights (784,1), bias (1,)", lambda g: {
            "xb": torch.rand(4, 784, generator=g), "weights": randn(g, 784, 1, grad=True),
            "bias": randn(g, 1, grad=True)}),
    ), returns, shapes="xb (B,784) @ weights (784,1) + bias (1,) -> (B,1)"),
    Exercise("mnist_loss", 3, ref.mnist_loss, (
        Case("predictions = 6 raw scores (6,1), targets 0/1 (6,1)", lambda g: {
            "predictions": randn(g, 6, 1, grad=True, scale=2), "targets": labels(g, 6)}),
    ), returns, (Mistake(wrong.loss_without_sigmoid, "it measures raw scores, not probabilities: a missing "
                         "sigmoid (predictions.sigmoid()) before comparing with the targets"),),
        task="Squash each raw score (B,1) into 0..1 with the sigmoid, then take 1 - p where the target (B,1) "
        "is 1 and p where it is 0; return their mean."),
    Exercise("calc_grad", 4, ref.calc_grad, (
        Case(f"xb, yb = one batch, {MODEL}", lambda g: _batch_case(g, 1)),
        Case(f"calc_grad called twice on one batch, {MODEL}", lambda g: _batch_case(g, 2)),
    ), gradients_after, (Mistake(wrong.calc_grad_without_backward, "no gradient at all: calc_grad "
                                 "computes the loss but never calls loss.backward()"),),
        deps=("mnist_loss",), pure=False),
    Exercise("train_epoch", 4, ref.train_epoch, (
        Case(f"dl = {BATCHES}, {MODEL}, lr = 0.5", _epoch_case),
    ), parameters_after, (
        Mistake(wrong.train_epoch_without_zero, "gradients add up from batch to batch: a missing "
                "p.grad.zero_() after each step"),
        Mistake(wrong.train_epoch_uphill, "each step goes up the gradient: a step is p.data -= p.grad * lr"),
    ), ("calc_grad",), pure=False),
    Exercise("batch_accuracy", 4, ref.batch_accuracy, (
        Case("xb = 8 raw scores between -2 and 3 (8,1), yb = 0/1 (8,1)", lambda g: {
            "xb": torch.tensor([[-2.0], [-0.3], [0.2], [0.4], [0.7], [3.0], [-0.1], [0.3]]),
            "yb": torch.tensor([[0], [0], [1], [0], [1], [1], [1], [0]])}),
    ), returns, (Mistake(wrong.accuracy_without_sigmoid, "it compares raw scores with 0.5: a missing sigmoid "
                         "(xb.sigmoid() > 0.5)"),)),
    Exercise("validate_epoch", 4, ref.validate_epoch, (
        Case(f"valid_dl = {BATCHES}, {MODEL}", lambda g: {"model": linear_model(g), "valid_dl": batches(g)}),
    ), returns, deps=("batch_accuracy",)),
    Exercise("BasicOptim", 5, ref.BasicOptim, (
        Case("params = [w (3,2), b (2,)] with gradients, lr = 0.1", _optimizer_case),
    ), optimizer_steps, pure=False),
    Exercise("fit", 5, ref.fit, (
        Case(f"dl = {BATCHES}, {MODEL}, loss_func = mnist_loss, opt = SGD(lr 0.5), epochs = 2", _fit_case),
    ), parameters_after, (
        Mistake(wrong.fit_without_backward, "the parameters never move: a missing loss.backward() before "
                "opt.step()"),
        Mistake(wrong.fit_without_zero_grad, "gradients add up from batch to batch: a missing "
                "opt.zero_grad() after each step"),
    ), pure=False),
    Exercise("simple_net", 6, ref.simple_net, (
        Case("xb = 4 flattened images (4,784), w1 (784,30), b1 (30,), w2 (30,1), b2 (1,)", lambda g: {
            "xb": torch.rand(4, 784, generator=g), "w1": randn(g, 784, 30, grad=True, scale=0.1),
            "b1": randn(g, 30, grad=True), "w2": randn(g, 30, 1, grad=True),
            "b2": randn(g, 1, grad=True)}),
    ), returns, (Mistake(wrong.net_without_relu, "negative hidden activations pass through: a missing ReLU "
                         "between the layers (res.max(tensor(0.0)) or F.relu)"),),
        shapes="xb (B,784) @ w1 (784,30) -> res (B,30) @ w2 (30,1) -> (B,1)"),
    Exercise("softmax", 8, ref.softmax, (
        Case("logits = 3 rows of 10 activations (3,10)", lambda g: {
            "logits": randn(g, 3, 10, grad=True, scale=3)}),
    ), returns, (Mistake(wrong.softmax_by_column, "each column sums to 1, not each row: sum over the last "
                         "dim (sum(-1, keepdim=True))"),), task="Activations (B,10) -> probabilities: "
                 "each row's exponentials divided by their sum, so every row is positive and sums to 1."),
    Exercise("cross_entropy", 8, ref.cross_entropy, (
        Case("logits = 4 rows of 10 activations (4,10), targets = 4 digits (4,)", lambda g: {
            "logits": randn(g, 4, 10, grad=True, scale=2),
            "targets": torch.randint(0, 10, (4,), generator=g)}),
    ), returns, (Mistake(wrong.cross_entropy_without_log, "it takes minus the probability of the right "
                         "digit, not minus its log: a missing .log()"),),
        task="The mean, over the rows, of minus the log of the softmax probability each row gives its "
        "target digit (logits (B,10), targets (B,))."),
)  # fmt: skip
