"""The Learner: the whole training loop on one screen; everything optional lives in callbacks."""

import contextlib
import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from digitlab.data.loader import DataLoader, DataLoaders
from digitlab.train import callbacks as cbs
from digitlab.train.optim import SGD, set_lr

# Every event a callback can handle, in the order they fire. A typo in a callback's
# method name is caught at `Learner(...)` time, not silently ignored.
EVENTS = [
    f"{when}_{stage}"
    for stage in ("fit", "epoch", "batch")
    for when in ("before", "after", "after_cancel", "cleanup")
]
EVENTS += ["after_pred", "after_loss", "after_backward", "after_step"]
CANCEL = {"fit": cbs.CancelFitException, "epoch": cbs.CancelEpochException, "batch": cbs.CancelBatchException}


@dataclass
class LRFindResult:
    suggestion: float  # where the smoothed loss falls fastest
    lrs: list[float]
    losses: list[float]

    def plot(self) -> bytes:
        from digitlab.report.figures import lr_finder

        return lr_finder(self.lrs, self.losses, self.suggestion)


class Learner:
    """Trains `model` on `dls` with `loss_fn` and an optimizer made by `opt_fn(params, lr)`."""

    def __init__(
        self,
        dls: DataLoaders,
        model: nn.Module,
        loss_fn,
        opt_fn=SGD,
        metrics=(),
        callbacks=(),
        lr: float = 0.1,
        device: str | torch.device = "cpu",
        autocast: bool = False,
        default_callbacks: bool = True,
    ):
        self.dls, self.loss_fn, self.opt_fn, self.lr = dls, loss_fn, opt_fn, lr
        self.device, self.autocast = torch.device(device), autocast
        self.model = model.to(self.device)
        self.metrics = cbs.Metrics(*metrics)
        defaults = [cbs.Recorder(), cbs.ProgressTable(), cbs.NaNGuard()] if default_callbacks else []
        self.callbacks = [self.metrics, *defaults, *callbacks]
        for cb in self.callbacks:
            self._check_events(cb)
        self.recorder = next((c for c in self.callbacks if isinstance(c, cbs.Recorder)), None)
        self.opt = None

    # --- the loop -----------------------------------------------------------------
    def fit(self, epochs: int, lr: float | None = None, callbacks=()) -> None:
        """Train for `epochs`, validating after each; `callbacks` apply to this call only."""
        self.n_epochs, extra = epochs, list(callbacks)
        for cb in extra:
            self._check_events(cb)
        self.callbacks += extra
        if self.opt is None:
            self.opt = self.opt_fn(self.model.parameters(), lr or self.lr)
        set_lr(self.opt, lr or self.lr)
        try:
            with self._stage("fit"):
                for self.epoch in range(epochs):
                    with self._stage("epoch"):
                        self._run_phase(training=True)
                        self._run_phase(training=False)
        finally:
            self.callbacks = [cb for cb in self.callbacks if cb not in extra]

    def _run_phase(self, training: bool) -> None:
        self.training, self.dl = training, self.dls.train if training else self.dls.valid
        self.model.train(training)
        with torch.set_grad_enabled(training):
            for self.iter, self.batch in enumerate(self.dl):  # noqa: B020 (attributes, not a rebinding)
                with self._stage("batch"):
                    self._one_batch()

    def _one_batch(self) -> None:
        self.xb, self.yb = (t.to(self.device, non_blocking=True) for t in self.batch)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            self.preds = self.predict_batch()
            self.callback("after_pred")
            self.loss = self.get_loss()
        self.callback("after_loss")
        if not self.training:
            return
        self.backward()
        self.callback("after_backward")
        self.step()
        self.callback("after_step")
        self.zero_grad()

    def predict_batch(self) -> torch.Tensor:
        return self.model(self.xb)

    def get_loss(self) -> torch.Tensor:
        return self.loss_fn(self.preds.float(), self.yb)

    def backward(self) -> None:
        self.loss.backward()

    def step(self) -> None:
        self.opt.step()

    def zero_grad(self) -> None:
        self.opt.zero_grad()

    # --- callbacks ----------------------------------------------------------------
    @contextlib.contextmanager
    def _stage(self, name: str):
        try:
            self.callback(f"before_{name}")
            yield
            self.callback(f"after_{name}")
        except CANCEL[name]:
            self.callback(f"after_cancel_{name}")
        finally:
            self.callback(f"cleanup_{name}")

    def callback(self, event: str) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        for cb in sorted(self.callbacks, key=lambda c: c.order):
            if (method := getattr(cb, event, None)) is not None:
                try:
                    method(self)
                except Exception as e:
                    e.add_note(f"in callback {type(cb).__name__}.{event}")
                    raise

    @staticmethod
    def _check_events(cb) -> None:
        for name in dir(cb):
            if name.startswith(("before_", "after_", "cleanup_")) and name not in EVENTS:
                raise ValueError(f"{type(cb).__name__}.{name} is not an event; events: {EVENTS}")

    # --- recipes --------------------------------------------------------------------
    def fit_one_cycle(self, epochs: int, lr_max: float | None = None, callbacks=()) -> None:
        """Warm the learning rate up, then anneal it: fast, stable training."""
        lr_max = lr_max or self.lr
        self.fit(epochs, lr_max, [cbs.OneCycle(lr_max), *callbacks])

    def fine_tune(self, epochs: int, base_lr: float = 2e-3, freeze_epochs: int = 1) -> None:
        """Train only the last layer for `freeze_epochs`, then everything at half the rate."""
        self.freeze()
        self.fit_one_cycle(freeze_epochs, base_lr)
        self.unfreeze()
        self.opt = None  # a fresh optimizer that sees every parameter again
        self.fit_one_cycle(epochs, base_lr / 2)

    def freeze(self) -> None:
        """Only the last layer with parameters keeps learning."""
        layers = [m for m in self.model.modules() if any(True for _ in m.parameters(recurse=False))]
        for layer in layers[:-1]:
            layer.requires_grad_(False)

    def unfreeze(self) -> None:
        self.model.requires_grad_(True)

    def lr_find(self, start: float = 1e-7, end: float = 10.0, max_iter: int = 100) -> LRFindResult:
        """Sweep the learning rate over a few batches; weights and optimizer are restored after."""
        saved_model = copy.deepcopy(self.model.state_dict())
        saved_opt, self.opt = self.opt, None
        finder = cbs.LRFinder(start, end, max_iter)
        quiet = [cb for cb in self.callbacks if isinstance(cb, cbs.ProgressTable | cbs.Recorder)]
        self.callbacks = [cb for cb in self.callbacks if cb not in quiet]
        try:
            self.fit(math.ceil(max_iter / len(self.dls.train)), start, [finder])
        finally:
            self.callbacks += quiet
            self.model.load_state_dict(saved_model)
            self.opt = saved_opt
        losses = torch.tensor(finder.losses)
        steepest = int(losses.diff().argmin()) if len(losses) > 1 else 0
        return LRFindResult(finder.lrs[steepest], finder.lrs, finder.losses)

    # --- using the model --------------------------------------------------------------
    def get_preds(self, dl=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities and targets for every sample of `dl` (default: valid), in order."""
        dl = dl if dl is not None else self.dls.valid
        if isinstance(dl, DataLoader) and dl.shuffle:
            dl = DataLoader(dl.x, dl.y, dl.batch_size)
        self.model.eval()
        probs, targets = [], []
        with torch.no_grad():
            for xb, yb in dl:
                probs.append(to_probs(self.model(xb.to(self.device)).float()).cpu())
                targets.append(yb)
        return torch.cat(probs), torch.cat(targets)

    def one_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first training batch (xb, yb): handy to look at shapes and activations."""
        return self.dls.train.one_batch()

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Classes and probabilities for one image (28,28) or a batch (B,1,28,28)."""
        x = x.reshape(-1, 1, 28, 28).float()
        self.model.eval()
        with torch.no_grad():
            probs = to_probs(self.model(x.to(self.device)).float()).cpu()
        classes = probs.argmax(1) if probs.shape[1] > 1 else (probs[:, 0] > 0.5).long()
        return classes, probs


def to_probs(outputs: torch.Tensor) -> torch.Tensor:
    """Softmax over classes, or sigmoid for a single binary output."""
    return outputs.sigmoid() if outputs.shape[-1] == 1 else outputs.softmax(dim=-1)
