"""Training state on disk, so a run killed at any moment continues exactly where it stopped.

A checkpoint holds everything the next batch depends on: the weights, the optimizer's
momentum, where in which epoch the run is, every random generator (torch's, CUDA's,
numpy's, Python's, the batch order's and the augmentation's), the history recorded so far
and the state of the callbacks (the running loss of the epoch, the best weights seen).
Resuming from it and training on gives the same weights, bit for bit, as never stopping.

Format, as for model files: tensors in safetensors, everything else in JSON, never pickle.
`checkpoint.json` is written last and names its tensor file, so the previous checkpoint
stays whole until the new one is; a kill mid-write leaves the old one to resume from.
"""

import hashlib
import json
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular, refuse_special, write_bytes_atomic, write_text_atomic
from digitlab.learning.callbacks import Callback
from digitlab.modelfiles.checkpoint_fields import check_meta, check_tensors
from digitlab.models import MAX_NUMBERS, unwrap
from digitlab.version import __version__

if TYPE_CHECKING:  # the Learner imports this module: its name for hints only
    from digitlab.learning.learner import Learner

FORMAT = "digitlab-checkpoint"
FORMAT_VERSION = 1
JSON_NAME = "checkpoint.json"
STATE_FILE = re.compile(r"state-[0-9a-f]{16}\.safetensors")
MAX_JSON_BYTES = 16 << 20  # the settings, the position, two random states and a row per epoch: ~30 KB
# Weights, momentum and the best epoch's weights, each at most MAX_NUMBERS float32s, and the rest
MAX_STATE_BYTES = 3 * 4 * MAX_NUMBERS + (64 << 20)


class Checkpoint(Callback):
    """Saves the training state every `every` training batches (None: only) at each epoch's end.

    `generators` are the extra random generators the run draws from (the augmentation's);
    `extra` is JSON stored with it (the run's settings). With `resume_from`, the state is put
    back at the start of `fit`, which must then be called with that state's `start`.
    """

    order = 50  # after the Recorder, KeepBest and EarlyStopping have done their part

    def __init__(
        self,
        folder: str | Path,
        every: int | None = None,
        generators: Iterable[torch.Generator] = (),
        extra: dict[str, Any] | None = None,
        resume_from: tuple[dict[str, Any], dict[str, Any]] | None = None,
        write: bool = True,
    ):
        self.folder, self.every, self.generators = Path(folder), every, list(generators)
        self.extra, self.pending, self.write = extra or {}, resume_from, write  # (write: rank 0 only)

    def before_fit(self, learn: "Learner") -> None:
        if self.write:  # refused now, not after an epoch of training
            refuse_special(self.folder / JSON_NAME)
        if self.pending is not None:
            try:
                restore(learn, self.pending, self.generators)
            except (KeyError, IndexError, ValueError, TypeError, RuntimeError) as e:
                raise DigitlabError(f"{self.folder / JSON_NAME}: damaged ({e})") from None

    def before_epoch(self, learn: "Learner") -> None:
        if self.pending is not None and learn.epoch == learn.start_epoch:
            tensors, meta = self.pending  # the running training loss so far: it goes on across epochs
            learn.metrics.load_state_dict(
                {"train_total": tensors["metrics/train_total"], "train_count": meta["metrics_train_count"]}
            )
        self.pending = None

    def after_batch(self, learn: "Learner") -> None:
        done = learn.iter + 1
        due = self.every and done % self.every == 0 and done < len(learn.dls.train)
        if self.write and learn.training and due:
            save(self.folder, learn, (learn.epoch, done), self.generators, self.extra)

    def after_epoch(self, learn: "Learner") -> None:
        if self.write:
            save(self.folder, learn, (learn.epoch + 1, 0), self.generators, self.extra)


def save(
    folder: Path,
    learn: "Learner",
    position: tuple[int, int],
    generators: list[torch.Generator],
    extra: dict[str, Any],
) -> None:
    """Write the learner's state at `position` = (epoch, batches done in it)."""
    tensors, meta = _collect(learn, position, generators)
    data = save_safetensors({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()})
    digest = hashlib.sha256(data).hexdigest()
    name = f"state-{digest[:16]}.safetensors"
    write_bytes_atomic(folder / name, data)
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, "digitlab_version": __version__,
            "tensors_file": name, "tensors_sha256": digest, **meta, "extra": extra}  # fmt: skip
    write_text_atomic(folder / JSON_NAME, json.dumps(info) + "\n")  # the commit point
    for old in folder.glob("state-*.safetensors"):
        if old.name != name and STATE_FILE.fullmatch(old.name):  # only names this function writes
            old.unlink(missing_ok=True)


def _collect(
    learn: "Learner", position: tuple[int, int], generators: list[torch.Generator]
) -> tuple[dict[str, Any], dict[str, Any]]:
    dl = learn.dls.train
    # mid-epoch: the generator as it was before this epoch's order was drawn, to draw it again
    dl_state = dl.epoch_start_state if position[1] else dl.generator.get_state()
    tensors = {
        **{f"model/{k}": v for k, v in unwrap(learn.model).state_dict().items()},
        **{f"opt/{k}": v for k, v in learn.opt.state_dict().items()},
        "rng/torch": torch.get_rng_state(),
        "rng/loader": dl_state,
        **{f"rng/extra/{i}": g.get_state() for i, g in enumerate(generators)},
        **{f"rng/cuda/{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())},
    }
    recorder = learn.recorder.state_dict()
    tensors["recorder/batch_losses"], tensors["recorder/lrs"] = recorder["batch_losses"], recorder["lrs"]
    metrics = learn.metrics.state_dict()
    tensors["metrics/train_total"] = metrics["train_total"]
    callbacks = {}
    for cb in learn.cbs:
        if hasattr(cb, "best_state"):  # KeepBest, EarlyStopping
            state = cb.state_dict()
            for k, v in (state.pop("best_state", None) or {}).items():
                tensors[f"cb/{type(cb).__name__}/{k}"] = v
            callbacks[type(cb).__name__] = state
    np_kind, np_keys, np_pos, np_gauss, np_cached = cast(tuple[Any, ...], np.random.get_state())
    meta = {
        "epoch": position[0], "iter": position[1], "n_epoch": learn.n_epoch,
        "recorder_rows": recorder["rows"], "metrics_train_count": metrics["train_count"],
        "callbacks": callbacks,
        "numpy_rng": [np_kind, np_keys.tolist(), np_pos, np_gauss, np_cached],
        "python_rng": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }  # fmt: skip
    return tensors, meta


def load(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of the checkpoint in `folder`, checked; a clear error if there is none."""
    folder, meta = Path(folder), load_metadata(folder)
    name = meta.get("tensors_file")
    if not isinstance(name, str) or not STATE_FILE.fullmatch(name):
        raise DigitlabError(f"{folder / JSON_NAME}: field 'tensors_file' must name a state file beside it")
    tensors_path = folder / name
    data = b""
    if tensors_path.exists():
        data = read_regular(tensors_path, MAX_STATE_BYTES, what="a checkpoint can hold")
    if hashlib.sha256(data).hexdigest() != meta.get("tensors_sha256"):
        raise DigitlabError(f"{tensors_path}: missing or damaged (checksum differs from {JSON_NAME})")
    try:
        return load_safetensors(data), meta
    except (SafetensorError, ValueError) as e:
        raise DigitlabError(f"{tensors_path}: not a valid safetensors file ({e})") from None


def load_metadata(folder: str | Path) -> dict[str, Any]:
    """checkpoint.json alone, checked (the run's settings and position, without the tensors)."""
    folder = Path(folder)
    path = folder / JSON_NAME
    if not path.exists():
        raise DigitlabError(f"{folder}: no checkpoint to resume from ({JSON_NAME} is missing)")
    try:
        meta = json.loads(read_regular(path, MAX_JSON_BYTES, what="a checkpoint can hold"))
    except (ValueError, RecursionError) as e:
        raise DigitlabError(f"{path}: not a digitlab checkpoint ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DigitlabError(f"{path}: not a digitlab checkpoint")
    if meta.get("format_version") != FORMAT_VERSION or meta.get("digitlab_version") != __version__:
        raise DigitlabError(
            f"{path}: written by digitlab {meta.get('digitlab_version')} (checkpoint format "
            f"{meta.get('format_version')}); this is digitlab {__version__}: resume it with that version"
        )
    return meta


def restore(
    learn: "Learner", state: tuple[dict[str, Any], dict[str, Any]], generators: Iterable[torch.Generator] = ()
) -> None:
    """Put a saved state back into a learner whose fit has just begun (its optimizer exists).

    Every field and tensor is checked first (`checkpoint_fields`): a ValueError names the bad one.
    """
    tensors, meta = state
    stateful = {type(cb).__name__: cb.state_dict() for cb in learn.cbs if hasattr(cb, "best_state")}
    batches = len(learn.dls.train)
    check_meta(meta, learn.n_epoch, batches, stateful)
    expected = {
        **{f"model/{k}": v for k, v in unwrap(learn.model).state_dict().items()},
        "rng/torch": torch.get_rng_state(),
        "rng/loader": learn.dls.train.generator.get_state(),
        **{f"rng/extra/{i}": g.get_state() for i, g in enumerate(generators)},
        "metrics/train_total": torch.zeros(()),
    }  # what `_collect` saves, but for the parts checked elsewhere (optimizer, callbacks, recorder)
    check_tensors(tensors, expected, meta["epoch"] * batches + meta["iter"])
    model_state = unwrap(learn.model).state_dict()
    for key, value in tensors.items():
        if key.startswith("cb/"):  # the best epoch's weights, put back when the fit ends
            want = model_state.get(key.split("/", 2)[2])
            if want is None or value.shape != want.shape or value.dtype != want.dtype:
                raise ValueError(f"tensor {key!r} does not fit the model")
    unwrap(learn.model).load_state_dict(_prefixed(tensors, "model/"))
    learn.opt.load_state_dict(_prefixed(tensors, "opt/"))
    torch.set_rng_state(tensors["rng/torch"])
    learn.dls.train.generator.set_state(tensors["rng/loader"])
    for i, g in enumerate(generators):
        g.set_state(tensors[f"rng/extra/{i}"])
    cuda = [tensors[f"rng/cuda/{i}"] for i in range(torch.cuda.device_count()) if f"rng/cuda/{i}" in tensors]
    if cuda:
        torch.cuda.set_rng_state_all(cuda)
    learn.recorder.load_state_dict(
        {"rows": meta["recorder_rows"], **{k: tensors[f"recorder/{k}"] for k in ("batch_losses", "lrs")}}
    )
    kind, keys, pos, gauss, cached = meta["numpy_rng"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, gauss, cached))
    version, internal, gauss_next = meta["python_rng"]
    random.setstate((version, tuple(internal), gauss_next))
    for cb in learn.cbs:
        name = type(cb).__name__
        if name in meta["callbacks"]:
            best = _prefixed(tensors, f"cb/{name}/")
            cb.load_state_dict({**meta["callbacks"][name], **({"best_state": best} if best else {})})


def _prefixed(tensors: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
