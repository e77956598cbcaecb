"""Settings in a file, LightningCLI-style: `train --config run.toml`, and `--print-config` to write one.

TOML, because Python reads it without a dependency (`tomllib`) and it is what pyproject.toml is
written in: one `key = value` line per TrainConfig field, the same names as the flags with `_` for
`-` (`batch_size = 256`). A flag given on the command line wins over the file; a field left out
keeps its default. Your own model's arguments may be a table: `model_args = {n_classes = 47}`.
`--print-config` prints the fully resolved settings (the preset's values filled in), which
`--config` reads back to train the same model.

A settings file, like a model folder, may come from anyone: one whose `model`, `opt` or `callbacks`
name a class of the user's own (`package.module:Class`) is read only with `trust_code`
(`--trust-code`), since training imports that module and runs its code. Typing the flag
(`--model pkg.mod:Class`) on the command line is consent for that setting: the file's is not read.
"""

import dataclasses
import json
import tomllib
from pathlib import Path

from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular
from digitlab.run.settings import TrainConfig, code_named, legacy_widths

MAX_BYTES = 1 << 20  # a settings file is a few hundred bytes
ARGS = ("model_args", "opt_args")  # keyword arguments: a TOML table, or the flag's JSON text


def _settings_of(settings: dict, keys: tuple[str, ...]) -> dict:
    """Those of `keys` the file sets with a value of the setting's form (a string, a list of strings):
    the names of code it would import. A value of another form is refused later, with its key named."""
    kept = {k: settings[k] for k in keys if isinstance(settings.get(k), str)}
    if isinstance(settings.get("callbacks"), list) and "callbacks" in keys:
        kept["callbacks"] = tuple(c for c in settings["callbacks"] if isinstance(c, str))
    return kept


def read_config(
    path: str | Path, trust_code: bool = False, typed: set[str] | frozenset = frozenset()
) -> dict:
    """The file's settings, each a known field, with lists as tuples; one line naming the file and
    the key (or TOML's line and column) when it is not. A class of the user's own named in the file is
    refused without `trust_code`, before anything is imported, unless its setting was `typed` on the
    command line (the typed value replaces the file's)."""
    from digitlab.models.imported import parse_model_args  # torch: once a file is read

    path = Path(path)
    data = read_regular(path, MAX_BYTES, follow_links=True, what="a settings file of a few lines needs")
    try:
        settings = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise DigitlabError(f"{path}: is not a TOML settings file ({e})") from None
    except RecursionError:  # tomllib descends once per level of `[[[...` or `{a = {a = ...`
        raise DigitlabError(f"{path}: is nested too deeply to be a settings file") from None
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, value in settings.items():
        if key not in known:
            raise DigitlabError(
                f"{path}: {key!r} is not a setting (see digitlab train --help; '-' is '_' here)"
            )
        if isinstance(value, dict) and key not in ARGS:
            raise DigitlabError(f"{path}: {key!r} is a table; settings are plain keys")
        if isinstance(value, list) and any(isinstance(v, list | dict) for v in value):
            raise DigitlabError(f"{path}: {key!r} holds a list or table; a setting's list holds plain values")
    untyped = {k: v for k, v in settings.items() if k not in typed}
    named = code_named(
        dataclasses.replace(TrainConfig(), **_settings_of(untyped, ("model", "opt", "callbacks")))
    )
    if named and not trust_code:
        raise DigitlabError(
            f"{path}: names {', '.join(named)}, classes from outside digitlab: training imports their "
            "modules and runs their code; if you trust this file, pass --trust-code (in Python: "
            "trust_code=True), or type the flag (--model, --opt, --callback) on the command line"
        )
    for key in ARGS:
        if isinstance(settings.get(key), str):  # the flag's JSON, as --print-config writes it
            try:
                settings[key] = parse_model_args(settings[key], key)
            except ValueError as e:
                raise DigitlabError(f"{path}: {e}") from None
    values = {
        k: tuple(v) if isinstance(v, list) else v for k, v in legacy_widths(settings, note=True).items()
    }
    try:
        dataclasses.replace(TrainConfig(), **values).resolve()  # each value checked, the choices too
    except DigitlabError as e:
        raise DigitlabError(f"{path}: {e}") from None
    return values


def config_toml(config: TrainConfig) -> str:
    """The settings as TOML, one line per field set (TOML has no null: unset fields are left out)."""
    lines = ["# digitlab train settings: digitlab train --config THIS_FILE"]
    for key, value in config.to_json().items():
        if value is not None:
            lines.append(f"{key} = {_toml_value(key, value)}")
    return "\n".join(lines) + "\n"


def _toml_value(key: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(key, v) for v in value) + "]"
    if isinstance(value, str):
        return _toml_string(key, value)
    if isinstance(value, dict):  # model_args: the flag's JSON (TOML's inline tables hold no null)
        return _toml_string(key, json.dumps(value))
    return repr(value)  # an int, or a float within its range (finite): TOML reads Python's forms


def _toml_string(key: str, text: str) -> str:
    """A TOML basic string in ASCII, which any terminal's encoding prints and `--config` reads back as it
    was: every other character escaped by its code point (`\\u00e9`, `\\U0001f600`; JSON's surrogate
    pairs for an emoji are not TOML, nor is a raw DEL)."""
    if any("\ud800" <= c <= "\udfff" for c in text):  # a file name's bytes that are not UTF-8
        raise DigitlabError(f"{key} {text!r:.80} holds bytes that are not UTF-8, which TOML cannot hold")
    escaped = (
        "\\" + c if c in '"\\' else c if " " <= c <= "~" else f"\\u{ord(c):04x}" if ord(c) < 0x10000
        else f"\\U{ord(c):08x}"
        for c in text
    )  # fmt: skip
    return '"' + "".join(escaped) + '"'
