"""`quiz`, `exercises` and `check`: the learner practises what the lesson taught."""

import shlex
import sys
from pathlib import Path

import typer

from digitlab.cli.common import number_option, say


def quiz(
    section: list[int] = number_option(
        "section", None, "--section", metavar="K", help="Only the questions of section K (repeat for more)."
    ),
    run: Path = typer.Option(
        None,
        help="The lesson run (digitlab lesson --out DIR) whose figures the questions ask for. Default: "
        "runs/lesson if it holds one, else the lesson runs now up to the figures asked (section 4 at most).",
    ),
):
    """The lesson's questions one at a time: answer, then read digitlab's answer (figures from your run)."""
    from digitlab.exercises.quiz import figures_measured_now, figures_of_run, run_quiz

    default = Path("runs/lesson")
    if run is None and (default / "model.json").is_file():
        run = default
    sections = tuple(section or ())
    figures = figures_of_run(run) if run is not None else figures_measured_now(sections)
    right, asked = run_quiz(sections, figures, _read_answer, say)
    say("")
    say(f"{right} of {asked} answered right")


def _read_answer() -> str:
    """One line typed (or piped) after a prompt; "" when the input has ended."""
    sys.stdout.write("> ")
    sys.stdout.flush()
    return sys.stdin.readline()


def exercises(
    out_dir: Path = typer.Option(..., "--out", help="Folder for exercises.py and exercises.ipynb."),
    open_notebook: bool = typer.Option(
        False, "--open", help="Start JupyterLab on the notebook (pip install 'digitlab[notebook]')."
    ),
):
    """Write the lesson's code as stubs to fill in (a .py and a notebook); `digitlab check` grades them."""
    from digitlab.exercises import write_exercises
    from digitlab.lesson import jupyter

    if open_notebook and not jupyter.has_jupyterlab():  # before writing: nothing to open it with
        jupyter.open_in_jupyterlab(out_dir)
    py_file, notebook = write_exercises(out_dir)
    command = f"digitlab check {shlex.quote(str(py_file))}"
    say(f"wrote {py_file} and {notebook}; fill in each function, then run: {command}")
    if open_notebook:
        say("starting JupyterLab on the notebook (Ctrl-C stops it)")
        jupyter.open_in_jupyterlab(notebook)


def check(
    file: Path = typer.Argument(..., help="Your exercises file (digitlab exercises --out DIR writes one)."),
):
    """Run each exercise function FILE defines against digitlab's own; explain the first difference."""
    from digitlab.exercises import check_file
    from digitlab.exercises.learner_file import standard_streams_kept

    with standard_streams_kept(file) as changed:
        verdicts = check_file(file)
    for note in changed:
        say(f"note: {note}")
    for verdict in verdicts:
        say(verdict.line())
    passed = sum(v.passed for v in verdicts)
    say(f"{passed} of {len(verdicts)} exercises match digitlab's reference")
    if passed < len(verdicts):
        raise typer.Exit(1)
