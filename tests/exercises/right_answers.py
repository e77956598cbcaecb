"""A learner's exercises file, every function right but written otherwise than digitlab's reference
(F.relu, torch.exp, loops): `digitlab check` must pass them all."""

import torch
import torch.nn.functional as F


def mnist_distance(a, b):
    return torch.abs(a - b).mean(dim=(-2, -1))


def is_one(x, mean1, mean0):
    return mnist_distance(x, mean0) > mnist_distance(x, mean1)


def init_params(size, std=1.0):
    return torch.randn(size).mul(std).requires_grad_(True)


def linear1(xb, weights, bias):
    return torch.matmul(xb, weights) + bias


def mnist_loss(predictions, targets):
    p = torch.sigmoid(predictions)
    return torch.where(targets == 1, 1 - p, p).mean()


def calc_grad(xb, yb, model):
    mnist_loss(model(xb), yb).backward()


def train_epoch(model, lr, params, dl):
    for xb, yb in dl:
        calc_grad(xb, yb, model)
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None


def batch_accuracy(xb, yb):
    return ((torch.sigmoid(xb) > 0.5).long() == yb).float().mean()


def validate_epoch(model, valid_dl):
    accs = [batch_accuracy(model(xb), yb).item() for xb, yb in valid_dl]
    return round(sum(accs) / len(accs), 4)


class BasicOptim:
    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def step(self):
        for p in self.params:
            p.data -= p.grad.data * self.lr

    def zero_grad(self):
        for p in self.params:
            p.grad.zero_()


def fit(model, dl, loss_func, opt, epochs):
    for _ in range(epochs):
        for xb, yb in dl:
            loss = loss_func(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()


def simple_net(xb, w1, b1, w2, b2):
    return F.relu(xb @ w1 + b1) @ w2 + b2


def softmax(logits):
    e = torch.exp(logits)
    return e / e.sum(dim=1, keepdim=True)


def cross_entropy(logits, targets):
    return -torch.log(softmax(logits))[range(len(targets)), targets].mean()
