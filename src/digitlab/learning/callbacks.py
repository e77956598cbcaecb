"""Callbacks: small objects that act on the Learner at named events (see `learner.EVENTS`).

Each callback gets the learner explicitly and keeps to its own job: `Metrics` writes the
epoch row, `Recorder` keeps history, `ProgressTable` (progress.py) prints, `CSVLogger` saves;
`KeepBest`, `EarlyStopping` and `NaNGuard` (guards.py) watch over the run, `Checkpoint`
(checkpointing.py) makes it resumable.
"""

import csv
import io
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from digitlab.fileio import write_text_atomic
from digitlab.learning.metrics import Metric, as_metric
from digitlab.learning.schedules import exponential, one_cycle

if TYPE_CHECKING:  # the Learner imports this module: its name for hints only
    from digitlab.learning.learner import Learner


class CancelFitException(Exception):
    """Raised by a callback to end training early (after_cancel_fit runs, then cleanup)."""


class CancelEpochException(Exception):
    """Raised by a callback to skip the rest of an epoch."""


class CancelBatchException(Exception):
    """Raised by a callback to skip the rest of a batch (no backward, no step)."""


CANCEL = {"fit": CancelFitException, "epoch": CancelEpochException, "batch": CancelBatchException}
# Every event a callback can handle, by stage. A misspelt method name is refused when added.
EVENTS = [f"{when}_{stage}" for stage in CANCEL for when in ("before", "after", "after_cancel", "cleanup")]
EVENTS += ["after_pred", "after_loss", "after_backward", "after_step"]


class Callback:
    order = 0  # lower runs first


def check_events(cb: object) -> None:
    """Refuse a callback whose method looks like an event but is none (a typo would never run)."""
    for name in dir(cb):
        if name.startswith(("before_", "after_", "cleanup_")) and name not in EVENTS:
            raise ValueError(f"{type(cb).__name__}.{name} is not an event; events: {EVENTS}")


class Metrics(Callback):
    """Averages the losses and metrics of each epoch into `learn.epoch_row`."""

    order = -10

    def __init__(self, metrics: Iterable[Any] = ()) -> None:
        self.metrics = [as_metric(m) for m in metrics]

    def before_epoch(self, learn: "Learner") -> None:
        self.start = time.perf_counter()
        self.train_loss, self.valid_loss = Metric(name="train_loss"), Metric(name="valid_loss")
        for m in self.metrics:
            m.reset()

    def after_batch(self, learn: "Learner") -> None:
        n = len(learn.yb)
        if learn.training:
            self.train_loss.add(learn.loss, n)
            return
        self.valid_loss.add(learn.loss, n)
        for m in self.metrics:
            m.update(learn.preds.detach(), learn.yb)

    def state_dict(self) -> dict[str, Any]:
        """The running training loss of the epoch in progress (what a mid-epoch resume needs)."""
        return {
            "train_total": torch.as_tensor(self.train_loss.total).float(),
            "train_count": self.train_loss.count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train_loss.total, self.train_loss.count = state["train_total"], state["train_count"]

    def after_epoch(self, learn: "Learner") -> None:
        learn.epoch_row = {
            "epoch": learn.epoch,
            "train_loss": self.train_loss.compute(),
            "valid_loss": self.valid_loss.compute(),
            **{m.name: m.compute() for m in self.metrics},
            "time": time.perf_counter() - self.start,
        }


class Recorder(Callback):
    """History of the last fit: loss and learning rate per training batch, and every epoch row."""

    order = 10

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.batch_losses: list[torch.Tensor] = []
        self.lrs: list[float] = []

    def before_fit(self, learn: "Learner") -> None:
        self.rows, self.batch_losses, self.lrs = [], [], []

    def after_batch(self, learn: "Learner") -> None:
        if learn.training:
            self.batch_losses.append(learn.loss.detach())
            self.lrs.append(learn.opt.lr)

    def after_epoch(self, learn: "Learner") -> None:
        self.rows.append(dict(learn.epoch_row))

    def state_dict(self) -> dict[str, Any]:
        losses = torch.stack(self.batch_losses).float() if self.batch_losses else torch.zeros(0)
        return {"rows": self.rows, "batch_losses": losses, "lrs": torch.tensor(self.lrs, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state["rows"]]
        self.batch_losses, self.lrs = list(state["batch_losses"]), state["lrs"].tolist()

    @property
    def values(self) -> list[list[float]]:
        """One row per epoch: train loss, valid loss, then each metric (as fastai's `recorder.values`)."""
        return [[v for k, v in row.items() if k not in ("epoch", "time")] for row in self.rows]

    def history(self) -> dict[str, list[float]]:
        """Columns of the epoch table plus `batch_loss` and `lr` per batch."""
        columns = {k: [row[k] for row in self.rows] for k in (self.rows[0] if self.rows else {})}
        columns.pop("epoch", None)
        return {**columns, "batch_loss": [float(x) for x in self.batch_losses], "lr": list(self.lrs)}


class CSVLogger(Callback):
    """Writes the epoch table to a CSV file after every epoch (atomically)."""

    order = 30

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def after_epoch(self, learn: "Learner") -> None:
        write_text_atomic(self.path, history_csv(learn.recorder.rows))


def history_csv(rows: list[dict[str, Any]]) -> str:
    """The epoch table as CSV text, header first."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


class OneCycle(Callback):
    """Sets the learning rate before every training batch from the one-cycle schedule."""

    order = -20

    def __init__(self, lr_max: float, pct_start: float = 0.25, div: float = 25.0):
        self.lr_max, self.pct_start, self.div = lr_max, pct_start, div

    def before_batch(self, learn: "Learner") -> None:
        if learn.training:
            pos = (learn.epoch + learn.iter / len(learn.dls.train)) / learn.n_epoch
            learn.opt.lr = one_cycle(self.lr_max, pos, self.pct_start, self.div)


class LRFinder(Callback):
    """Raises the learning rate geometrically each batch and records the (smoothed) loss."""

    order = -20

    def __init__(self, start: float = 1e-7, end: float = 10.0, max_iter: int = 100):
        self.start, self.end, self.max_iter = start, end, max_iter

    def before_fit(self, learn: "Learner") -> None:
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smooth, self.n = 0.0, 0

    def before_batch(self, learn: "Learner") -> None:
        if not learn.training:
            raise CancelEpochException()
        learn.opt.lr = exponential(self.start, self.end, self.n / self.max_iter)

    def after_batch(self, learn: "Learner") -> None:
        self.n += 1
        self.smooth = 0.98 * self.smooth + 0.02 * learn.loss.item()
        loss = self.smooth / (1 - 0.98**self.n)  # debiased running mean
        self.lrs.append(learn.opt.lr)
        self.losses.append(loss)
        if self.n >= self.max_iter or not math.isfinite(loss) or loss > 4 * min(self.losses):
            raise CancelFitException()
