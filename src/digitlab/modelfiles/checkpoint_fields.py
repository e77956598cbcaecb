"""What a checkpoint may hold: every field typed and bounded, every tensor of the shape the run expects.

A checkpoint folder may come from anyone (a copied run, a shared folder), so nothing in it is
used before it is checked: a position past the run's end, a random generator's state of the
wrong size or a recorder row of strings is one line naming the field, not an IndexError.
"""

import math
from typing import Any

import torch

UINT32 = 1 << 32
NUMPY_KEYS, PYTHON_STATE = 624, 625  # the Mersenne Twister's state: 624 words (+ Python's position)


def check_meta(
    meta: dict[str, Any], n_epoch: int, batches: int, callbacks: dict[str, dict[str, Any]]
) -> None:
    """The JSON half of a checkpoint, for a run of `n_epoch` epochs of `batches` training batches.

    `callbacks` maps the names of the run's stateful callbacks to their state now (the fields to expect).
    """
    epoch = whole(meta, "epoch", 0, n_epoch)
    whole(meta, "iter", 0, batches - 1 if epoch < n_epoch else 0)
    whole(meta, "n_epoch", n_epoch, n_epoch)
    whole(meta, "metrics_train_count", 0, 1 << 50)
    rows = meta.get("recorder_rows")
    if not isinstance(rows, list) or len(rows) != epoch or not all(_is_row(r) for r in rows):
        raise ValueError(f"field 'recorder_rows' must hold one row of numbers per epoch done ({epoch})")
    _check_callbacks(meta.get("callbacks"), callbacks, n_epoch)
    _check_numpy_rng(meta.get("numpy_rng"))
    _check_python_rng(meta.get("python_rng"))


def check_tensors(tensors: dict[str, Any], expected: dict[str, Any], batches_done: int) -> None:
    """The tensor half: each tensor the run has now (`expected`) there, of its shape and dtype.

    The recorder's per-batch losses and learning rates grow with the run: one per batch done.
    """
    growing = {"recorder/batch_losses": torch.float32, "recorder/lrs": torch.float64}
    for key, want in expected.items():
        if key.startswith(("opt/", "cb/", "rng/cuda/")) or key in growing:
            continue  # momentum appears at the first step; the others are checked below or by their owner
        got = tensors.get(key)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape or got.dtype != want.dtype:
            raise ValueError(f"tensor {key!r} must be {want.dtype} {tuple(want.shape)}, got {_describe(got)}")
    for key, dtype in growing.items():
        got = tensors.get(key)
        if not isinstance(got, torch.Tensor) or got.dtype != dtype or got.shape != (batches_done,):
            raise ValueError(f"tensor {key!r} must be {dtype} ({batches_done},), got {_describe(got)}")
    for key, value in tensors.items():
        if value.is_floating_point() and not key.startswith("rng/") and not torch.isfinite(value).all():
            raise ValueError(f"tensor {key!r} holds NaN or infinite values")


def whole(meta: dict[str, Any], key: str, low: int, high: int) -> int:
    value = meta.get(key)
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"field {key!r} must be a whole number {low}..{high}, got {value!r:.40}")
    return value


def _is_row(row: object) -> bool:
    return isinstance(row, dict) and all(
        isinstance(k, str) and type(v) in (int, float) for k, v in row.items()
    )


def _is_number(value: object, allow_none: bool = True) -> bool:
    return (value is None and allow_none) or (isinstance(value, int | float) and type(value) is not bool
                                               and not math.isnan(value))  # fmt: skip


def _check_callbacks(saved: object, expected: dict[str, dict[str, Any]], n_epoch: int) -> None:
    """Each stateful callback's fields (KeepBest's best value and epoch), as the run's own has them."""
    if not isinstance(saved, dict) or set(saved) != set(expected):
        raise ValueError(f"field 'callbacks' must hold the state of {sorted(expected) or 'no callbacks'}")
    for name, state in saved.items():
        fields = set(expected[name]) - {"best_state"}
        if not isinstance(state, dict) or set(state) != fields:
            raise ValueError(f"field 'callbacks.{name}' must hold {sorted(fields)}")
        if not _is_number(state.get("best", 0)):
            raise ValueError(f"field 'callbacks.{name}.best' must be a number or null")
        epoch = state.get("best_epoch")
        if epoch is not None and (type(epoch) is not int or not 0 <= epoch < n_epoch):
            raise ValueError(f"field 'callbacks.{name}.best_epoch' must be an epoch 0..{n_epoch - 1} or null")


def _check_numpy_rng(state: Any) -> None:
    """numpy's legacy generator: ['MT19937', 624 words, position 0..624, has_gauss 0/1, cached gauss]."""
    ok = isinstance(state, list) and len(state) == 5 and state[0] == "MT19937"
    ok = ok and _words(state[1], NUMPY_KEYS) and type(state[2]) is int and 0 <= state[2] <= NUMPY_KEYS
    if not (ok and state[3] in (0, 1) and type(state[3]) is int and _is_number(state[4], allow_none=False)):
        raise ValueError("field 'numpy_rng' is not a state of numpy's random generator")


def _check_python_rng(state: Any) -> None:
    """Python's `random`: [version 3, 624 words and a position 0..624, the cached gauss or null]."""
    ok = isinstance(state, list) and len(state) == 3 and state[0] == 3 and type(state[0]) is int
    ok = ok and _words(state[1], PYTHON_STATE) and state[1][-1] <= NUMPY_KEYS
    if not (ok and _is_number(state[2])):
        raise ValueError("field 'python_rng' is not a state of Python's random generator")


def _words(values: object, count: int) -> bool:
    return (
        isinstance(values, list)
        and len(values) == count
        and all(type(v) is int and 0 <= v < UINT32 for v in values)
    )


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} {tuple(value.shape)}"
    return "nothing" if value is None else type(value).__name__
