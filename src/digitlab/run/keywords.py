"""`digitlab.train`'s keywords, typed: TrainConfig's fields, one by one, for editors and type checkers.

A test checks that these are TrainConfig's fields with TrainConfig's types, so a setting added there
and not here fails the tests, not a user's completion.
"""

from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from PIL import Image

# What `Model.predict` takes: a file or folder, a PIL image, an array or tensor of one or N digits
ImageLike = str | Path | Image.Image | np.ndarray | torch.Tensor


class TrainSettings(TypedDict, total=False):
    """TrainConfig's fields as keywords of `digitlab.train` (see TrainConfig for what each one does)."""

    data: str
    classes: str | None
    preprocess: str | None
    model: str
    model_args: dict[str, Any] | None
    preset: str
    epochs: int | None
    epoch_size: int | None
    lr: float | None
    batch_size: int | None
    seed: int
    valid_fraction: float | None
    patience: int | None
    device: str
    out: str
    init: str | None
    tensorboard: str | None
    mlflow: str | None
    mlflow_experiment: str
    mlflow_run_name: str | None
    mlflow_tags: tuple[str, ...]
    checkpoint_every: int | None
    nproc: int
    compile: bool
    cuda_graphs: bool | None
    channels: int | None
    widths: tuple[int, int, int] | None
    convs: int | None
    strided_stem: bool | None
    dropout: float | None
    augment: bool | None
    augmentation: str | None
    rotate: float | None
    shift: float | None
    zoom: float | None
    stroke: float | None
    label_smoothing: float | None
    opt: str
    opt_args: dict[str, Any] | None
    callbacks: tuple[str, ...]
