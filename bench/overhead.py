"""What the Learner costs: the same model, optimizer, data order and epochs in a hand-written loop and in it.

Twice: with the CNN, where the arithmetic dominates (a CPU's case), and per step with a model too small
for its arithmetic to count, where the host's work per batch is the whole cost (a GPU's case, where the
device computes these nets faster than Python hands it batches).
"""

import statistics

import torch
import torch.nn.functional as F

from bench.stamp import figures
from bench.timing import command_line, timed
from digitlab.data import DataLoader, DataLoaders, load_source
from digitlab.learning.learner import Learner
from digitlab.learning.metrics import accuracy
from digitlab.models import CNN
from digitlab.run.learner_parts import sgd_nesterov

LR = 0.05  # both loops, with the optimizer `digitlab train` uses


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


def host_time_per_step(steps: int = 400, repeats: int = 5) -> dict:
    """Microseconds per training step of a 4-input linear model (batches of 128): plain loop against
    the Learner, alternating, medians of `repeats`; one thread."""
    g = torch.Generator().manual_seed(0)
    n = steps * 128 + 1000  # and one validation batch (what it measures is not the point)
    x, y = torch.rand(n, 1, 2, 2, generator=g), torch.randint(0, 10, (n,), generator=g)
    x, xv, y, yv = x[:-1000], x[-1000:], y[:-1000], y[-1000:]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = {"plain": [], "learner": []}
        for _ in range(repeats + 1):  # the first round warms up
            for name, loop in (("plain", _plain_loop), ("learner", _learner_loop)):
                times[name].append(timed(loop, x, y, xv, yv, 1, _tiny)[0] / steps * 1e6)
    finally:
        torch.set_num_threads(threads)
    return {
        "steps": steps,
        "repeats": repeats,
        **{f"{k}_us": statistics.median(v[1:]) for k, v in times.items()},
    }


def _cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return CNN(mean=0.1307, std=0.3081).to(memory_format=torch.channels_last)


def _tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 10))


def _plain_loop(x, y, xv, yv, epochs, make=_cnn):
    model = make()
    opt = sgd_nesterov(model.parameters(), LR)
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


def _learner_loop(x, y, xv, yv, epochs, make=_cnn):
    model = make()
    dls = DataLoaders(DataLoader((x, y), 128, shuffle=True, seed=0), DataLoader((xv, yv), 1000))
    learn = Learner(dls, model, F.cross_entropy, opt_func=sgd_nesterov, lr=LR, metrics=accuracy, quiet=True)
    learn.fit(epochs)
    return [p.detach().clone() for p in model.parameters()], learn.epoch_row["accuracy"]


def section(r: dict, host: dict | None = None, command: str = "") -> str:
    """The CNN's run against the plain loop, and, when measured, the host's time per step."""
    text = (
        "## Learner overhead\n\n"
        + command_line(command)
        + "The same CNN, optimizer (SGD, Nesterov momentum), "
        f"data order and {r['epochs']} epoch(s) on {r['images']:,} images, validated each epoch; medians of "
        f"{r['repeats']} alternating runs.\n\n| loop | seconds | valid accuracy |\n|---|---|---|\n"
        f"| hand-written PyTorch loop | {r['plain_s']:.2f} | {r['plain_acc']:.4f} |\n"
        f"| Learner with default callbacks | {r['learner_s']:.2f} | {r['learner_acc']:.4f} |\n\n"
        f"Ratio Learner / plain: **{r['ratio']:.3f}**; identical final weights: {r['identical_weights']}.\n"
        + figures(
            plain_s=f"{r['plain_s']:.2f} s", learner_s=f"{r['learner_s']:.2f} s", ratio=f"{r['ratio']:.3f}"
        )
    )
    if host is None:
        return text
    extra = host["learner_us"] - host["plain_us"]
    return text + (
        f"\nPer training step on the host, with a model too small for its arithmetic to count (a 4-input "
        f"linear layer, batches of 128, {host['steps']} steps, one thread; medians of {host['repeats']} "
        "alternating runs): what bounds these nets on a GPU, where each step's kernels take less time "
        f"than Python takes to hand them over. Plain loop **{host['plain_us']:.0f} µs**, Learner "
        f"**{host['learner_us']:.0f} µs**: its callbacks (metrics, history, the NaN check, the "
        f"progress bar) add {extra:.0f} µs a step.\n"
        + figures(plain_us=f"{host['plain_us']:.0f} µs", extra_us=f"{extra:.0f} µs")
    )
