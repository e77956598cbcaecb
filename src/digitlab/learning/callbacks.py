"""Callbacks: small objects that act on the Learner at named events (see `learner.EVENTS`).

Each callback gets the learner explicitly and keeps to its own job: `Metrics` writes the
epoch row, `Recorder` keeps history, `ProgressTable` (progress.py) prints, `CSVLogger` saves;
`KeepBest`, `EarlyStopping` and `NaNGuard` (guards.py) watch over the run, `Checkpoint`
(modelfiles/checkpoint_file.py) makes it resumable.
"""

import csv
import io
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from digitlab.fileio import write_text_atomic
from digitlab.learning.metrics import Metric, SmoothLoss, as_metric, smoothed
from digitlab.learning.schedules import one_cycle

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

# The loop as `Learner.show_training_loop()` prints it, in the order the events happen (the test with a
# recording callback checks that): "Start"/"End" lines open and close a level. A stage's after_cancel_
# event runs instead of its after_ one, when a callback cancels it; cleanup_ runs either way.
_BATCH = ["before_batch", "after_pred", "after_loss", "after_backward", "after_step"]
_BATCH += ["after_cancel_batch", "after_batch", "cleanup_batch"]
LOOP = ["Start Fit", "before_fit", "Start Epoch Loop", "before_epoch", "Start Train", "Start Batch Loop"]
LOOP += [*_BATCH, "End Batch Loop", "End Train", "Start Valid", "Start Batch Loop"]
LOOP += ["**CBs same as train batch, but for after_backward and after_step**", "End Batch Loop", "End Valid"]
LOOP += ["after_cancel_epoch", "after_epoch", "cleanup_epoch", "End Epoch Loop"]
LOOP += ["after_cancel_fit", "after_fit", "cleanup_fit", "End Fit"]


class Callback:
    order = 0  # lower runs first


def check_events(cb: object) -> None:
    """Refuse a callback whose method looks like an event but is none (a typo would never run)."""
    for name in dir(cb):
        if name.startswith(("before_", "after_", "cleanup_")) and name not in EVENTS:
            raise ValueError(f"{type(cb).__name__}.{name} is not an event; events: {EVENTS}")


def training_loop_lines(handlers: Callable[[str], list[Any]]) -> list[str]:
    """`LOOP` as indented lines, each event with the names of `handlers(event)` (as fastai prints it)."""
    lines, indent = [], 0
    for step in LOOP:
        if step.startswith("Start"):
            lines.append(" " * indent + step)
            indent += 2
        elif step.startswith("End"):
            indent -= 2
            lines.append(" " * indent + step)
        else:
            names = [type(cb).__name__ for cb in handlers(step)] if step in EVENTS else []
            lines.append(f"{' ' * indent} - {step:15}: [{', '.join(names)}]")
    return lines


class Metrics(Callback):
    """Writes the epoch row into `learn.epoch_row`: the running training loss as fastai shows it (smoothed
    over the batches of the whole fit, see `SmoothLoss`), then the validation loss and metrics averaged
    over the epoch's validation samples."""

    order = -10

    def __init__(self, metrics: Iterable[Any] = ()) -> None:
        self.metrics = [as_metric(m) for m in metrics]
        self.train_loss = SmoothLoss()

    def before_fit(self, learn: "Learner") -> None:
        self.train_loss.reset()  # as fastai's Recorder: once a fit, not once an epoch

    def before_epoch(self, learn: "Learner") -> None:
        self.start = time.perf_counter()
        self.valid_loss = Metric(name="valid_loss")
        for m in self.metrics:
            m.reset()

    def after_batch(self, learn: "Learner") -> None:
        if learn.training:
            self.train_loss.add(learn.loss)
            return
        self.valid_loss.add(learn.loss, len(learn.yb))
        for m in self.metrics:
            m.update(learn.preds.detach(), learn.yb)

    def state_dict(self) -> dict[str, Any]:
        """The running training loss so far (what a resumed run needs to go on with the same one)."""
        val = self.train_loss.val
        return {
            "train_total": torch.zeros(()) if val is None else val.float().cpu(),
            "train_count": self.train_loss.count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train_loss.count = int(state["train_count"])
        self.train_loss.val = state["train_total"] if self.train_loss.count else None

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
        self.iters: list[int] = []  # training batches done at the end of each epoch (fastai's `iters`)

    def before_fit(self, learn: "Learner") -> None:
        self.rows, self.batch_losses, self.lrs, self.iters = [], [], [], []

    def after_batch(self, learn: "Learner") -> None:
        if learn.training:
            self.batch_losses.append(learn.loss.detach())
            self.lrs.append(learn.opt.lr)

    def after_epoch(self, learn: "Learner") -> None:
        self.rows.append(dict(learn.epoch_row))
        self.iters.append(len(self.batch_losses))

    def state_dict(self) -> dict[str, Any]:
        losses = torch.stack(self.batch_losses).float() if self.batch_losses else torch.zeros(0)
        return {"rows": self.rows, "batch_losses": losses, "lrs": torch.tensor(self.lrs, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state["rows"]]
        self.batch_losses, self.lrs = list(state["batch_losses"]), state["lrs"].tolist()

    @property
    def losses(self) -> list[float]:
        """The running (smoothed) training loss after each batch, as fastai's `recorder.losses`."""
        return [float(v) for v in smoothed(self.batch_losses)]

    @property
    def values(self) -> list[list[float]]:
        """One row per epoch: train loss, valid loss, then each metric (as fastai's `recorder.values`)."""
        return [[v for k, v in row.items() if k not in ("epoch", "time")] for row in self.rows]

    def history(self) -> dict[str, list[float]]:
        """Columns of the epoch table plus `batch_loss` and `lr` per batch."""
        columns = {k: [row[k] for row in self.rows] for k in (self.rows[0] if self.rows else {})}
        columns.pop("epoch", None)
        return {**columns, "batch_loss": [float(x) for x in self.batch_losses], "lr": list(self.lrs)}

    def plot_loss(
        self,
        skip_start: int = 5,
        with_valid: bool = True,
        log: bool = False,
        show_epochs: bool = False,
        ax: Any = None,
    ) -> Any:
        """fastai's learning curve: the running training loss per batch from `skip_start` on, and the
        validation loss at the end of each epoch; returns the matplotlib axes."""
        from digitlab.learning.plots import plot_loss

        valid = [row["valid_loss"] for row in self.rows] if with_valid else []
        return plot_loss(self.losses, self.iters[: len(valid)], valid, skip_start, log, show_epochs, ax)


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
