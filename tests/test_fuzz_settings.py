"""Property-based fuzzing of the settings: config files, --print-config's round trip, every numeric flag.

The properties: a config file of any text either reads to settings that resolve, or is one DigitlabError
naming the file; what --print-config prints reads back to the same settings; a number given to any flag
passes it exactly when its declared range holds it, else it is a usage error naming the flag and the range.
`make test` runs a few dozen examples of each; `make fuzz` (HYPOTHESIS_PROFILE=fuzz) thousands.
"""

import dataclasses

import pytest
import typer
from hypothesis import assume, given
from hypothesis import strategies as st

from digitlab.errors import DigitlabError
from digitlab.run.config_file import config_toml, read_config
from digitlab.run.settings import MLFLOW_TAG, MODEL_NAMES, TrainConfig, range_of
from tests.cli.test_numeric_flags import OPTIONS, inside
from tests.helpers import cli
from tests.helpers.fuzzing import mutated, one_line_naming

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]


def setting_value(field: dataclasses.Field):
    """Any value a valid TrainConfig may hold in `field`: any text, any number in its declared range."""
    bounds, optional, kind = field.metadata.get("range"), "None" in str(field.type), str(field.type)
    if field.name in ("model", "preset", "opt"):
        return st.sampled_from(MODEL_NAMES if field.name == "model" else field.metadata["choices"])
    if field.name == "augmentation":
        return st.sampled_from(field.metadata["choices"]) | st.none()
    if field.name in ("device", "model_args", "opt_args", "cuda_graphs"):  # no GPU; no arguments to fuzz
        return st.just({"device": "cpu"}.get(field.name))
    if field.name == "callbacks":  # code of one's own: a file naming it is refused without consent
        return st.just(())
    if field.name == "mlflow_tags":  # KEY=VALUE each
        return st.lists(st.from_regex(MLFLOW_TAG, fullmatch=True), max_size=3).map(tuple)
    if bounds is None:
        values = st.booleans() if "bool" in kind else st.text()
    elif "float" in kind:
        values = st.floats(bounds.low, bounds.high, exclude_min=bounds.open_low, exclude_max=bounds.open_high)
    else:
        values = st.integers(bounds.low, bounds.high)
    values = st.tuples(values, values, values) if "tuple" in kind else values
    return values | st.none() if optional else values


SETTINGS = st.builds(TrainConfig, **{f.name: setting_value(f) for f in dataclasses.fields(TrainConfig)})


@pytest.fixture(scope="module")
def toml_path(tmp_path_factory):
    return tmp_path_factory.mktemp("settings-fuzz") / "run.toml"


def test_print_config_reads_back_to_the_same_settings_for_any_value(toml_path):
    """What --print-config prints (TOML in ASCII), --config reads back to equal settings, through tomllib."""

    @given(SETTINGS)
    def round_trip(config):
        try:
            config = config.resolve()
        except DigitlabError:
            assume(False)  # settings that do not go together: refused by resolve, never written
        text = config_toml(config)
        assert text.isascii()  # printed as it is by a terminal of any encoding
        toml_path.write_text(text, encoding="ascii")
        assert dataclasses.replace(TrainConfig(), **read_config(toml_path)) == config

    round_trip()


TOML_VALUES = st.recursive(
    st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(MODEL_NAMES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3),
    max_leaves=8,
)


def toml_value(value) -> str:
    """`value` written as TOML (a float as Python writes it: nan, inf and 1e+300 are TOML too)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(f"\\U{ord(c):08x}" if not c.isalnum() else c for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def toml_key(key: str) -> str:
    return key if key in FIELDS else f'"{key.encode().hex()}"'  # any text, as a quoted key TOML takes


def sound_config() -> bytes:
    return config_toml(TrainConfig(preset="fast", seed=3, data="données/😀").resolve()).encode()


@given(st.data())
def test_config_files(toml_path, data):
    """Any settings file: a mutated sound one, settings of any type and nesting, nesting thousands deep,
    or any bytes. It reads to settings that resolve, or it is one line naming the file."""
    kind = data.draw(st.sampled_from(["mutated", "settings", "deep", "bytes"]))
    if kind == "mutated":
        blob = mutated(sound_config(), data.draw)
    elif kind == "settings":
        settings = data.draw(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), TOML_VALUES))
        blob = "\n".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in settings.items()).encode()
    elif kind == "deep":
        depth, opener = data.draw(st.integers(1, 20_000)), data.draw(st.sampled_from(["[", "{a = "]))
        closer = "]" if opener == "[" else "}"
        blob = f"{data.draw(st.sampled_from(FIELDS))} = {opener * depth}1{closer * depth}".encode()
    else:
        blob = data.draw(st.binary(max_size=300))
    toml_path.write_bytes(blob)
    try:
        values = read_config(toml_path)
    except Exception as e:  # noqa: BLE001 (the property: only DigitlabError)
        one_line_naming(e, str(toml_path))
    else:
        dataclasses.replace(TrainConfig(), **values).resolve()  # what it read is settings that work


NUMBERS = (
    st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(-2.0, 2.0)
    | st.integers(-2, 300)
)


@pytest.fixture(scope="module")
def never_run():
    """The commands never run: a value the flag lets through is recorded here instead (exit 0)."""
    ran: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.core.TyperCommand, "invoke", lambda self, ctx: ran.append(ctx.command.name))
        yield ran


@given(st.sampled_from(OPTIONS), NUMBERS)
def test_numeric_flags(never_run, option, number):
    """Any number to any numeric flag: it passes exactly when the declared range holds it, else exit 2
    naming the flag (and the range, for a number of the flag's kind); never a traceback."""
    path, param, kind, required = option
    bounds, flag = range_of(param.name), param.opts[0]
    given_ = [*[str(inside(bounds))] * (param.nargs - 1), str(number)]
    never_run.clear()
    result = cli(*path, flag, *given_, *required)
    assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 1
    of_its_kind = kind is float or isinstance(number, int)  # a float to a flag of whole numbers is not
    if (
        result.returncode == 0
    ):  # passed: within the range (a whole number's flag reads 3.0 as 3, as Typer does)
        assert never_run == [path[-1]] and bounds.holds(number) and (of_its_kind or number == int(number))
        return
    assert result.returncode == 2 and never_run == [] and f"Invalid value for '{flag}': " in result.stderr
    if of_its_kind:
        assert not bounds.holds(number) and str(bounds) in result.stderr
