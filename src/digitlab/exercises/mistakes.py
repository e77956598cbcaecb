"""The typical wrong versions of the exercises, each told apart from the others by the checker: when
a learner's function does what one of these does, the learner reads that mistake's explanation."""

import torch

from digitlab.exercises import solutions as ref


def loss_without_sigmoid(predictions, targets):
    return torch.where(targets == 1, 1 - predictions, predictions).mean()


def accuracy_without_sigmoid(xb, yb):
    return ((xb > 0.5) == yb).float().mean()


def calc_grad_without_backward(xb, yb, model):
    ref.mnist_loss(model(xb), yb)


def train_epoch_without_zero(model, lr, params, dl):
    for xb, yb in dl:
        ref.calc_grad(xb, yb, model)
        for p in params:
            p.data -= p.grad * lr


def train_epoch_uphill(model, lr, params, dl):
    for xb, yb in dl:
        ref.calc_grad(xb, yb, model)
        for p in params:
            p.data += p.grad * lr
            p.grad.zero_()


def net_without_relu(xb, w1, b1, w2, b2):
    return (xb @ w1 + b1) @ w2 + b2


def softmax_by_column(logits):
    return logits.exp() / logits.exp().sum(0, keepdim=True)


def cross_entropy_without_log(logits, targets):
    return -ref.softmax(logits).gather(1, targets.reshape(-1, 1)).mean()


def fit_without_backward(model, dl, loss_func, opt, epochs):
    for _ in range(epochs):
        for xb, yb in dl:
            loss_func(model(xb), yb)
            opt.step()
            opt.zero_grad()


def fit_without_zero_grad(model, dl, loss_func, opt, epochs):
    for _ in range(epochs):
        for xb, yb in dl:
            loss_func(model(xb), yb).backward()
            opt.step()
