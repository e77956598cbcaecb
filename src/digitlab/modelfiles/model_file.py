"""Model files: weights as safetensors plus a JSON file that rebuilds and describes the model.

Loading never unpickles anything, and checks all it reads (`model_checks`). A save is atomic:
the weights go to a new file named by their hash, then the JSON, the one file that points at
them, is replaced in one rename. An interrupted save therefore leaves the previous model whole.
"""

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular, refuse_special, write_bytes_atomic, write_text_atomic
from digitlab.modelfiles.model_checks import (
    FORMAT,
    FORMAT_VERSION,
    check_info,
    check_outputs,
    check_tensors,
    max_weights_bytes,
    read_weights,
)
from digitlab.models import UntrustedCode, build_model, input_channels, input_size, model_name, output_count
from digitlab.version import __version__

JSON_NAME = "model.json"
WEIGHTS_FILE = re.compile(r"model-[0-9a-f]{12}\.safetensors")  # the names save_model gives
MAX_JSON_BYTES = 16 << 20  # a model.json with a long history is tens of kilobytes


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """Everything model.json says: how to rebuild the model, and what it is (one type for every writer)."""

    architecture: str  # a name in digitlab.models.MODELS
    config: dict  # the keyword arguments that rebuild it
    weights_file: str = ""  # filled by save_model
    weights_sha256: str = ""
    classes: list = field(default_factory=lambda: list(range(10)))  # the labels of its outputs, in order
    input_size: list = field(default_factory=lambda: [28, 28])  # (height, width) of the images it reads
    channels: int = 1  # of the images it reads: 1 grey, 3 colour (RGB)
    normalization: dict = field(default_factory=dict)  # what the model's own Normalize layer applies
    preprocessing: str = "mnist"  # how an image becomes its input: "mnist" (to_mnist) or "as-is" (as_input)
    settings: dict = field(default_factory=dict)  # the training config that made it
    history: list = field(default_factory=list)  # one row per epoch
    metrics: dict = field(default_factory=dict)
    data_fingerprint: str = ""  # SHA-256 of the training images and labels
    data_source: str = ""  # the SRC it was trained on ('mnist', or an absolute path): evaluate's default
    seconds: dict = field(default_factory=dict)
    augmentation_chosen: str = ""  # why the run's augmentation is its kind: the data's look, or the flag
    digitlab_version: str = __version__
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @classmethod
    def describe(cls, model: nn.Module, **fields) -> "ModelInfo":
        """The info of `model` as it is now: architecture, config and normalisation read off the model."""
        norm = {k: model.config[k] for k in ("mean", "std") if k in model.config}
        fields.setdefault("classes", list(range(output_count(model))))
        return cls(
            architecture=model_name(model), config=model.config, normalization=norm,
            input_size=list(input_size(model)), channels=input_channels(model), **fields,
        )  # fmt: skip

    @property
    def named(self) -> bool:
        """Whether its classes have names (`cat`, `dog`) rather than numbers (the digits 0..9)."""
        return any(isinstance(c, str) for c in self.classes)

    def label(self, index: int) -> str:
        """The name of output `index` ('7' for a digit model's seventh)."""
        return str(self.classes[index])

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict, path: Path) -> "ModelInfo":
        check_info(data, path)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def save_model(model: nn.Module, folder: str | Path, info: ModelInfo) -> Path:
    """Write `folder/model.json` and its weights file; returns the JSON path."""
    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = save_safetensors(state)
    digest = hashlib.sha256(weights).hexdigest()
    weights_name = f"model-{digest[:12]}.safetensors"
    json_path = folder / JSON_NAME
    refuse_special(json_path)  # before the weights are written: nothing is left half-done
    old = _read_json(json_path).get("weights_file") if json_path.is_file() else None
    write_bytes_atomic(folder / weights_name, weights)
    info = dataclasses.replace(info, weights_file=weights_name, weights_sha256=digest)
    write_text_atomic(json_path, json.dumps(info.to_json(), indent=2) + "\n")
    if isinstance(old, str) and old != weights_name and WEIGHTS_FILE.fullmatch(old):  # ours, replaced
        (folder / old).unlink(missing_ok=True)
    return json_path


TRUST_HINT = (
    "loading it imports that module and runs its code: if you trust this model folder, "
    "pass --trust-code (in Python: trust_code=True)"
)


def load_model(path: str | Path, trust_code: bool = False) -> tuple[nn.Module, ModelInfo]:
    """The model (in eval mode) and its metadata, from the folder, the JSON or the weights.

    A model of the user's own class (architecture `imported`) imports the module model.json
    names, which runs its code: refused unless `trust_code`. digitlab's own models never need it.
    """
    json_path = _json_path(Path(path))
    info = read_info(json_path)
    weights_path = json_path.parent / info.weights_file
    try:
        model = build_model(info.architecture, trust_code, **info.config)  # the config is bounded first
    except UntrustedCode as e:
        raise DigitlabError(f"{json_path}: {e}; {TRUST_HINT}") from None
    except (TypeError, ValueError) as e:
        what = f"field 'config' does not describe a {info.architecture}"
        raise DigitlabError(f"{json_path}: {what} ({e})") from None
    expected = model.state_dict()
    data = read_weights(json_path, info.weights_file, max_weights_bytes(expected))
    if hashlib.sha256(data).hexdigest() != info.weights_sha256:
        raise DigitlabError(f"{weights_path}: weights do not match the checksum in {json_path.name}")
    try:
        state = load_safetensors(data)
    except (SafetensorError, ValueError) as e:
        raise DigitlabError(f"{weights_path}: not a valid safetensors file ({e})") from None
    check_tensors(state, expected, weights_path, info.architecture)
    model.load_state_dict(state, strict=True)
    check_outputs(model.eval(), info.input_size, info.channels, len(info.classes), json_path)
    return model, info


def read_info(path: str | Path) -> ModelInfo:
    """What model.json says, checked, without building the model or reading its weights."""
    json_path = _json_path(Path(path))
    return ModelInfo.from_json(_read_json(json_path), json_path)


def _json_path(path: Path) -> Path:
    if path.is_dir():
        path = path / JSON_NAME
    elif path.suffix != ".json":
        sibling = path.parent / JSON_NAME
        if not sibling.is_file() or _read_json(sibling).get("weights_file") != path.name:
            raise DigitlabError(
                f"{path}: not a digitlab model (expected a folder with {JSON_NAME}, "
                "written by `digitlab train`)"
            )
        path = sibling
    if not path.is_file():
        raise DigitlabError(f"{path}: no such model file")
    return path.resolve()  # a published folder's model.json links into its current run folder


def _read_json(path: Path) -> dict:
    # a published folder's model.json is a link through `current`: followed
    text = read_regular(path, MAX_JSON_BYTES, follow_links=True, what="a model JSON needs")
    try:
        info = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DigitlabError(f"{path}: not a digitlab model JSON ({e})") from None
    except RecursionError:
        raise DigitlabError(f"{path}: not a digitlab model JSON (nested too deeply)") from None
    if not isinstance(info, dict):
        raise DigitlabError(f"{path}: not a digitlab model JSON")
    return info
