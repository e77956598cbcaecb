"""The images a trained model is judged on: by default its own data (model.json records where), held
out as `train` held them out, so `evaluate`, `export` and `explain` need no --data and agree with train."""

import warnings
from dataclasses import dataclass
from pathlib import Path

from digitlab.data import Dataset, load_source
from digitlab.data.holdout import hold_out
from digitlab.data.sources import source_location
from digitlab.errors import DigitlabError
from digitlab.inference.evaluation import evaluation_data, with_model_names
from digitlab.modelfiles.model_file import ModelInfo


@dataclass(frozen=True)
class HeldOut:
    """Labelled images a model did not train on, and where they came from (named in every output)."""

    source: str  # the SRC read: 'mnist', a path
    split: str  # 'test' (the source's), 'valid' (the split train held out) or 'all' (other data, no test)
    data: Dataset

    def line(self) -> str:
        """'data: /home/me/shapes, test split (1,000 images)'."""
        return f"data: {self.source}, {self.split} split ({len(self.data):,} images)"


def recorded_source(info: ModelInfo) -> str:
    """The SRC the model was trained on: model.json's `data_source`, else (older files) its settings'."""
    data = info.data_source or info.settings.get("data")
    return data if isinstance(data, str) and data else "mnist"


def held_out(info: ModelInfo, data: str | None = None) -> HeldOut:
    """Other `data`'s test split (else all its labelled images), or the model's own data (None, or the
    same SRC given): its test split, else the validation split train drew (the settings' fraction and
    seed, `data.holdout`), never images it trained on. Either is read as the model reads: its
    preprocessing and its channels (a colour model's grey data repeated in three)."""
    if data is not None and source_location(data) != source_location(recorded_source(info)):
        source = load_source(data, preprocess=info.preprocessing, channels=info.channels)
        split, dataset = evaluation_data(source, info.classes)
        return HeldOut(data, split, dataset)
    src = data or recorded_source(info)
    if src != "mnist" and not Path(src).exists():
        raise DigitlabError(f"{src}: the data this model was trained on is no longer there; pass --data SRC")
    names = tuple(info.classes) if info.named else None
    source = load_source(src, names, info.preprocessing, info.channels)
    fraction, seed = info.settings.get("valid_fraction"), info.settings.get("seed")
    if source.test is not None or not isinstance(fraction, float) or not isinstance(seed, int):
        split, dataset = evaluation_data(source, info.classes)  # an ensemble's settings hold no split
        return HeldOut(src, split, dataset)
    holdout = hold_out(source.train, source.valid, fraction, seed)
    if info.data_fingerprint and holdout.train.fingerprint() != info.data_fingerprint:
        warnings.warn(
            f"{src}: its images changed since the model was trained on them; the valid split may hold "
            "images it trained on",
            stacklevel=2,
        )
    return HeldOut(src, "valid", with_model_names(holdout.valid, info.classes, f"{src} (valid)"))
