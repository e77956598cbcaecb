"""The learning-rate finder, as fastai's: sweep the rate up geometrically over a few batches while
watching the running (smoothed) loss, then suggest a rate from the curve.

The four ways fastai suggests a rate are here with its names and its arithmetic (`valley` first, its
default): `tests/benchmarks/test_fastai_oracle.py` feeds fastai 2.8.12 and these the same curves and
checks that they agree.
"""

import collections
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

from digitlab.learning.callbacks import Callback, CancelEpochException, CancelFitException
from digitlab.learning.metrics import SmoothLoss
from digitlab.learning.schedules import exponential

if TYPE_CHECKING:  # the Learner imports this module: its name for hints only
    from digitlab.learning.learner import Learner

# A suggestion: (the rate suggested, (the rate and loss of the point to mark on the plot))
Suggestion = tuple[float, tuple[float, float]]


class LRFinder(Callback):
    """Raises the learning rate geometrically each batch, from `start_lr` at the first to `end_lr` at
    batch `num_it`; stops there, or once the running loss exceeds 4x its best (`stop_div`), or is no
    longer a number. No validation."""

    order = 15  # after the Recorder (10), which keeps each batch's rate and loss, the last one included

    def __init__(
        self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100, stop_div: bool = True
    ):
        self.start_lr, self.end_lr, self.num_it, self.stop_div = start_lr, end_lr, max(num_it, 6), stop_div

    def before_fit(self, learn: "Learner") -> None:
        self.smooth, self.best, self.n = SmoothLoss(), math.inf, 0

    def before_batch(self, learn: "Learner") -> None:
        if not learn.training:
            raise CancelEpochException()
        learn.opt.lr = exponential(self.start_lr, self.end_lr, self.n / self.num_it)

    def after_batch(self, learn: "Learner") -> None:
        self.n += 1
        self.smooth.add(learn.loss)
        loss = float(self.smooth.value())
        self.best = min(self.best, loss)
        if self.n >= self.num_it or not math.isfinite(loss) or (self.stop_div and loss > 4 * self.best):
            raise CancelFitException()


def valley(lrs: torch.Tensor, losses: torch.Tensor, num_it: int) -> Suggestion:
    """The middle of the longest stretch where the loss keeps falling (fastai's default)."""
    n, lengths = len(losses), [1] * len(losses)
    start = end = 0
    for i in range(1, n):  # the longest decreasing run ending at each point, as fastai counts it
        for j in range(i):
            if losses[i] < losses[j] and lengths[i] < lengths[j] + 1:
                lengths[i] = lengths[j] + 1
            if lengths[end] < lengths[i]:
                end, start = i, i - lengths[i]
    third = (end - start) / 3
    idx = start + int(third) + int(third / 2)
    return float(lrs[idx]), (float(lrs[idx]), float(losses[idx]))


def slide(
    lrs: torch.Tensor,
    losses: torch.Tensor,
    num_it: int,
    lr_diff: int = 15,
    thresh: float = 0.005,
    adjust_value: float = 1.0,
) -> Suggestion:
    """Walk left from the end until the loss's slope `lr_diff` points apart differs by at most `thresh`."""
    loss = losses.numpy()
    grad = np.gradient(loss)
    right, left = -1, -1 - lr_diff
    rate = lrs[left]
    while left >= -len(loss) and abs(grad[right] - grad[left]) > thresh:
        rate = lrs[left]
        right, left = right - 1, left - 1
    suggestion = float(rate) * adjust_value
    return suggestion, (suggestion, float(np.interp(np.log10(suggestion), np.log10(lrs.numpy()), loss)))


def minimum(lrs: torch.Tensor, losses: torch.Tensor, num_it: int) -> Suggestion:
    """A tenth of the rate where the loss was lowest."""
    lr_min = lrs[losses.argmin()].item()
    nearest = min(range(len(lrs)), key=lambda i: abs(lrs[i] - lr_min))
    return lr_min / 10, (lr_min, float(losses[nearest]))


def steep(lrs: torch.Tensor, losses: torch.Tensor, num_it: int) -> Suggestion:
    """The rate where the loss falls fastest against log(rate)."""
    grads = (losses[1:] - losses[:-1]) / (lrs[1:].log() - lrs[:-1].log())
    lr_steep = lrs[grads.argmin()].item()
    nearest = min(range(len(lrs)), key=lambda i: abs(lrs[i] - lr_steep))
    return lr_steep, (lr_steep, float(losses[nearest]))


class SuggestionMethod:
    """fastai's names for the suggestion functions: `suggest_funcs=(SuggestionMethod.Valley, ...)`."""

    Valley, Slide, Minimum, Steep = valley, slide, minimum, steep


@dataclass
class Sweep:
    """What the finder saw: the rate of each batch, its running loss, and the suggestions drawn from them."""

    lrs: list[float]
    losses: list[float]
    suggestions: NamedTuple  # SuggestedLRs(valley=..., ...), as fastai returns it
    points: list[tuple[float, float]]  # (rate, loss) of each suggestion, to mark on the plot


def suggest(
    lrs: Sequence[float], losses: Sequence[float], num_it: int, funcs: Sequence[Callable[..., Suggestion]]
) -> Sweep:
    """fastai's suggestions from a sweep: the first tenth and the last 5 batches left out, and the curve
    cut at its first NaN; a named tuple `SuggestedLRs` with one field per function, by its name."""
    rates = torch.tensor(list(lrs)[num_it // 10 : -5], dtype=torch.float32)
    curve = torch.tensor(list(losses)[num_it // 10 : -5], dtype=torch.float32)
    nan = torch.nonzero(torch.isnan(curve))
    if len(nan):
        rates, curve = rates[: int(nan[0])], curve[: int(nan[0])]
    if len(curve) < 2:
        raise ValueError(
            f"the learning-rate sweep stopped after {len(losses)} batches: too few to suggest a rate "
            f"(it needs more than {num_it // 10 + 6}); lower start_lr, or give it more batches"
        )
    names = [getattr(f, "__name__", None) or f.func.__name__ for f in funcs]  # type: ignore[attr-defined]
    found = [f(rates, curve, num_it) for f in funcs]
    suggested_lrs: Any = collections.namedtuple("SuggestedLRs", names)  # type: ignore[misc]
    suggested = suggested_lrs(*[rate for rate, _ in found])
    return Sweep(list(lrs), list(losses), suggested, [point for _, point in found])
