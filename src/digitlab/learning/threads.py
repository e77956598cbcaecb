"""One CPU thread for batches too small to share out, as the notes' batches of 5 are.

torch splits each operation over its threads. For a batch whose forward pass is a fraction of a
million floating-point operations (the notes' 784-30-10 net on 5 images: 0.24 million), one core does
it in tens of microseconds, about what waking and joining a second thread costs; on a machine busy
with other work that join waits for a free core, often milliseconds. So a fit on the CPU counts its
first training batch's operations (torch's `FlopCounterMode`) and, below `SMALL`, runs on one thread,
giving the count back when it ends. bench/fastai_oracle.py measures what that saves.

Counting is not free: `FlopCounterMode` imports torch._dynamo, over a second of CPU time on a 2-core
machine (`python -X importtime`). A model whose weight matrices and kernels hold W numbers does at
least 2 W operations per image (each weight multiplies and adds at least once), so where
2 W x batch size already reaches `SMALL` the answer is known and nothing is counted.
"""

from typing import TYPE_CHECKING

import torch
from torch.utils.flop_counter import FlopCounterMode

from digitlab.learning.callbacks import Callback

if TYPE_CHECKING:  # the Learner imports this module: its name for hints only
    from digitlab.learning.learner import Learner

SMALL = 1_000_000  # forward FLOPs a batch: tens of µs on one core, what a thread's wake-up costs


class OneThreadForSmallBatches(Callback):
    """Counts the first training batch's forward FLOPs; under `SMALL`, the fit runs on one thread."""

    order = -30

    def before_fit(self, learn: "Learner") -> None:
        self.threads = torch.get_num_threads()
        self.counter: FlopCounterMode | None = None
        self.decided = learn.device.type != "cpu"  # a GPU's batches are not the CPU's threads' work

    def before_batch(self, learn: "Learner") -> None:
        if self.decided or not learn.training:
            return
        self.decided = surely_large(learn.model, len(learn.batch[0]))
        if not self.decided:
            self.counter = FlopCounterMode(display=False)
            self.counter.__enter__()  # left in after_pred, or in cleanup_batch if the forward pass raised

    def after_pred(self, learn: "Learner") -> None:
        if self.counter is not None:
            flops = self._stop()
            self.decided = True
            if flops < SMALL:
                torch.set_num_threads(1)

    def _stop(self) -> int:
        counter, self.counter = self.counter, None
        if counter is None:
            return 0
        counter.__exit__(None, None, None)
        return int(counter.get_total_flops())

    def cleanup_batch(self, learn: "Learner") -> None:
        self._stop()  # a forward pass that raised: stop counting

    def cleanup_fit(self, learn: "Learner") -> None:
        self._stop()
        torch.set_num_threads(self.threads)


def surely_large(model: torch.nn.Module, batch_size: int) -> bool:
    """Whether a forward pass surely does `SMALL` FLOPs or more: 2 per weight (matrices and kernels,
    not biases or norms, which FlopCounterMode does not count) and image is its least. (An embedding
    table or a weight the forward pass leaves unused makes it say yes wrongly: the fit then keeps
    torch's own thread count, as it would without this callback.)"""
    weights = sum(p.numel() for p in model.parameters() if p.dim() >= 2)
    return 2 * weights * batch_size >= SMALL
