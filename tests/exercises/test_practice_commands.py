"""`digitlab exercises` writes the stubs (never over a user's file); `digitlab check FILE.py` runs only
that file, says one verdict per exercise and exits 0 only when all pass."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli

HERE = Path(__file__).parent


def test_exercises_writes_stubs_that_check_reports_as_not_written(tmp_path):
    out = tmp_path / "practice"
    result = cli("exercises", "--out", out)
    assert result.returncode == 0 and f"digitlab check {out / 'exercises.py'}" in result.stdout
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.read(out / "exercises.ipynb", as_version=4))
    notebook = json.loads((out / "exercises.ipynb").read_text())
    sources = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert "check(train_epoch)" in sources and any(s.startswith("def train_epoch(") for s in sources)
    result = cli("check", out / "exercises.py")
    assert result.returncode == 1 and result.stdout.count("is not written yet") == 14
    assert result.stdout.endswith("0 of 14 exercises match digitlab's reference\n")
    assert cli("exercises", "--out", out).returncode == 0  # its own files: replaced


def test_exercises_never_replaces_a_file_of_the_users(tmp_path):
    (tmp_path / "exercises.py").write_text("mine")
    result = cli("exercises", "--out", tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "exercises.py: exists and digitlab did not write it" in result.stderr
    assert (tmp_path / "exercises.py").read_text() == "mine" and not (tmp_path / "exercises.ipynb").exists()
    result = cli("exercises", "--out", tmp_path / "exercises.py")  # a file, not a folder
    assert (
        result.returncode == 1
        and result.stderr == f"error: {tmp_path / 'exercises.py'}: is a file, not a folder\n"
    )


def test_check_passes_right_answers_and_explains_wrong_ones(tmp_path):
    result = cli("check", HERE / "right_answers.py")
    assert result.returncode == 0 and result.stdout.count(": ok: ") == 14, result.stdout
    wrong = tmp_path / "mine.py"
    wrong.write_text("def mnist_loss(predictions, targets):\n"
                     "    return (targets - predictions).abs().mean()\n"
                     "def mnist_distance(a, b):\n    return (a - b).abs().mean((-1, -2))\n"
                     "def softmax(logits):\n    return logits.exp() / logits.exp().sum(2)\n")  # fmt: skip
    result = cli("check", wrong)
    lines = result.stdout.splitlines()
    assert result.returncode == 1 and lines[0] == "mnist_distance: ok: matches the reference on 2 cases"
    assert (
        lines[1].startswith("mnist_loss: wrong: with predictions = 6 raw scores") and "section 3" in lines[1]
    )
    assert lines[2].startswith(
        "softmax: wrong: with logits = 3 rows of 10 activations (3,10): raised IndexError"
    )
    assert f"(line 6 of {wrong})" in lines[2] and lines[3] == "1 of 3 exercises match digitlab's reference"


def test_check_refuses_bad_files_in_one_line(tmp_path):
    cases = {"broken.py": "def f(:\n", "none.py": "x = 1\n", "raises.py": "import math\n1 / 0\n",
             "notes.txt": "def softmax(x): pass\n"}  # fmt: skip
    words = {
        "broken.py": "line 1:",
        "none.py": "defines none of the exercises",
        "raises.py": "running it raised ZeroDivisionError at line 2",
        "notes.txt": "not a Python file",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        result = cli("check", tmp_path / name)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, (name, result.stderr)
        assert words[name] in result.stderr and str(tmp_path / name) in result.stderr
    assert cli("check", tmp_path / "missing.py").returncode == 1
    assert cli("check").returncode == 2


def test_check_imports_nothing_from_the_files_folder_or_the_current_one(tmp_path, monkeypatch):
    """The learner's file runs with neither folder on sys.path: a module lying beside it stays unread."""
    for folder in ("here", "there"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "helper_module.py").write_text(
            f"open({str(tmp_path / folder / 'ran')!r}, 'w')\n"
        )
    (tmp_path / "there" / "mine.py").write_text(
        "try:\n    import helper_module\nexcept ImportError:\n    pass\n"
        "def softmax(logits):\n    return logits.softmax(-1)\n"
    )
    monkeypatch.chdir(tmp_path / "here")
    monkeypatch.syspath_prepend(str(tmp_path / "here"))  # as `python -m digitlab` puts it first
    result = cli("check", tmp_path / "there" / "mine.py")
    assert result.returncode == 0 and "softmax: ok" in result.stdout
    assert not (tmp_path / "here" / "ran").exists() and not (tmp_path / "there" / "ran").exists()
    assert str(tmp_path / "here") in sys.path and "digitlab_learner_exercises" not in sys.modules


def test_check_in_a_notebook_prints_the_same_verdict(capsys):
    from digitlab.exercises import check
    from tests.exercises.wrong_answers import not_written_yet

    def softmax(logits):
        return not_written_yet(logits)

    check(softmax)  # the notebook's cell under the stub
    assert capsys.readouterr().out.startswith("softmax: wrong: is not written yet")
    with pytest.raises(ValueError, match="none of the exercises"):
        check(print)


def test_the_exercises_notebook_runs_its_checks_cell_by_cell(tmp_path, capsys):
    """Each code cell run in turn in one namespace, as a kernel would: every check says 'not written';
    a stub filled in with a right answer then passes."""
    cli("exercises", "--out", tmp_path)
    notebook = json.loads((tmp_path / "exercises.ipynb").read_text())
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec("".join(cell["source"]), namespace)
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 14 and all(": wrong: is not written yet" in line for line in said)
    exec("def softmax(logits):\n    return logits.exp() / logits.exp().sum(1, keepdim=True)", namespace)
    exec("check(softmax)", namespace)
    assert capsys.readouterr().out == "softmax: ok: matches the reference on 1 case\n"


def test_check_in_a_notebook_says_what_the_command_line_says(tmp_path, capsys):
    from digitlab.exercises import check
    from digitlab.exercises.learner_file import load_definitions

    mine = tmp_path / "mine.py"
    mine.write_text("def batch_accuracy(xb, yb):\n    return ((xb > 0.5) == yb).float().mean()\n")
    line = cli("check", mine).stdout.splitlines()[0]
    check(load_definitions(mine)["batch_accuracy"])
    assert capsys.readouterr().out == line + "\n" and "a missing sigmoid" in line


def test_open_starts_jupyterlab_on_the_exercises_notebook_or_names_the_install(monkeypatch, tmp_path):
    from digitlab.lesson import jupyter

    started: list = []
    monkeypatch.setattr(jupyter, "has_jupyterlab", lambda: True)
    monkeypatch.setattr(
        jupyter, "open_in_jupyterlab", started.append
    )  # tests/lesson/test_jupyter.py: the rest
    assert cli("exercises", "--out", tmp_path / "a", "--open").returncode == 0
    assert started == [tmp_path / "a" / "exercises.ipynb"]
    monkeypatch.undo()
    monkeypatch.setattr(jupyter, "has_jupyterlab", lambda: False)
    result = cli("exercises", "--out", tmp_path / "b", "--open")
    assert result.returncode == 1 and "digitlab[notebook]" in result.stderr and not (tmp_path / "b").exists()


def test_exercises_never_replaces_the_learners_work_in_its_own_files(tmp_path):
    """The stubs are written to be edited: once the learner has, they are the learner's."""
    assert cli("exercises", "--out", tmp_path).returncode == 0
    mine = (tmp_path / "exercises.py").read_text().replace("raise NotImplementedError", "return 1", 1)
    (tmp_path / "exercises.py").write_text(mine)
    result = cli("exercises", "--out", tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "exercises.py: changed since digitlab wrote it" in result.stderr
    assert (tmp_path / "exercises.py").read_text() == mine


def test_an_exercise_that_calls_exit_is_a_verdict_not_the_end_of_check(tmp_path):
    """exit() inside a checked function ended `check` silently with the learner's code."""
    mine = tmp_path / "mine.py"
    mine.write_text("import sys\ndef softmax(logits):\n    sys.exit(3)\n")
    result = cli("check", mine)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout.startswith("softmax: wrong: ") and "called exit()" in result.stdout
    assert f"(line 3 of {mine})" in result.stdout


def test_a_file_that_closes_or_replaces_the_output_streams_still_gets_its_verdicts(tmp_path):
    """The learner's file runs in digitlab's process: closing sys.stdout must not take the report with it."""
    mine = tmp_path / "mine.py"
    mine.write_text("import io, sys\nsys.stdout.close()\nsys.stderr = io.StringIO()\n"
                    + (HERE / "right_answers.py").read_text())  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "digitlab", "check", mine],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"note: {mine}: closed sys.stdout; digitlab opened it again to report" in result.stdout
    assert f"note: {mine}: replaced sys.stderr; digitlab put it back to report" in result.stdout
    assert result.stdout.endswith("14 of 14 exercises match digitlab's reference\n") and not result.stderr
