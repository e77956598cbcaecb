"""Opening and running the lesson's notebook with the Jupyter that `digitlab[notebook]` installs.

The commands printed here name programs of this Python's environment, so they work as printed
even when that environment is not activated.
"""

import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import IO

from digitlab.errors import DigitlabError

INSTALL = "pip install 'digitlab[notebook]' (in a checkout: make notebook)"


def has_jupyterlab() -> bool:
    return all(
        importlib.util.find_spec(name) is not None for name in ("jupyterlab", "nbconvert", "ipykernel")
    )


def jupyter_command() -> str:
    """`jupyter` when the one on PATH is this environment's, else its full path."""
    ours = Path(sys.executable).parent / "jupyter"
    on_path = shutil.which("jupyter")
    same = on_path is not None and ours.exists() and Path(on_path).resolve() == ours.resolve()
    return "jupyter" if same else shlex.quote(str(ours))


def execute_command(notebook: Path) -> str:
    """The command that runs every cell and saves the outputs into the notebook."""
    return f"{jupyter_command()} nbconvert --to notebook --execute --inplace {shlex.quote(str(notebook))}"


def hint(notebook: Path) -> str:
    """What to do with the notebook just written, as commands that work once the extra is installed."""
    ready = "" if has_jupyterlab() else f"first {INSTALL}; then "
    return (
        f"wrote {notebook}. To open it, {ready}run: digitlab lesson --notebook {shlex.quote(str(notebook))} "
        f"--open; to run it top to bottom without opening it: {execute_command(notebook)}"
    )


def jupyterlab_argv(notebook: Path) -> list[str]:
    """JupyterLab on the notebook; as root (most containers) with --allow-root: it will not start without."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    return [sys.executable, "-m", "jupyterlab", *(["--allow-root"] if root else []), str(notebook)]


def open_in_jupyterlab(notebook: Path) -> None:
    """Start JupyterLab on the notebook (it opens a browser tab); returns when JupyterLab stops, and
    stops it when this process is stopped (SIGTERM) or killed: no server is left behind."""
    from digitlab.run.processes import child_environment, end_with_parent  # torch: only when it starts

    if not has_jupyterlab():
        raise DigitlabError(f"--open: JupyterLab is not installed here; {INSTALL}")
    argv, stopped = jupyterlab_argv(notebook), []
    env = child_environment()  # imports nothing of the current folder
    parent = os.getpid()
    with subprocess.Popen(
        argv,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=env,
        preexec_fn=lambda: end_with_parent(parent),  # kill -9 of this process stops JupyterLab too
    ) as lab:

        def stop(signum, frame) -> None:  # this process stopped (SIGTERM): JupyterLab stops with it
            stopped.append(signum)
            lab.terminate()

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            last = _relay(lab.stderr)
            code = lab.wait()
        except KeyboardInterrupt:  # Ctrl-C is how a JupyterLab session ends
            lab.kill()
            return
        finally:
            signal.signal(signal.SIGTERM, previous)
    if code != 0 and not stopped:
        raise DigitlabError(f"--open: JupyterLab stopped with exit status {code}: {_reason(last)}")


def _relay(log: IO[str] | None) -> list[str]:
    """Pass JupyterLab's log on as it comes (its address and token are in it); keep its last lines."""
    last: deque[str] = deque(maxlen=20)
    for line in log or ():
        sys.stderr.write(line)
        sys.stderr.flush()
        if line.strip():
            last.append(line.strip())
    return list(last)


def _reason(lines: list[str]) -> str:
    """The log's last critical or error line (`[C 12:00:00.000 ServerApp] ...`) unprefixed, or its last."""
    flagged = [line for line in lines if re.match(r"\[[CE] ", line)]
    line = (flagged or lines or ["it printed nothing"])[-1]
    return re.sub(r"^\[[A-Z] [^\]]*\]\s*", "", line)
