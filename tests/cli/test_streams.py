"""Standard output as a tool's users meet it: a reader that stops early, a closed or full output, a terminal
whose encoding lacks a file name's letters. Each is a quiet stop or one line, never a traceback."""

import contextlib
import errno
import io
import subprocess
import sys

import pytest
from PIL import Image

from digitlab.cli import run, streams
from tests.helpers import CliResult, cli


def run_main(stdout, *args: str) -> CliResult:
    """`digitlab ARGS...` in this process with this object as standard output (stderr: ASCII, strict)."""
    err = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    argv, sys.argv = sys.argv, ["digitlab", *map(str, args)]
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
            run()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)  # as the shell sees it
    finally:
        sys.argv = argv
    err.flush()
    out = stdout.buffer.getvalue().decode("ascii") if isinstance(stdout, io.TextIOWrapper) else ""
    return CliResult(code, out, err.buffer.getvalue().decode("ascii"))


@pytest.fixture
def digit(mnist, tmp_path):
    path = tmp_path / "été-😀.png"
    Image.fromarray(mnist.test.images[0].numpy()).save(path)
    return path


@pytest.mark.parametrize("form", [[], ["--csv"], ["--jsonl"]])
def test_a_name_the_terminal_cannot_show_is_printed_escaped(trained_model, digit, tmp_path, form):
    ascii_terminal = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    result = run_main(ascii_terminal, "predict", trained_model, digit, tmp_path / "ñ.png", *form)
    assert result.returncode == 1 and "UnicodeEncodeError" not in result.stderr + result.stdout
    escaped = "\\u00e9t\\u00e9-\\ud83d\\ude00" if form == ["--jsonl"] else "\\xe9t\\xe9-\\U0001f600"  # JSON's
    assert escaped in result.stdout and result.stdout.count("\n") == (1 if form == [] else 2)
    assert result.stderr == f"error: {tmp_path}/\\xf1.png: no such file\n"


class Failing(io.StringIO):
    """An output that takes `room` characters, then fails as a closed pipe or a full disk does."""

    def __init__(self, error: OSError, room: int = 0):
        super().__init__()
        self.error, self.room = error, room

    def write(self, text: str) -> int:
        if self.tell() + len(text) > self.room:
            raise self.error
        return super().write(text)


@pytest.mark.parametrize("form", [[], ["--csv"], ["--jsonl"], ["--json"]])
def test_a_reader_that_stops_early_stops_the_command_quietly(trained_model, digit, form):
    result = run_main(
        Failing(BrokenPipeError(errno.EPIPE, "Broken pipe"), 10), "predict", trained_model, digit, *form
    )
    assert result.returncode == streams.SIGPIPE_STATUS == 141 and result.stderr == ""


def test_an_output_that_takes_no_more_is_one_line(trained_model, digit):
    result = run_main(
        Failing(OSError(errno.ENOSPC, "No space left on device")), "predict", trained_model, digit
    )
    assert result.returncode == 1 and result.stderr == "error: standard output: No space left on device\n"
    after = cli("predict", trained_model, digit)  # the next command in this process: nothing left over
    assert after.returncode == 0 and after.stdout.count("\n") == 1, after.stdout


def test_a_closed_output_is_one_line_before_anything_runs(trained_model, digit, monkeypatch):
    ran = []
    monkeypatch.setattr("digitlab.inference.predictor.Predictor.load", lambda *a: ran.append(a))
    result = run_main(None, "predict", trained_model, digit, "--jsonl")
    assert (
        result.returncode == 1
        and result.stderr == "error: standard output is closed: nowhere to write the results\n"
    )
    assert ran == []


def test_predict_into_head_stops_as_cat_does(trained_model, digit):
    """The real pipe: `digitlab predict MODEL 600 files --jsonl | head -1`; the reader closes after a line."""
    command = [
        sys.executable,
        "-m",
        "digitlab",
        "predict",
        str(trained_model),
        *[str(digit)] * 600,
        "--jsonl",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout.readline().startswith(b'{"path": ')
        process.stdout.close()  # as head does once it has its line: the rest (two more batches) has no reader
        stderr = process.stderr.read()
    assert process.returncode == 141 and stderr == b""
    closed = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *command[:5]], capture_output=True, text=True)
    assert (
        closed.returncode == 1
        and closed.stderr == "error: standard output is closed: nowhere to write the results\n"
    )


def test_a_closed_standard_descriptor_is_held_so_no_file_takes_its_number():
    """Started with stdin and stderr closed, the next file opened must not become descriptor 0 or 2: what a
    child process writes to its stderr would land in that file."""
    script = "import os; from digitlab.cli import streams; streams.prepare(); print(os.open('/dev/null', 0))"
    command = ["sh", "-c", 'exec "$@" <&- 2>&-', "sh", sys.executable, "-c", script]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0 and int(result.stdout) > 2, result
