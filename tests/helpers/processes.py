"""What the process tests share: canary modules in a folder, and `digitlab serve` run for real."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# Modules a child process imports early, by their real names: the standard library's (the spawn start's
# own `multiprocessing`, `json`) and dependencies' (`typer`, the CLI's; `uvicorn`, the server's; JupyterLab).
CANARIES = ("multiprocessing/__init__.py", "json.py", "typer.py", "uvicorn.py", "jupyterlab/__init__.py")
CONSOLE_SCRIPT = (
    Path(sys.executable).parent / "digitlab"
)  # as users start it: no folder of theirs on the path


def plant_canaries(folder: Path) -> Path:
    """Modules named like real ones in `folder`: importing one leaves a file `<its file>-imported`."""
    for name in CANARIES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("open(__file__ + '-imported', 'w').close()\n")
    return folder


def canaries_imported(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*-imported"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(model: Path, cwd: Path, *flags: str) -> tuple[subprocess.Popen, str]:
    """`digitlab serve MODEL` started by its console script in `cwd`, once it answers (or has ended):
    the process and its URL."""
    port = free_port()
    command = [str(CONSOLE_SCRIPT), "serve", str(model), "--port", str(port), "--no-access-log", *flags]
    server = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server.poll() is None and not answers(url):
        time.sleep(0.3)
    return server, url


def answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url + "/api/health", timeout=2).status == 200
    except OSError:
        return False


def children(pid: int, word: str = "") -> list[int]:
    """The process ids of `pid`'s children whose command line holds `word`."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(c) for c in found if word in _command_line(int(c))]


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except FileNotFoundError:  # it has ended meanwhile
        return ""


def running(pid: int) -> bool:
    """Whether the process is alive (a zombie waiting for its reaper is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def kill(pids: list[int]) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
