"""The `digitlab` program ends its process at once after a command, yet loses nothing on the way out:
its output arrives whole, Python's exit functions run, a thread still at work is waited for."""

import subprocess
import sys

ENDING = """
import atexit, sys, threading, time
from digitlab.cli import main

atexit.register(lambda: print("exit function ran", flush=True))
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.5), print("thread finished", flush=True))).start()
sys.argv = ["digitlab", "--version"]
main()
print("not reached")
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", ENDING, *args], capture_output=True, text=True, timeout=120)


def test_main_ends_the_process_with_output_and_exit_functions():
    done = _run("plain")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digitlab ") and done.stdout.endswith("exit function ran\n")
    assert "not reached" not in done.stdout  # main never returns: it ends the process


def test_main_waits_for_a_thread_at_work():
    done = _run("thread")
    assert done.returncode == 0, done.stderr
    assert "thread finished" in done.stdout and "exit function ran" in done.stdout


def test_main_keeps_the_status_of_an_error():
    done = subprocess.run(
        [sys.executable, "-m", "digitlab", "train", "--data", "/nonexistent/x.csv"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.startswith("error: ") and "x.csv" in done.stderr
