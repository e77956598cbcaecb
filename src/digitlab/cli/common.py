"""What the commands share: the console they print to, the help for data sources, and the options
that `train` and `lr-find` both take (their defaults read from TrainConfig, written nowhere else)."""

import typer
from rich.console import Console

from digitlab.errors import plain
from digitlab.run.settings import TrainConfig

out = Console(highlight=False, soft_wrap=True, markup=False)  # a file name is never markup


def say(line: str) -> None:
    """Print one line of output; names from outside in it stay inert text (`errors.plain`)."""
    out.print(plain(line))


SRC_HELP = "'mnist' (bundled), a Kaggle CSV, a folder of IDX files, or a folder of 0/..9/ image folders"

DEFAULT = TrainConfig()  # the one place train's defaults are written
DATA = typer.Option(DEFAULT.data, help=SRC_HELP)
MODEL = typer.Option(DEFAULT.model, help="baseline, linear, mlp or cnn.")
PRESET = typer.Option(DEFAULT.preset, help="fast, default or best (CNN size, epochs, lr).")
BATCH_SIZE = typer.Option(DEFAULT.batch_size, help="Batch size (default: the preset's).")
SEED = typer.Option(DEFAULT.seed, help="Seed for initialisation, split, order and augmentation.")
