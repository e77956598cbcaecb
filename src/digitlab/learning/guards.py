"""Callbacks that guard a run: keep the best epoch's weights, stop when validation stops improving,
stop when the loss is no longer a number."""

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from digitlab.errors import TrainingDiverged
from digitlab.learning.callbacks import Callback, CancelFitException

if TYPE_CHECKING:  # the Learner imports this module: its name for hints only
    from digitlab.learning.learner import Learner


class KeepBest(Callback):
    """Remembers the weights of the best epoch and puts them back when training ends."""

    order = 40

    def __init__(self, monitor: str = "valid_loss", mode: str = "min"):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.mode = monitor, mode

    def before_fit(self, learn: "Learner") -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def after_epoch(self, learn: "Learner") -> None:
        value = learn.epoch_row[self.monitor]
        if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
            self.best, self.best_epoch = value, learn.epoch
            self.best_state = copy.deepcopy(learn.model.state_dict())

    def cleanup_fit(self, learn: "Learner") -> None:
        if self.best_state is not None:
            learn.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        state = {"best": self.best, "best_epoch": self.best_epoch}
        return {**state, "best_state": self.best_state} if self.best_state is not None else state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.best_state = (
            state["best"],
            state["best_epoch"],
            state.get("best_state"),
        )


class EarlyStopping(KeepBest):
    """Stops when the monitored value has not improved for `patience` epochs; restores the best."""

    def __init__(self, monitor: str = "valid_loss", mode: str = "min", patience: int = 3):
        super().__init__(monitor, mode)
        self.patience = patience

    def after_epoch(self, learn: "Learner") -> None:
        super().after_epoch(learn)
        if self.best_epoch is not None and learn.epoch - self.best_epoch >= self.patience:
            raise CancelFitException()


class NaNGuard(Callback):
    """Stops with a clear message once a training loss is NaN or infinite.

    Each loss is checked one batch late, when the next batch's loss has been computed (or the epoch
    ends). On a GPU the loss (in distributed training, the processes' shared verdict) is copied to
    the host right behind it, so by the time it is read the GPU is long past it: the CPU never waits
    for the batch in flight. The model goes no further than one more batch.
    """

    order = -5

    def before_fit(self, learn: "Learner") -> None:
        # (verdict, loss, epoch, batch, learning rate) of the last training batch
        self.pending: tuple[Callable[[], bool], torch.Tensor, int, int, float] | None = None

    def after_loss(self, learn: "Learner") -> None:
        self._check()
        if learn.training:
            loss = learn.loss.detach()
            self.pending = (_finite_everywhere(loss), loss, learn.epoch, learn.iter, learn.opt.lr)

    def after_epoch(self, learn: "Learner") -> None:
        self._check()

    def after_fit(self, learn: "Learner") -> None:
        self._check()

    def _check(self) -> None:
        if self.pending is None:
            return
        (verdict, loss, epoch, batch, lr), self.pending = self.pending, None
        if not verdict():
            raise TrainingDiverged(
                f"training diverged: loss is {loss.item()} at epoch {epoch}, batch {batch}"
                f" (learning rate {lr:.3g}); try a lower learning rate"
            )


def _finite_everywhere(loss: torch.Tensor) -> Callable[[], bool]:
    """Whether the loss is finite here and, in distributed training, in every process (all stop
    together): queued now, read when called."""
    if torch.distributed.is_initialized():
        finite = torch.isfinite(loss).to(torch.int32).reshape(1)
        torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        flag = _read_later(finite)
        return lambda: flag() == 1
    value = _read_later(loss)  # one process: the loss itself, checked on the host
    return lambda: math.isfinite(value())


def _read_later(t: torch.Tensor) -> Callable[[], float]:
    """The number in `t`, read when called. On a GPU, `.item()` now would wait for everything queued
    so far; a copy queued now, into pinned memory, waits only for `t`, and an event says when it landed."""
    if t.device.type != "cuda":
        return t.item
    host, landed = t.to("cpu", non_blocking=True), torch.cuda.Event()
    landed.record()

    def read() -> float:
        landed.synchronize()
        return host.item()

    return read
