"""`digitlab exercises` and `digitlab check`: the stubs a learner fills in, and the verdict on each.

The stubs are made from the catalogue (each reference's signature, its task as the docstring), as a
.py file and as a notebook that checks each function in the cell below it.
"""

import inspect
import json
import sys
import textwrap
from pathlib import Path

from digitlab.errors import DigitlabError
from digitlab.exercises.cases import Exercise
from digitlab.exercises.catalogue import EXERCISES, section_title
from digitlab.exercises.checker import Verdict, check_function, find_exercise
from digitlab.exercises.learner_file import load_definitions
from digitlab.modelfiles.ownership import OwnedFiles

PY_FILE, NOTEBOOK = "exercises.py", "exercises.ipynb"
IMPORTS = "import torch\nfrom torch import nn\n"


def write_exercises(out: str | Path) -> list[Path]:
    """Write DIR/exercises.py and DIR/exercises.ipynb, replacing only files digitlab wrote there."""
    files = OwnedFiles(out)
    files.claim([PY_FILE, NOTEBOOK])
    files.write(PY_FILE, stubs_module().encode())
    files.write(NOTEBOOK, (json.dumps(stubs_notebook(), indent=1) + "\n").encode())
    files.save()
    return [Path(out) / PY_FILE, Path(out) / NOTEBOOK]


def check_file(path: str | Path) -> list[Verdict]:
    """One verdict per exercise the learner's FILE.py defines, in the lesson's order."""
    defined = load_definitions(path)
    verdicts = [check_function(defined[e.name], e) for e in EXERCISES if e.name in defined]
    if not verdicts:
        names = ", ".join(e.name for e in EXERCISES)
        raise DigitlabError(f"{path}: defines none of the exercises ({names})")
    return verdicts


def check(fn) -> None:
    """In a notebook: check one exercise function (or class) against digitlab's and print the verdict."""
    exercise = find_exercise(getattr(fn, "__name__", ""))
    if exercise is None:
        names = ", ".join(e.name for e in EXERCISES)
        raise ValueError(f"check: {getattr(fn, '__name__', fn)!r} is none of the exercises ({names})")
    print(check_function(fn, exercise).line())


def stub(exercise: Exercise) -> str:
    """The exercise's definition with its task as docstring and a body left to write."""
    doc = _docstring(exercise.stub_doc())
    todo = "raise NotImplementedError  # your code here"
    if not inspect.isclass(exercise.reference):
        return f"def {exercise.name}{inspect.signature(exercise.reference)}:\n    {doc}\n    {todo}\n"
    methods = [
        f"    def {name}{inspect.signature(method)}:\n        {todo}\n"
        for name, method in vars(exercise.reference).items()
        if inspect.isfunction(method)
    ]
    return f"class {exercise.name}:\n    {doc}\n\n" + "\n".join(methods)


def stubs_module() -> str:
    header = (
        '"""The MNIST-basics lesson\'s code, for you to write. Replace each `raise NotImplementedError`,\n'
        f"then run, in this folder: digitlab check {PY_FILE}\n"
        "Each verdict names the first difference from digitlab's own answer and the section to reread."
        '"""\n\n'
    )
    return header + IMPORTS + "".join(f"\n\n# section {e.section}\n{stub(e)}" for e in EXERCISES)


def stubs_notebook() -> dict:
    """The stubs as a notebook: per exercise, its task, the stub to fill in, and a cell that checks it."""
    cells = [_markdown("# Exercises: the MNIST-basics lesson's code, written by you\n\nFill in each "
                       "function, run its cell, then the `check(...)` cell under it: it names the first "
                       "difference from digitlab's own answer and the section of the lesson to reread."),
             _code(IMPORTS + "from digitlab.exercises import check")]  # fmt: skip
    for e in EXERCISES:
        cells += [_markdown(f"## `{e.name}` (section {section_title(e.section)})"), _code(stub(e).rstrip()),
                  _code(f"check({e.name})")]  # fmt: skip
    for i, cell in enumerate(cells):
        cell["id"] = f"exercise-{i}"
    language = {"name": "python", "version": ".".join(map(str, sys.version_info[:3]))}
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return {"cells": cells, "metadata": {"kernelspec": kernel, "language_info": language}, "nbformat": 4,
            "nbformat_minor": 5}  # fmt: skip


def _docstring(text: str, indent: str = "    ") -> str:
    """The text as a docstring, wrapped to the house's line length under `indent`."""
    lines = textwrap.wrap(" ".join(text.split()), 100 - len(indent) - 6)
    return '"""' + f"\n{indent}".join(lines) + '"""'


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text.splitlines(keepends=True)}


def _code(text: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": text.splitlines(keepends=True)}  # fmt: skip
