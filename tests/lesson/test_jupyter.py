"""`lesson --open` and `make notebook`: JupyterLab starts as root too; a failed start is exit 1 and why."""

import os
import socket
import subprocess
import sys
import time

import pytest

from digitlab.lesson import jupyter
from tests.helpers import cli

# What JupyterLab 4 printed here, as root, without --allow-root (then it exited 1)
ROOT_REFUSAL = [
    "[I 2026-12-07 17:43:33.160 ServerApp] jupyterlab | extension was successfully loaded.",
    "[C 2026-12-07 17:43:33.161 ServerApp] Running as root is not recommended. Use --allow-root to bypass.",
]


def _fake_lab(monkeypatch, log: list[str], code: int) -> None:
    """JupyterLab replaced by a Python that writes `log` to stderr and exits with `code`."""
    text = "".join(line + "\n" for line in log)
    script = f"import sys\nsys.stderr.write({text!r})\nsys.exit({code})"
    monkeypatch.setattr(jupyter, "has_jupyterlab", lambda: True)
    monkeypatch.setattr(jupyter, "jupyterlab_argv", lambda notebook: [sys.executable, "-c", script])


@pytest.mark.parametrize("euid, allowed", [(0, True), (1000, False)])
def test_as_root_jupyterlab_is_told_to_allow_it(monkeypatch, tmp_path, euid, allowed):
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    argv = jupyter.jupyterlab_argv(tmp_path / "lesson.ipynb")
    assert ("--allow-root" in argv) == allowed and argv[-1] == str(tmp_path / "lesson.ipynb")


def test_a_jupyterlab_that_fails_is_exit_1_with_its_reason_in_one_line(monkeypatch, tmp_path):
    _fake_lab(monkeypatch, ROOT_REFUSAL, 1)
    result = cli("lesson", "--notebook", tmp_path / "lesson.ipynb", "--open")
    assert result.returncode == 1 and ROOT_REFUSAL[0] in result.stderr  # its log is passed on as it comes
    assert result.stderr.splitlines()[-1] == (
        "error: --open: JupyterLab stopped with exit status 1: "
        "Running as root is not recommended. Use --allow-root to bypass."
    )


def test_without_a_flagged_line_the_reason_is_the_last_line_and_a_clean_stop_is_exit_0(monkeypatch, tmp_path):
    _fake_lab(monkeypatch, ["Traceback (most recent call last):", "ImportError: no jupyter_server", ""], 3)
    result = cli("lesson", "--notebook", tmp_path / "lesson.ipynb", "--open")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].endswith("exit status 3: ImportError: no jupyter_server")
    _fake_lab(monkeypatch, ROOT_REFUSAL[:1], 0)
    assert cli("lesson", "--notebook", tmp_path / "lesson.ipynb", "--open").returncode == 0


@pytest.mark.slow  # JupyterLab itself starts (10-30 s here): in `make slow`
def test_the_real_jupyterlab_starts_on_the_notebook_as_whoever_runs_it(tmp_path):
    pytest.importorskip("jupyterlab")
    notebook = tmp_path / "lesson.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    flags = ["--no-browser", f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1"]
    argv = jupyter.jupyterlab_argv(notebook)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with subprocess.Popen([*argv[:-1], *flags, argv[-1]], stderr=subprocess.PIPE, text=True, env=env) as lab:
        log, deadline = [], time.monotonic() + 120
        try:
            for line in lab.stderr:
                log.append(line)
                if f"127.0.0.1:{port}/lab" in line or time.monotonic() > deadline:
                    break
        finally:
            lab.terminate()
    assert any(f"127.0.0.1:{port}/lab" in line for line in log), "".join(log[-5:])


def test_jupyterlab_stops_when_digitlab_is_killed(tmp_path):
    """kill -9 of `lesson --open` (no handler runs) stops JupyterLab too: no server is left behind."""
    from tests.helpers.processes import children, kill, running

    lab = [sys.executable, "-c", "import time; time.sleep(60)"]  # JupyterLab, as far as a process goes
    script = (
        "from digitlab.lesson import jupyter\n"
        "jupyter.has_jupyterlab = lambda: True\n"
        f"jupyter.jupyterlab_argv = lambda notebook: {lab!r}\n"
        f"jupyter.open_in_jupyterlab({str(tmp_path / 'lesson.ipynb')!r})\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path)
    started: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not started and time.monotonic() < deadline:
            time.sleep(0.1)
            started = children(parent.pid, "time.sleep")
        kill([parent.pid])
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(map(running, started)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(started) == 1 and not running(started[0])
    finally:
        kill([pid for pid in started if running(pid)])
