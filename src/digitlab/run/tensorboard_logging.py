"""`train --tensorboard DIR`: a callback of the training run (needs the tensorboard extra).

Per training batch: loss and learning rate. Per epoch: the epoch table's numbers. At the end:
the first layer's weights as one image, and the run's settings as hparams in the same run
folder. TensorBoard is imported only when this callback is made; its part on the Learner
(`TensorBoardSteps`) writes what each batch and epoch give.
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from digitlab.errors import DigitlabError
from digitlab.learning.callbacks import Callback
from digitlab.learning.learner import Learner
from digitlab.models import unwrap
from digitlab.models.layers import unit_images

if TYPE_CHECKING:
    from digitlab.run.training_run import TrainingRun


class TensorBoardLogger:
    """A callback of the run: opens the log folder when the run is built (a file there is refused
    before any training) and gives the Learner the part that writes as it trains."""

    def __init__(self, log_dir: str, hparams: dict[str, Any]):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise DigitlabError(
                "--tensorboard needs the tensorboard extra: pip install 'digitlab[tensorboard]'"
            ) from None
        if Path(log_dir).exists() and not Path(log_dir).is_dir():
            raise DigitlabError(f"{log_dir}: is a file, and --tensorboard wants a folder")
        self.steps = TensorBoardSteps(SummaryWriter(log_dir), hparams)
        self.learner_cbs: list[Callback] = [self.steps]

    def before_fit(self, run: "TrainingRun") -> None:
        self.steps.hparams = run.config.to_json()  # fitted to the data: its kind's recipe and CNN size


class TensorBoardSteps(Callback):
    """The logger's part on the Learner: each batch, each epoch, and the end of the fit."""

    order = 30

    def __init__(self, writer: Any, hparams: dict[str, Any]):
        self.writer, self.hparams, self.step = writer, hparams, 0

    def after_batch(self, learn: Learner) -> None:
        if learn.training:
            self.writer.add_scalar("train/batch_loss", learn.loss.item(), self.step)
            self.writer.add_scalar("train/lr", learn.opt.lr, self.step)
            self.step += 1

    def after_epoch(self, learn: Learner) -> None:
        for key, value in learn.epoch_row.items():
            if key not in ("epoch", "time"):
                self.writer.add_scalar(f"epoch/{key}", value, learn.epoch)

    def after_fit(self, learn: Learner) -> None:
        layer = getattr(unwrap(learn.model), "first_layer", None)
        if layer is not None:
            self.writer.add_image("first_layer_weights", weight_grid(layer.weight), self.step)
        metrics = {f"final/{k}": v for k, v in learn.epoch_row.items() if k not in ("epoch", "time")}
        self._hparams(metrics)

    def cleanup_fit(self, learn: Learner) -> None:
        self.writer.close()

    def _hparams(self, metrics: dict[str, Any]) -> None:
        """Settings and final numbers as hparams, written into this run's folder (not a new one)."""
        from torch.utils.tensorboard.summary import hparams

        settings = {
            k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in self.hparams.items()
        }
        for summary in hparams(settings, metrics):
            self.writer.file_writer.add_summary(summary)  # type: ignore[attr-defined]  # open until cleanup
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, self.step)


def weight_grid(weight: torch.Tensor, pad: int = 1) -> torch.Tensor:
    """(units, ...) weights as one (1,H,W) image in [0,1], each unit on its own scale, in a square grid."""
    w = (unit_images(weight)[0] + 1) / 2  # per unit, into [0,1]
    side = w.shape[-1]
    cols = math.ceil(math.sqrt(len(w)))
    rows = math.ceil(len(w) / cols)
    grid = torch.full((rows * (side + pad), cols * (side + pad)), 0.5)
    for i, unit in enumerate(w):
        r, c = divmod(i, cols)
        grid[r * (side + pad) : r * (side + pad) + side, c * (side + pad) : c * (side + pad) + side] = unit
    return grid.unsqueeze(0)
