"""Opening and running the lesson's notebook with the Jupyter that `digitlab[notebook]` installs.

The commands printed here name programs of this Python's environment, so they work as printed
even when that environment is not activated.
"""

import importlib.util
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

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


def open_in_jupyterlab(notebook: Path) -> None:
    """Start JupyterLab on the notebook (it opens a browser tab); returns when JupyterLab stops, and
    stops it when this process is stopped (SIGTERM): no server is left behind."""
    from digitlab.run.processes import child_environment  # torch: only when JupyterLab starts

    if not has_jupyterlab():
        raise DigitlabError(f"--open: JupyterLab is not installed here; {INSTALL}")
    argv = [sys.executable, "-m", "jupyterlab", str(notebook)]
    lab = subprocess.Popen(argv, env=child_environment())  # imports nothing of the current folder
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: lab.terminate())
    try:
        lab.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches JupyterLab too, which asks whether to stop: its answer
        lab.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
