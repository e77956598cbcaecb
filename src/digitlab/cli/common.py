"""What the commands share: the console they print to, the help for data sources, and the settings'
flags, generated from TrainConfig's fields (written nowhere else)."""

import dataclasses
import functools
import inspect
import itertools
import typing
import warnings
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console

from digitlab.errors import DigitlabError, plain
from digitlab.run.config_file import config_toml, read_config
from digitlab.run.settings import Range, TrainConfig, range_of

out = Console(highlight=False, soft_wrap=True, markup=False)  # a file name is never markup


class Verbosity:
    """`digitlab --quiet` / `--verbose`, set before the command runs."""

    quiet = False  # no epoch table, budget line or progress: results and errors only
    verbose = False  # also the resolved settings before training and the seconds of each stage after


def say(line: str) -> None:
    """Print one line of output; names from outside in it stay inert text (`errors.plain`)."""
    out.print(plain(line))


def detail(line: str) -> None:
    """A line for `--verbose` only."""
    if Verbosity.verbose and not Verbosity.quiet:
        say(line)


def trust_code_option():
    """`--trust-code`: the consent to import the module of a model of the user's own class."""
    return typer.Option(
        False,
        "--trust-code",
        help="Load a model of a class from outside digitlab (package.module:Class): importing it runs "
        "its code, so only for a model folder you trust.",
    )


def as_is_option():
    """`--as-is`: images go to the model unchanged but for size (and grey, for a grey model)."""
    return typer.Option(
        False,
        "--as-is",
        help="Give the model each image as it is, only resized to its input size (and made grey for a grey "
        "model; nothing cropped, centred or inverted). A model trained so (train --preprocess as-is) "
        "needs no flag.",
    )


SRC_HELP = (
    "'mnist' (bundled), a Kaggle CSV, a folder of IDX files, or a folder of class folders (0/..9/, or any "
    "names: cat/, dog/), maybe under train/ valid/ test/"
)


OWN_DATA_HELP = (
    " (default: the data the model was trained on, as model.json records it: its test split, else the "
    "valid split train held out)"
)


def with_settings(*names: str, config_file: bool = False):
    """Give a command the flags of these TrainConfig fields, made from the fields themselves (name,
    type, default, help): the command receives them as one `settings: TrainConfig`, its first argument.

    Adding a setting is one line in TrainConfig (and its use): no flag, no mapping written again.
    """
    fields = [f for f in dataclasses.fields(TrainConfig) if f.name in names]

    def decorate(command):
        keyword = inspect.Parameter.KEYWORD_ONLY
        own = [p.replace(kind=keyword) for p in list(inspect.signature(command).parameters.values())[1:]]

        @functools.wraps(command)
        def with_flags(**kwargs):
            values = {f.name: _setting(f, kwargs.pop(f.name)) for f in fields}
            if config_file:
                path, show, context = kwargs.pop("config"), kwargs.pop("print_config"), kwargs.pop("context")
                if path is not None:  # a flag typed on the command line wins over the file
                    typed = {f.name for f in fields if _given(context, f.name)}  # a typed flag is consent
                    read = read_config(path, kwargs.get("trust_code", False), typed)
                    values |= {k: v for k, v in read.items() if k not in typed}
                if show:
                    print(config_toml(TrainConfig(**values).resolve()), end="")
                    return None
            return command(TrainConfig(**values), **kwargs)

        flags = [inspect.Parameter(f.name, keyword, default=_option(f), annotation=_type(f)) for f in fields]
        if config_file:
            flags += [
                inspect.Parameter("context", keyword, annotation=typer.Context),
                inspect.Parameter("config", keyword, annotation=Path, default=typer.Option(
                    None, help="Read the settings from this TOML file; flags given here win over it.")),
                inspect.Parameter("print_config", keyword, annotation=bool, default=typer.Option(
                    False, "--print-config", help="Print the resolved settings as TOML and stop.")),
            ]  # fmt: skip
        with_flags.__signature__ = inspect.Signature([*flags, *own])
        with_flags.__annotations__ = {p.name: p.annotation for p in [*flags, *own]}
        return with_flags

    return decorate


def legacy_channels(args: list[str]) -> list[str]:
    """The command line with `--channels A B C` (the CNN's stage widths, as written before colour) as
    `--widths A B C`, and a one-line note; `--channels 1` or `3` (the images' channels) as it is."""
    if "--channels" not in args:
        return args
    at = args.index("--channels")
    numbers = list(itertools.takewhile(str.isdigit, args[at + 1 :]))
    if len(numbers) < 2:
        return args
    given = " ".join(numbers)
    warnings.warn(
        f"--channels {given} is read as --widths {given}, the CNN's stage widths: write --widths "
        "(--channels is now the images' 1 or 3)",
        FutureWarning,
        stacklevel=2,
    )
    return [*args[:at], "--widths", *args[at + 1 :]]


def _given(context: typer.Context, name: str) -> bool:
    """Whether the flag of setting `name` was typed on this command line (not left at its default)."""
    source = context.get_parameter_source(name)  # typer's own copy of click's enum: compared by name
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _setting(field: dataclasses.Field, value):
    """The flag's value as the setting's: a repeated flag's list as a tuple (a frozen config's), a
    JSON object's text as its dict."""
    if field.type == tuple[str, ...]:
        return tuple(value or ())
    return _keyword_arguments(value) if _takes_json(field) and value is not None else value


def _takes_json(field: dataclasses.Field) -> bool:
    """A setting held as a dict (model_args): its flag takes the dict's JSON text."""
    return dict in map(typing.get_origin, typing.get_args(field.type))


def _keyword_arguments(text: str) -> dict:
    from digitlab.models.imported import parse_model_args  # imports torch: only when the flag is given

    try:
        return parse_model_args(text)
    except ValueError as e:
        raise DigitlabError(str(e)) from None


def _type(field: dataclasses.Field):
    """The flag's type: the field's, or a Literal of its choices (listed in --help; others exit 2);
    a flag given again and again (list[str]) for a tuple of strings."""
    if field.type == tuple[str, ...]:
        return list[str]
    if _takes_json(field):
        return str | None
    choices = field.metadata.get("choices")
    return Literal[choices] if choices and not field.metadata.get("or_import_path") else field.type


def _option(field: dataclasses.Field):
    """The option of a setting: `--name-with-dashes` (or the field's own flag), its default and help."""
    flag = field.metadata.get("flag", "--" + field.name.replace("_", "-"))
    check, metavar = None, None
    if field.metadata.get("or_import_path"):  # a choice, or package.module:Class; anything else exits 2
        choices = field.metadata["choices"]
        check, metavar = _choice_or_import_path(choices), "|".join(choices) + "|pkg.mod:Class"
    if "range" in field.metadata:
        return number_option(field.name, field.default, flag, help=field.metadata["help"])
    metavar = field.metadata.get("metavar", metavar)
    return typer.Option(
        field.default, flag, help=field.metadata["help"], show_default=field.default not in (None, ()),
        callback=check, metavar=metavar,
    )  # fmt: skip


def number_option(name: str, default, *flags: str, help: str, metavar: str | None = None):
    """The option of a number whose range `run.settings` declares (a setting's, or another command's
    flag's): its help says the range, and a value outside it (NaN too) is a usage error naming both."""
    bounds = range_of(name)
    return typer.Option(
        default, *flags, help=f"{help} Range: {bounds}.", show_default=default is not None,
        callback=_within(bounds), metavar=metavar,
    )  # fmt: skip


def _within(bounds: Range):
    """The flag's check: every number given (each of a tuple's, or of a flag given again) within
    `bounds`, else exit 2."""

    def check(value):
        for number in value if isinstance(value, tuple | list) else () if value is None else (value,):
            if not bounds.holds(number):
                raise typer.BadParameter(f"{number} is not in the range {bounds}")
        return value

    return check


def _choice_or_import_path(choices: tuple[str, ...]):
    """The flag's check: a usage error (exit 2) for a value that is neither a choice nor of the form
    package.module:Class."""

    def check(value: str | None) -> str | None:
        if value is None or value in choices:
            return value
        from digitlab.models.imported import is_import_path  # imports torch: only for a class of the user's

        if not is_import_path(value):
            raise typer.BadParameter(
                f"{value!r:.80} is not one of {', '.join(map(repr, choices))}, nor package.module:Class"
            )
        return value

    return check
