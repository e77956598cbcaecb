"""A model of the user's own: any `nn.Module` class Python can import, named `package.module:Class`.

The class is built with the user's keyword arguments (`--model-args`), and wrapped so that it
meets digitlab's model contract: (B,C,H,W) floats in [0,1] go in (C: 1 grey, 3 colour), the
training set's mean and std are taken off (as every digitlab model does, so the ONNX file's input is
the same), and the class's own forward gives (B,K) scores. A class whose constructor takes
`in_channels` is given C there (unless the user's arguments set it); any other must read C channels
itself. A model file records the import path and the arguments; the weights are safetensors, as for
every model.

Importing a module runs its code. The name is therefore checked to be a dotted Python name (no
path, no call), and model files that name one are loaded only with the user's consent
(`modelfiles.model_file.load_model(trust_code=True)`, `--trust-code` on the command line).
"""

import contextlib
import importlib
import inspect
import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any, cast

import torch
from torch import nn

from digitlab.models.layers import (
    Normalize,
    channels_config,
    check_channels,
    check_input_size,
    check_normalization,
)

# package.module:Class or package.module:Outer.Inner: ASCII Python names only (never printed as markup)
DOTTED_NAME = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
IMPORT_PATH = re.compile(rf"{DOTTED_NAME}:{DOTTED_NAME}")
MAX_ARGS_BYTES = 64 * 1024  # keyword arguments as JSON: a model's are a few dozen bytes


def is_import_path(name: object) -> bool:
    """Whether `name` has the form `package.module:Class` (it says nothing of whether it imports)."""
    return isinstance(name, str) and len(name) <= 300 and IMPORT_PATH.fullmatch(name) is not None


def parse_model_args(text: str | None, name: str = "model_args") -> dict[str, Any]:
    """`--model-args`' JSON object (None: no arguments), as keyword arguments; `name` is the setting's
    (`opt_args` takes the same form)."""
    if text is None:
        return {}
    if len(text.encode()) > MAX_ARGS_BYTES:
        raise ValueError(f"{name} is over {MAX_ARGS_BYTES:,} bytes")
    try:
        args = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{name} is not JSON ({e})") from None
    check_args(args, name)
    return dict(args)


def check_args(args: object, name: str = "model_args") -> None:
    """A JSON object whose keys are Python names: what `Class(**args)` can take."""
    if not isinstance(args, dict):
        raise ValueError(f"{name} must be a JSON object of keyword arguments, got {args!r:.40}")
    for key in args:
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"{name}: {key!r:.40} is not a keyword argument's name")
    if len(json.dumps(args)) > MAX_ARGS_BYTES:
        raise ValueError(f"{name} is over {MAX_ARGS_BYTES:,} bytes")


def import_class(path: str, base: type = nn.Module, what: str = "torch.nn.Module") -> type:
    """The class `package.module:Class` names, a subclass of `base` (`what` names it in the error: a
    model is a torch.nn.Module, a callback any class), imported as `python -c 'import package.module'`
    would from the current folder (as uvicorn and torchrun find the user's code). Runs the module's code."""
    if not is_import_path(path):
        raise ValueError(f"{path!r:.80} is not an import path of the form package.module:Class")
    module_name, qualname = path.split(":")
    with _current_folder_importable():
        try:
            found: Any = importlib.import_module(module_name)
        except Exception as e:  # noqa: BLE001 (the user's module may raise anything while it loads)
            raise ValueError(f"cannot import {module_name} ({type(e).__name__}: {e})") from None
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ValueError(f"{path} is not a {what} class")
    return found


@contextlib.contextmanager
def _current_folder_importable() -> Iterator[None]:
    """The current folder first on sys.path while importing (put back after)."""
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        yield
    finally:
        if added and here in sys.path:
            sys.path.remove(here)


class ImportedModel(nn.Module):
    """(B,C,H,W) in [0,1] -> normalise -> the user's module -> (B,K) scores.

    `target`: `package.module:Class`; `args`: its keyword arguments; `input_size`: (H, W) of the
    images it reads; `mean`, `std`: the training set's, as every digitlab model takes them off;
    `in_channels`: C, passed on to a class that takes an `in_channels` argument.
    """

    def __init__(
        self,
        target: str,
        args: dict[str, Any] | None = None,
        input_size: tuple[int, int] = (28, 28),
        mean: float = 0.0,
        std: float = 1.0,
        in_channels: int = 1,
    ):
        args = {} if args is None else args
        check_args(args)
        check_normalization(mean, std)
        height, width = check_input_size(input_size)
        channels = check_channels(in_channels)
        cls = import_class(target)
        super().__init__()
        self.normalize = Normalize(mean, std)
        try:
            self.net = cls(**_with_channels(cls, args, channels))
        except Exception as e:  # noqa: BLE001 (the user's constructor may raise anything)
            raise ValueError(f"{target}(**{json.dumps(args):.80}) failed ({type(e).__name__}: {e})") from None
        self.config = {
            "target": target, "args": args, "input_size": [height, width], "mean": mean, "std": std,
            **channels_config(channels),
        }  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.net(self.normalize(x)))


def _with_channels(cls: type[nn.Module], args: dict[str, Any], channels: int) -> dict[str, Any]:
    """`args`, plus `in_channels` when the class's constructor takes it and the user did not set it."""
    try:
        takes = "in_channels" in inspect.signature(cls).parameters
    except (TypeError, ValueError):  # a constructor Python cannot read the signature of
        takes = False
    return {**args, "in_channels": channels} if takes and "in_channels" not in args else dict(args)
