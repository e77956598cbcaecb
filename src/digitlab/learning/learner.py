"""The Learner: the whole training loop on one screen; everything optional lives in callbacks."""

import contextlib
import copy
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import torch
from torch import nn

from digitlab.data.loader import DataLoader, DataLoaders, warn_if_leaky
from digitlab.learning import callbacks, plots
from digitlab.learning.guards import NaNGuard
from digitlab.learning.lr_finder import LRFinder, suggest, valley
from digitlab.learning.metrics import Metric
from digitlab.learning.optim import SGD
from digitlab.learning.progress import ProgressTable
from digitlab.learning.steps import EagerStep
from digitlab.learning.threads import OneThreadForSmallBatches
from digitlab.models import batch_probs, to_classes


def one_group(model: nn.Module) -> list[list[nn.Parameter]]:
    """fastai's default splitter: all the model's parameters in one group."""
    return [list(model.parameters())]


class Learner:
    """Trains `model` on `dls` with `loss_func` and an optimizer made by `opt_func(params, lr)`.

    `metrics` is one metric or a list (plain functions are fine); `cbs` adds callbacks.
    `splitter(model)` gives the parameter groups `freeze` works by (default: one group, as fastai's).
    `learn.recorder` keeps the history and `learn.progress` prints the epoch table.
    """

    # Set while fitting, for the callbacks to read: where the loop is and what it works on.
    n_epoch: int
    start_epoch: int
    start_iter: int
    epoch: int
    iter: int
    training: bool
    dl: Any  # the loader of the phase
    batch: Any
    xb: torch.Tensor
    yb: torch.Tensor
    preds: torch.Tensor
    loss: torch.Tensor
    epoch_row: dict[str, float]
    opt: Any  # what `opt_func` made (digitlab's SGD, or a torch optimizer); None until a fit starts

    def __init__(
        self, dls: Any, model: nn.Module, loss_func: Callable[..., torch.Tensor], *,
        opt_func: Callable[..., Any] = SGD, lr: float = 0.1, metrics: Any = (), cbs: Iterable[Any] = (),
        device: str | torch.device | None = None, autocast: bool = False, quiet: bool = False,
        splitter: Callable[[nn.Module], list[list[nn.Parameter]]] | None = None,
    ) -> None:  # fmt: skip
        if not isinstance(dls, DataLoaders):
            warn_if_leaky(dls.train, dls.valid)
        self.dls, self.loss_func, self.opt_func, self.lr = dls, loss_func, opt_func, lr
        self.splitter = splitter or one_group
        self.device = (
            torch.device(device) if device else next(iter(model.parameters()), torch.empty(0)).device
        )
        self.model, self.autocast, self.opt = model.to(self.device), autocast, None
        metrics = [metrics] if callable(metrics) else list(metrics)
        self.metrics = callbacks.Metrics(metrics)
        self.recorder, self.progress = callbacks.Recorder(), ProgressTable(quiet=quiet)
        self.cbs: list[Any] = [
            self.metrics,
            self.recorder,
            self.progress,
            NaNGuard(),
            OneThreadForSmallBatches(),
        ]
        self._handlers_for: list[Any] | None = None
        self._by_event: dict[str, list[tuple[Any, Callable[[Learner], None]]]] = {}
        self.train_step = EagerStep()  # how a training batch is run: learning/steps.py, cuda_graphs.py
        self.add_cbs(cbs)

    def add_cbs(self, new: Iterable[Any]) -> None:
        for cb in new:
            callbacks.check_events(cb)
            self.cbs.append(cb)

    # --- the loop -----------------------------------------------------------------
    def fit(
        self, n_epoch: int, lr: float | None = None, cbs: Iterable[Any] = (), start: tuple[int, int] = (0, 0)
    ) -> None:
        """Train for `n_epoch` epochs, validating after each; `cbs` apply to this call only.

        `start=(epoch, batch)` begins there instead (a resumed run; see modelfiles/checkpoint_file.py).
        """
        if n_epoch < 1:
            raise ValueError(f"n_epoch must be >= 1, got {n_epoch}")
        self.n_epoch, extra, (self.start_epoch, self.start_iter) = n_epoch, list(cbs), start
        self.add_cbs(extra)
        if self.opt is None:
            self.opt = self.opt_func(self.model.parameters(), lr or self.lr)
        self.opt.lr = lr or self.lr
        try:
            with self._stage("fit"):
                for self.epoch in range(self.start_epoch, n_epoch):  # noqa: B020 (an attribute)
                    with self._stage("epoch"):
                        self._run_phase(training=True)
                        self._run_phase(training=False)
        finally:
            self.cbs = [cb for cb in self.cbs if cb not in extra]

    def _run_phase(self, training: bool) -> None:
        self.training, self.dl = training, self.dls.train if training else self.dls.valid
        self.model.train(training)
        first = self.start_iter if training and self.epoch == self.start_epoch else 0
        with torch.set_grad_enabled(training):
            batches = self.dl.batches(first) if hasattr(self.dl, "batches") else enumerate(self.dl)
            for self.iter, self.batch in batches:  # attributes: the callbacks read them
                with self._stage("batch"):
                    self._one_batch()

    def _one_batch(self) -> None:
        self.xb, self.yb = (
            t if t.device == self.device else t.to(self.device, non_blocking=True) for t in self.batch
        )
        if self.training:
            self.train_step(self)
            return
        with self.autocast_context():
            self.preds = self.predict_batch()
            self.callback("after_pred")
            self.loss = self.get_loss()
        self.callback("after_loss")

    def autocast_context(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 arithmetic where `autocast` was asked for (GPUs), full precision elsewhere."""
        if not self.autocast:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def predict_batch(self) -> torch.Tensor:
        return cast(torch.Tensor, self.model(self.xb))

    def get_loss(self) -> torch.Tensor:
        return self.loss_func(self.preds.float(), self.yb)

    def backward(self) -> None:
        self.loss.backward()

    def step(self) -> None:
        self.opt.step()

    def zero_grad(self) -> None:
        self.opt.zero_grad()

    # --- callbacks ----------------------------------------------------------------
    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        try:
            self.callback(f"before_{name}")
            yield
            self.callback(f"after_{name}")
        except callbacks.CANCEL[name]:
            self.callback(f"after_cancel_{name}")
        finally:
            self.callback(f"cleanup_{name}")

    def callback(self, event: str) -> None:
        if event not in callbacks.EVENTS:
            raise ValueError(f"unknown event {event!r}")
        for cb, method in self._handlers(event):
            try:
                method(self)
            except Exception as e:
                e.add_note(f"in callback {type(cb).__name__}.{event}")
                raise

    def _handlers(self, event: str) -> list[tuple[Any, Callable[["Learner"], None]]]:
        """(callback, its method for `event`) in `order`: looked up once while `cbs` stays the same,
        not at every event of every batch (on a GPU the host's time per batch is the speed limit)."""
        if self._handlers_for != self.cbs:
            self._handlers_for, self._by_event = list(self.cbs), {}
        if event not in self._by_event:
            ordered = sorted(self.cbs, key=lambda c: c.order)
            self._by_event[event] = [(cb, m) for cb in ordered if (m := getattr(cb, event, None)) is not None]
        return self._by_event[event]

    # --- recipes --------------------------------------------------------------------
    def fit_one_cycle(
        self,
        n_epoch: int,
        lr_max: float | None = None,
        cbs: Iterable[Any] = (),
        start: tuple[int, int] = (0, 0),
        pct_start: float = 0.25,
        div: float = 25.0,
    ) -> None:
        """Warm the learning rate up from lr_max/div over `pct_start` of the steps, then anneal it."""
        lr_max = lr_max or self.lr
        self.fit(n_epoch, lr_max, [callbacks.OneCycle(lr_max, pct_start, div), *cbs], start)

    def fine_tune(
        self,
        epochs: int,
        base_lr: float = 2e-3,
        freeze_epochs: int = 1,
        pct_start: float = 0.3,
        div: float = 5.0,
    ) -> None:
        """fastai's recipe: `freeze_epochs` with all but the last parameter group frozen, then
        `epochs` with every group at half the rate.

        With the default splitter the model is one group, so nothing is frozen: the first phase
        trains the whole model, as fastai does for a model without a pretrained body. (fastai also
        gives earlier groups lower rates in the second phase; here every group gets base_lr / 2.)
        """
        self.freeze()
        self.fit_one_cycle(freeze_epochs, base_lr, pct_start=0.99)
        self.unfreeze()  # and a fresh optimizer that sees every parameter again
        self.fit_one_cycle(epochs, base_lr / 2, pct_start=pct_start, div=div)

    def freeze(self) -> None:
        """Stop every parameter group but the last from learning (nothing, for one group)."""
        for group in self.splitter(self.model)[:-1]:
            for p in group:
                p.requires_grad_(False)
        self.opt = None

    def unfreeze(self) -> None:
        self.model.requires_grad_(True)
        self.opt = None

    def lr_find(
        self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100, stop_div: bool = True,
        show_plot: bool = True, suggest_funcs: Iterable[Callable[..., Any]] = (valley,),
    ) -> Any:  # fmt: skip
        """fastai's learning-rate finder: train `num_it` batches at rates rising from `start_lr` to `end_lr`,
        put the weights back, and return `SuggestedLRs(valley=...)` (one field per function of
        `suggest_funcs`: `valley`, `slide`, `minimum`, `steep`), plotting the curve with `show_plot`.
        `learn.recorder.lrs` and `.losses` keep the sweep."""
        saved_model, saved_opt = copy.deepcopy(self.model.state_dict()), self.opt
        finder, self.opt, quiet = LRFinder(start_lr, end_lr, num_it, stop_div), None, self.progress.quiet
        self.progress.quiet = True
        try:
            self.fit(finder.num_it // len(self.dls.train) + 1, start_lr, [finder])
        finally:
            self.progress.quiet, self.opt = quiet, saved_opt
            self.model.load_state_dict(saved_model)
        funcs = list(suggest_funcs)
        sweep = suggest(self.recorder.lrs, self.recorder.losses, finder.num_it, funcs)
        if show_plot:
            plots.plot_lr_find(sweep.lrs, sweep.losses, sweep.points, sweep.suggestions._fields)
        return sweep.suggestions

    def show_training_loop(self) -> None:
        """Print the loop's events in the order they happen, with the callbacks acting on each (as fastai)."""
        for line in callbacks.training_loop_lines(lambda event: [cb for cb, _ in self._handlers(event)]):
            print(line)

    # --- using the model --------------------------------------------------------------
    def get_preds(
        self,
        dl: Any = None,
        with_loss: bool = False,
        act: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Predictions and targets for every batch of `dl` (default: valid), in order, as fastai's:
        the model's outputs through `act`, else through the loss function's own `activation` if it
        has one, else raw (a plain `nn.CrossEntropyLoss` gives scores, not probabilities).
        `with_loss` adds each sample's loss as a third tensor.
        """
        dl = self.dls.valid if dl is None else dl
        dl = dl.ordered() if isinstance(dl, DataLoader) else dl
        act = act or getattr(self.loss_func, "activation", None) or (lambda outputs: outputs)
        self.model.eval()
        outputs, targets = [], []
        with torch.no_grad():
            for xb, yb in dl:
                outputs.append(self.model(xb.to(self.device)).float().cpu())
                targets.append(torch.as_tensor(yb).cpu())
        out, target = torch.cat(outputs), torch.cat(targets)
        preds = act(out)
        return (preds, target, self._losses(out, target)) if with_loss else (preds, target)

    def _losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss of each sample: `reduction="none"` where the loss has it, else one call per sample."""
        if isinstance(getattr(self.loss_func, "reduction", None), str):
            loss_func = copy.copy(self.loss_func)
            loss_func.reduction = "none"  # type: ignore[attr-defined]
            return loss_func(outputs, targets).reshape(-1)
        return torch.stack([self.loss_func(o[None], t[None]) for o, t in zip(outputs, targets, strict=True)])

    def predict(self, item: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """fastai's three answers for one sample shaped like the data's: the class (its name where the
        DataLoaders have a `vocab`, else its index as a number), its index as a tensor, the probabilities."""
        probs = batch_probs(self.model, item.reshape(1, *self.dls.valid.sample_shape()).float())
        index = to_classes(probs)[0]
        vocab = getattr(self.dls, "vocab", None)
        return (vocab[int(index)] if vocab is not None else int(index)), index, probs[0]

    def validate(self, ds_idx: int = 1, dl: Any = None) -> list[float]:
        """fastai's: `[valid_loss, *metrics]` over `dl` (default: the validation loader; `ds_idx=0`: the
        training one, in its stored order), as the epoch table computes them; nothing is trained."""
        dl = dl if dl is not None else (self.dls.valid if ds_idx == 1 else self.dls.train)
        dl = dl.ordered() if isinstance(dl, DataLoader) else dl
        loss, metrics = Metric(name="valid_loss"), self.metrics.metrics
        for m in metrics:
            m.reset()
        self.model.eval()
        with torch.no_grad(), self.autocast_context():
            for xb, yb in dl:
                xb, yb = xb.to(self.device), torch.as_tensor(yb).to(self.device)
                preds = self.model(xb)
                loss.add(self.loss_func(preds.float(), yb), len(yb))
                for m in metrics:
                    m.update(preds, yb)
        return [loss.compute(), *(m.compute() for m in metrics)]

    def show_results(self, ds_idx: int = 1, dl: Any = None, max_n: int = 9, shuffle: bool = True) -> Any:
        """One batch (of the validation loader by default, drawn at random), each image titled with its
        label over the model's answer, green where right and red where wrong; returns the figure."""
        dl = dl if dl is not None else (self.dls.valid if ds_idx == 1 else self.dls.train)
        if isinstance(dl, DataLoader):
            dl = DataLoader(dl.dataset, dl.batch_size, shuffle=shuffle)
        xb, yb = next(iter(dl))
        predicted = to_classes(batch_probs(self.model, xb.float()))
        return plots.show_results(xb, torch.as_tensor(yb).reshape(-1), predicted, max_n)
