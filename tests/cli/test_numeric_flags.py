"""Every numeric flag of every command: its range declared once (run.settings), and a value outside it a
usage error (exit 2) naming the flag and the range, in one line, before the command runs."""

import math
import typing

import pytest
import typer

from digitlab.cli import app
from digitlab.run.settings import Range, range_of
from tests.helpers import cli


def numeric_options() -> list[tuple[list[str], typer.core.TyperOption, type, list[str]]]:
    """(command path, option, int or float, the command's required arguments) for every option of Click's
    tree that takes numbers."""
    found = []

    def walk(command, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])
        for param in command.params:
            annotation = param.type_descriptor.annotation
            kinds = (
                typing.get_args(annotation)
                if typing.get_origin(annotation) in (tuple, list)
                else (annotation,)
            )
            if kinds and all(kind in (int, float) for kind in kinds):
                found.append((path, param, kinds[0], required_args(command)))

    walk(typer.main.get_command(app), [])
    return found


def required_args(command) -> list[str]:
    """A value for each argument and option the command requires (a name nothing on disk has)."""
    needed = [p for p in command.params if p.required]
    return [*(a for p in needed if p.param_type_name == "option" for a in (p.opts[0], "no-such")),
            *("no-such" for p in needed if p.param_type_name == "argument")]  # fmt: skip


OPTIONS = numeric_options()


def outside(bounds: Range, kind: type) -> list:
    """Values just outside `bounds` on each side, and far outside: huge, NaN and infinite."""
    if kind is int:
        return [bounds.low - 1, bounds.high + 1, -(2**70), 2**70]
    below = bounds.low if bounds.open_low else math.nextafter(bounds.low, -math.inf)
    above = bounds.high if bounds.open_high else math.nextafter(bounds.high, math.inf)
    return [below, above, math.nan, math.inf, -math.inf, -1e308]


def inside(bounds: Range):
    """A value the range holds: an end it includes, or its middle."""
    if not bounds.open_low:
        return bounds.low
    return bounds.high if not bounds.open_high else (bounds.low + bounds.high) / 2


@pytest.fixture
def never_run(monkeypatch):
    """The commands never run: a value the flag lets through is recorded here instead (exit 0)."""
    ran: list[str] = []
    monkeypatch.setattr(typer.core.TyperCommand, "invoke", lambda self, ctx: ran.append(ctx.command.name))
    return ran


def test_the_walk_finds_every_kind_of_numeric_flag():
    flags = {(" ".join(path), param.opts[0]) for path, param, _, _ in OPTIONS}
    # fmt: off
    assert {("lesson", "--subset"), ("lesson", "--pair"), ("train", "--seed"), ("train", "--channels"),
            ("train", "--valid-fraction"), ("data info", "--valid-fraction"), ("serve", "--port"),
            ("serve", "--batch-ms"), ("data show", "--count"), ("lr-find", "--batch-size"),
            ("quiz", "--section")} <= flags
    # fmt: on


@pytest.mark.parametrize(
    "path, param, kind, required", OPTIONS, ids=[f"{' '.join(p)} {o.opts[0]}" for p, o, _, _ in OPTIONS]
)
def test_a_number_outside_its_range_is_a_usage_error_naming_flag_and_range(
    never_run, path, param, kind, required
):
    bounds = range_of(param.name)  # a KeyError here: a numeric flag without a declared range
    flag = param.opts[0]
    for value in outside(bounds, kind):
        given = [str(inside(bounds))] * (param.nargs - 1) + [
            str(value)
        ]  # a tuple's last number is the bad one
        result = cli(*path, flag, *given, *required)
        assert result.returncode == 2, (flag, value, result)
        line = f"error: Invalid value for '{flag}': {value} is not in the range {bounds}"
        assert result.stderr.startswith(line) and result.stderr.count("\n") == 1, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
    assert never_run == []
    result = cli(
        *path, flag, *[str(inside(bounds))] * param.nargs, *required
    )  # a value inside passes the flag
    assert never_run == [path[-1]], result.stderr


def test_the_issue_s_cases(never_run):
    for args, flag in [
        (["lesson", "--subset", "-5"], "--subset"),
        (["data", "info", "--valid-fraction", "nan"], "--valid-fraction"),
        (["data", "info", "--valid-fraction", "5"], "--valid-fraction"),
        (["data", "info", "--valid-fraction", "-0.5"], "--valid-fraction"),
        (["train", "--seed", str(2**70)], "--seed"),
        (["data", "info", "--seed", str(2**70)], "--seed"),
    ]:
        result = cli(*args)
        assert (
            result.returncode == 2 and f"'{flag}'" in result.stderr and "is not in the range" in result.stderr
        )
    assert never_run == []


def test_help_says_each_range():
    result = cli("data", "info", "--help")
    assert "Range: 0 < x < 1" in " ".join(result.stdout.replace("│", " ").split())  # wrapped in a box


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"seed": 2**70}, f"seed must be in the range 0 <= x <= {2**63 - 1}, got {2**70}"),
        ({"valid_fraction": math.nan}, "valid_fraction must be in the range 0 < x < 1, got nan"),
        ({"widths": (8, 0, 8)}, "widths must be in the range 1 <= x <= 1024, got 0"),
        ({"channels": 2}, "channels must be 1 (grey) or 3 (colour), got 2"),
        ({"lr": math.inf}, "lr must be in the range 0 < x <= 100, got inf"),
    ],
)
def test_the_python_api_refuses_the_same_values_in_one_line(settings, message, tmp_path):
    import digitlab
    from digitlab.errors import DigitlabError

    with pytest.raises(DigitlabError) as error:
        digitlab.train(out=str(tmp_path / "o"), **settings)
    assert str(error.value) == message and not (tmp_path / "o").exists()


def test_the_lesson_refuses_them_before_anything_runs(tmp_path):
    from digitlab.errors import DigitlabError
    from digitlab.lesson import run_lesson, write_notebook

    with pytest.raises(DigitlabError, match=r"subset must be in the range 1 <= x <= \d+, got -5"):
        run_lesson(out=tmp_path / "o", subset=-5)
    with pytest.raises(DigitlabError, match=r"pair: needs two different digits in the range 0 <= x <= 9"):
        write_notebook(tmp_path / "l.ipynb", pair=(3, 12))
    assert list(tmp_path.iterdir()) == []
