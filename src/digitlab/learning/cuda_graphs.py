"""Training steps replayed from CUDA graphs (`digitlab train --cuda-graphs`).

On a GPU a small net's step is a few hundred tiny kernels, and the host takes longer to launch
them one by one than the GPU takes to run them: the step is bound by Python, not by arithmetic.
A CUDA graph records every kernel of one step (augmentation, forward pass, loss, backward pass,
optimizer update) once; each batch then copies its images, labels, augmentation numbers and
learning rate into the graph's fixed input tensors and launches the whole step at once.

What a recorded step needs, and how it gets it here:
- fixed shapes: one graph per batch size (a full batch and the epoch's last, shorter one);
- nothing decided on the host inside the step: the augmentation's random numbers are drawn on
  the CPU as before (the same generator, so a seed gives the same warps) and copied in, and the
  optimizer reads its learning rate from a tensor that is refilled before each replay;
- memory that stays put: gradients, momentum buffers and outputs live at the addresses the
  recording saw, so a step's outputs are overwritten by the next (the loss is handed out as a copy).
"""

import contextlib
import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import torch

from digitlab.data.augment import RandomAffine
from digitlab.models import unwrap

if TYPE_CHECKING:  # the Learner imports this module: its name for hints only
    from digitlab.learning.learner import Learner

WARMUP_STEPS = 3  # on a side stream before recording: cuDNN and cuBLAS settle their workspaces


@dataclass
class _Graph:
    """One recorded step and the tensors it reads and writes."""

    x: torch.Tensor
    y: torch.Tensor
    u: torch.Tensor  # the augmentation's random numbers
    lr: torch.Tensor
    graph: "torch.cuda.CUDAGraph | _Rerun | None" = None
    preds: torch.Tensor = field(default_factory=lambda: torch.empty(0))  # the step's outputs, written
    loss: torch.Tensor = field(default_factory=lambda: torch.empty(0))  # by every replay
    grads: list[torch.Tensor | None] = field(default_factory=list)  # written by every replay: kept alive


class GraphedSteps:
    """The training step of a Learner, each batch size recorded the first time it comes and replayed.

    Set as `learn.train_step`; the Learner's training loader must then leave augmentation to it
    (`augment`). Callbacks still see every event, after the step has run: one that changes
    gradients in `after_backward` has no effect here. `seconds` is the time spent recording.
    """

    def __init__(self, augment: RandomAffine | None = None):
        self.augment, self.opt, self.seconds = augment, cast(Any, None), 0.0
        self.graphs: dict[int, _Graph] = {}

    def __call__(self, learn: "Learner") -> None:
        """Run one training step on `learn.xb`, `learn.yb` at `learn.opt.lr`, then its events."""
        learn.preds, learn.loss = self._replay(learn)
        for event in ("after_pred", "after_loss", "after_backward", "after_step"):
            learn.callback(event)

    def _replay(self, learn: "Learner") -> tuple[torch.Tensor, torch.Tensor]:
        if learn.opt is not self.opt:  # a new optimizer (fine_tune) has new buffers: record again
            self.graphs, self.opt = {}, learn.opt
        n = len(learn.yb)
        if n not in self.graphs:
            start = time.perf_counter()
            self.graphs[n] = self._record(learn, n)
            self.seconds += time.perf_counter() - start
        g = self.graphs[n]
        g.x.copy_(learn.xb, non_blocking=True)
        g.y.copy_(learn.yb, non_blocking=True)
        if self.augment is not None:  # from pinned memory the copy does not wait for the GPU
            u = self.augment.draw(n)
            g.u.copy_(u.pin_memory() if g.u.is_cuda else u, non_blocking=True)
        g.lr.fill_(learn.opt.lr)
        cast("torch.cuda.CUDAGraph | _Rerun", g.graph).replay()
        return g.preds, g.loss.clone()

    def _step(self, learn: "Learner", g: _Graph) -> tuple[torch.Tensor, torch.Tensor]:
        """The step as recorded: only tensor operations on the graph's own tensors."""
        xb = self.augment.warp(g.x, g.u) if self.augment is not None else g.x
        # autocast's cache of cast weights must stay off while recording (PyTorch's CUDA-graph notes)
        with torch.autocast(learn.device.type, torch.bfloat16, enabled=learn.autocast, cache_enabled=False):
            preds = learn.model(xb)
            loss = learn.loss_func(preds.float(), g.y)
        loss.backward()
        learn.opt.step(lr=g.lr)
        return preds, loss

    def _record(self, learn: "Learner", n: int) -> _Graph:
        """Warm up, record, then put back the weights, statistics and optimizer buffers the warm-up moved."""
        model, opt = unwrap(learn.model), learn.opt
        numbers = self.augment.numbers if self.augment is not None else 6
        g = _Graph(
            x=learn.xb.clone(), y=learn.yb.clone(), lr=torch.tensor(float(opt.lr), device=learn.device),
            u=torch.zeros(n, numbers, device=learn.device),  # no warp while warming up, generator left alone
        )  # fmt: skip
        saved_model = copy.deepcopy(model.state_dict())
        saved_opt = {k: v.clone() for k, v in opt.state_dict().items()}
        cuda = learn.device.type == "cuda"
        side = torch.cuda.Stream(learn.device) if cuda else None  # warm up off the stream to record on
        if side is not None:
            side.wait_stream(torch.cuda.current_stream(learn.device))
        # (without dropout: `train`'s eager warm-up has already run its kernels once, as loading them wants)
        with torch.cuda.stream(side) if cuda else contextlib.nullcontext(), _no_dropout(model):
            for _ in range(WARMUP_STEPS):
                opt.zero_grad()
                self._step(learn, g)
        if cuda:
            torch.cuda.current_stream(learn.device).wait_stream(cast(torch.cuda.Stream, side))
            opt.zero_grad()  # the recorded backward pass then makes its own gradients, fresh each replay
            g.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g.graph):
                g.preds, g.loss = self._step(learn, g)
        else:  # outputs to write into; recording on a GPU runs nothing, so this step draws nothing either
            g.graph = _Rerun(self, learn, g)
            with _no_dropout(model):
                g.preds, g.loss = (t.detach().clone() for t in self._step(learn, g))
        g.grads = [p.grad for p in opt.params]
        model.load_state_dict(saved_model)  # copies in place: the graph keeps the same tensors
        for key, buffer in opt.state_dict().items():  # one the warm-up made starts at zero, as SGD's does
            buffer.copy_(saved_opt[key]) if key in saved_opt else buffer.zero_()
        return g


@contextlib.contextmanager
def _no_dropout(model: torch.nn.Module) -> Iterator[None]:
    """Dropout off inside: a warm-up step then draws no random numbers, so recording leaves the random
    generators where they were, and a resumed run's masks follow the uninterrupted run's."""
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout) and m.training]
    for m in dropouts:
        m.eval()
    try:
        yield
    finally:
        for m in dropouts:
            m.train()


class _Rerun:
    """Stands in for a CUDA graph where there is no GPU (the tests on a CPU): a replay runs the
    step's Python again, into the same output tensors."""

    def __init__(self, steps: GraphedSteps, learn: "Learner", g: _Graph):
        self.steps, self.learn, self.g = steps, learn, g

    def replay(self) -> None:
        self.learn.opt.zero_grad()
        preds, loss = self.steps._step(self.learn, self.g)
        self.g.preds.copy_(preds.detach())
        self.g.loss.copy_(loss.detach())
