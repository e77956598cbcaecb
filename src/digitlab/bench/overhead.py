"""What the Learner costs: the same CNN, optimizer, data order and epochs in a hand-written loop and in it."""

import statistics

import torch
import torch.nn.functional as F

from digitlab.bench.timing import timed
from digitlab.data import DataLoader, DataLoaders, load_source
from digitlab.models import CNN
from digitlab.train.learner import Learner
from digitlab.train.metrics import accuracy
from digitlab.train.optim import SGD


def learner_overhead(epochs: int = 1, repeats: int = 3, limit: int | None = None) -> dict:
    """The same CNN, optimizer, data order and epochs: a hand-written loop against the Learner."""
    source = load_source("mnist")
    train, valid = source.train.split(0.1, seed=0)
    n = limit or len(train)
    x, y = train.floats()[:n], train.labels[:n]
    xv, yv = valid.floats(), valid.labels
    plain_s, learner_s, results = [], [], {}
    _plain_loop(x[:2000], y[:2000], xv[:500], yv[:500], 1)  # warm up kernels and allocator for both
    _learner_loop(x[:2000], y[:2000], xv[:500], yv[:500], 1)
    for _ in range(repeats):
        t, results["plain"] = timed(_plain_loop, x, y, xv, yv, epochs)
        plain_s.append(t)
        t, results["learner"] = timed(_learner_loop, x, y, xv, yv, epochs)
        learner_s.append(t)
    same = all(torch.equal(a, b) for a, b in zip(results["plain"][0], results["learner"][0], strict=True))
    return {
        "epochs": epochs,
        "images": n,
        "repeats": repeats,
        "plain_s": statistics.median(plain_s),
        "learner_s": statistics.median(learner_s),
        "ratio": statistics.median(learner_s) / statistics.median(plain_s),
        "plain_acc": results["plain"][1],
        "learner_acc": results["learner"][1],
        "identical_weights": same,
    }


def _model_and_opt():
    torch.manual_seed(0)
    model = CNN(mean=0.1307, std=0.3081).to(memory_format=torch.channels_last)
    return model, lambda params, lr=0.05: SGD(params, lr, momentum=0.9, nesterov=True, weight_decay=5e-4)


def _plain_loop(x, y, xv, yv, epochs):
    model, opt_fn = _model_and_opt()
    opt = opt_fn(model.parameters())
    train_dl, valid_dl = DataLoader((x, y), 128, shuffle=True, seed=0), DataLoader((xv, yv), 1000)
    for _ in range(epochs):
        model.train()
        for xb, yb in train_dl:
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in valid_dl:
                preds = model(xb)
                F.cross_entropy(preds, yb)
                correct += (preds.argmax(1) == yb).sum().item()
    return [p.detach().clone() for p in model.parameters()], correct / len(xv)


def _learner_loop(x, y, xv, yv, epochs):
    model, opt_fn = _model_and_opt()
    dls = DataLoaders(DataLoader((x, y), 128, shuffle=True, seed=0), DataLoader((xv, yv), 1000))
    learn = Learner(dls, model, F.cross_entropy, opt_func=opt_fn, lr=0.05, metrics=accuracy, quiet=True)
    learn.fit(epochs)
    return [p.detach().clone() for p in model.parameters()], learn.epoch_row["accuracy"]


def section(r: dict) -> str:
    return (
        "## Learner overhead\n\nThe same CNN, optimizer (SGD, Nesterov momentum), data order and "
        f"{r['epochs']} epoch(s) on {r['images']:,} images, validated each epoch; medians of {r['repeats']} "
        "alternating runs.\n\n| loop | seconds | valid accuracy |\n|---|---|---|\n"
        f"| hand-written PyTorch loop | {r['plain_s']:.2f} | {r['plain_acc']:.4f} |\n"
        f"| Learner with default callbacks | {r['learner_s']:.2f} | {r['learner_acc']:.4f} |\n\n"
        f"Ratio Learner / plain: **{r['ratio']:.3f}**; identical final weights: {r['identical_weights']}.\n"
    )
