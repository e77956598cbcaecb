"""What a model folder from anyone must pass before its model is used: model.json's fields, the
weights file (a regular file of a size the model allows), each tensor, and the model's outputs."""

import os
from pathlib import Path

import torch
from torch import nn

from digitlab.data.class_names import check_names
from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular
from digitlab.models import MODELS, input_channels, input_size, is_import_path
from digitlab.version import __version__

FORMAT = "digitlab-model"
FORMAT_VERSION = 1
MAX_SOURCE_CHARS = 4096  # PATH_MAX on Linux: the longest path a data source can have


def check_info(info: dict, path: Path) -> None:
    """Every field a model.json must have, of its type and within its bounds (it may come from anyone)."""
    if info.get("format") != FORMAT:
        raise DigitlabError(f"{path}: not a digitlab model (field 'format' is {info.get('format')!r})")
    version = info.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise DigitlabError(
            f"{path}: model format version {version} is not supported by digitlab "
            f"{__version__} (it reads version {FORMAT_VERSION})"
        )
    for key, kind in (
        ("architecture", str),
        ("config", dict),
        ("weights_file", str),
        ("weights_sha256", str),
    ):
        if key not in info:
            raise DigitlabError(f"{path}: field {key!r} is missing")
        if not isinstance(info[key], kind):
            raise DigitlabError(f"{path}: field {key!r} must be a {kind.__name__}, got {info[key]!r:.40}")
    if info["architecture"] not in MODELS:
        raise DigitlabError(f"{path}: unknown architecture {info['architecture']!r}")
    if info["architecture"] == "imported" and not is_import_path(info["config"].get("target")):
        raise DigitlabError(f"{path}: field 'config.target' must be an import path (package.module:Class)")
    size = info.get("input_size", [28, 28])
    if not (
        isinstance(size, list) and len(size) == 2 and all(type(s) is int and 8 <= s <= 256 for s in size)
    ):
        raise DigitlabError(
            f"{path}: field 'input_size' must be [height, width], 8..256 each, not {size!r:.40}"
        )
    _check_classes(info.get("classes", list(range(10))), path)
    if info.get("preprocessing", "mnist") not in ("mnist", "as-is"):
        raise DigitlabError(f"{path}: field 'preprocessing' must be 'mnist' or 'as-is'")
    channels = info.get("channels", 1)  # a model.json from before colour has none: grey
    if type(channels) is not int or channels not in (1, 3):
        raise DigitlabError(f"{path}: field 'channels' must be 1 (grey) or 3 (colour), not {channels!r:.40}")
    if not isinstance(source := info.get("data_source", ""), str) or len(source) > MAX_SOURCE_CHARS:
        limit = f"{MAX_SOURCE_CHARS} characters or less"
        raise DigitlabError(f"{path}: field 'data_source' must be a path of {limit}")


def _check_classes(classes, path: Path) -> None:
    """The numbers 0..K-1 (a digit model's, and models of numbered classes), or K distinct names."""
    if not (isinstance(classes, list) and 1 <= len(classes) <= 1000):
        raise DigitlabError(f"{path}: field 'classes' must be a list of 1 to 1,000 labels")
    if all(type(c) is int for c in classes):
        if classes != list(range(len(classes))):
            raise DigitlabError(f"{path}: field 'classes' must be the numbers 0..{len(classes) - 1} in order")
    elif all(isinstance(c, str) for c in classes):
        check_names(classes, f"{path}: field 'classes'")
    else:
        raise DigitlabError(f"{path}: field 'classes' must be all numbers or all names, not {classes!r:.60}")


def max_weights_bytes(expected: dict[str, torch.Tensor]) -> int:
    """What a safetensors file of these tensors can weigh: the data plus a generous header."""
    return sum(t.numel() * t.element_size() for t in expected.values()) + 64 * 1024 + 256 * len(expected)


def read_weights(json_path: Path, name: str, max_bytes: int) -> bytes:
    """The weights file named in model.json: a regular file in the same folder, of a sane size."""
    if not name or name != Path(name).name or name in (".", ".."):
        raise DigitlabError(f"{json_path}: field 'weights_file' must name a file in the model's own folder")
    path = json_path.parent / name
    if not os.path.lexists(path):
        raise DigitlabError(f"{path}: weights file named in {json_path.name} is missing")
    return read_regular(path, max_bytes, what="the model can hold")


def check_tensors(state: dict, expected: dict, path: Path, architecture: str) -> None:
    """Every tensor the model needs, of its shape and dtype, and finite."""
    if set(state) != set(expected):
        diff = sorted(set(state) ^ set(expected))[:3]
        raise DigitlabError(f"{path}: weights do not fit {architecture} (tensors differ: {', '.join(diff)})")
    for key, want in expected.items():
        got = state[key]
        if got.shape != want.shape or got.dtype != want.dtype:
            raise DigitlabError(
                f"{path}: weights do not fit {architecture} ({key} is {got.dtype} {tuple(got.shape)}, "
                f"expected {want.dtype} {tuple(want.shape)})"
            )
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise DigitlabError(f"{path}: tensor {key} holds NaN or infinite values")


def check_outputs(model: nn.Module, size: list[int], channels: int, n_classes: int, json_path: Path) -> None:
    """The model reads images of the size and channels model.json states and gives one score per
    listed class."""
    if list(input_size(model)) != size:
        raise DigitlabError(f"{json_path}: field 'input_size' {size} differs from the model's")
    if input_channels(model) != channels:
        raise DigitlabError(
            f"{json_path}: field 'channels' {channels} differs from the model's {input_channels(model)}"
        )
    with torch.no_grad():
        try:
            shape = tuple(model(torch.zeros(2, channels, *size)).shape)
        except Exception as e:  # noqa: BLE001 (a model of the user's own may raise anything)
            raise DigitlabError(f"{json_path}: the model fails on {size} images ({e})") from None
    if shape != (2, n_classes):
        raise DigitlabError(
            f"{json_path}: the model gives outputs of shape {shape} for 2 images, "
            f"not one score for each of its {n_classes} classes"
        )
