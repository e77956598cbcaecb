"""Ways of running one training step, chosen when a run is built: the Learner calls `learn.train_step`.

`EagerStep` is the step as the lesson teaches it: predict, loss, backward, step, each followed by
its event. `ShardedStep` is the same step when several processes each hold a slice of the batch
(torch.distributed). `cuda_graphs.GraphedSteps` replays the whole step from a CUDA graph.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Learner imports this module: its name for hints only
    from digitlab.learning.learner import Learner


class EagerStep:
    """predict -> loss -> backward -> step -> zero_grad, with the Learner's events in between."""

    def __call__(self, learn: "Learner") -> None:
        with learn.autocast_context():
            learn.preds = learn.predict_batch()
            learn.callback("after_pred")
            learn.loss = learn.get_loss()
        learn.callback("after_loss")
        self.backward(learn)
        learn.callback("after_backward")
        learn.step()
        learn.callback("after_step")
        learn.zero_grad()

    def backward(self, learn: "Learner") -> None:
        learn.backward()


class ShardedStep(EagerStep):
    """A process's slice of the batch (DistributedDataParallel averages gradients over the processes).

    Each slice's loss is a mean over its own samples; weighed by the slice's share of the whole batch
    (times the processes, which the average divides by), the gradient is the whole batch's mean, also
    for a last batch that does not split evenly. The recorded loss stays the slice's own.
    """

    def __init__(self, world: int):
        self.world = world

    def backward(self, learn: "Learner") -> None:
        share = len(learn.yb) * self.world / learn.dl.batch_len(learn.iter)
        (learn.loss * share).backward()
