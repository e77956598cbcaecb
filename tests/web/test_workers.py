"""`serve --workers N`'s processes live and die together: no worker answers on once its parent is gone,
and a parent whose workers have all died says so and fails."""

import signal
import time

import pytest

from digitlab.web.server import GRACE
from tests.helpers.processes import (
    answers,
    canaries_imported,
    children,
    kill,
    plant_canaries,
    running,
    start_serve,
)


@pytest.mark.slow  # two worker processes start (torch imported in each): about 15 s; `make slow` runs it
def test_the_workers_exit_when_their_parent_is_killed(trained_model, tmp_path):
    """(In a folder of canary modules: tests/run/test_child_processes.py has every way of starting.)"""
    server, url = start_serve(trained_model, plant_canaries(tmp_path), "--workers", "2")
    workers = children(server.pid, "spawn_main")
    try:
        assert answers(url) and len(workers) == 2
        kill([server.pid])  # kill -9: no handler of the parent runs
        server.wait(timeout=10)
        deadline = time.monotonic() + GRACE + 10  # their shutdown, at worst GRACE seconds, and the exit
        while any(map(running, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(map(running, workers)) and not answers(url)
        assert canaries_imported(tmp_path) == []
    finally:
        kill([pid for pid in workers if running(pid)])
        server.communicate()


@pytest.mark.slow  # another server of 2 workers: 10-20 s on 2 cores; `make slow` runs it
def test_when_every_worker_has_died_the_parent_fails_saying_why(trained_model, tmp_path):
    server, url = start_serve(trained_model, tmp_path, "--workers", "2")
    workers = children(server.pid, "spawn_main")
    assert answers(url) and len(workers) == 2
    kill(workers[:1])
    time.sleep(1)
    assert server.poll() is None and answers(url)  # one worker still serves: so does the parent
    kill(workers[1:])
    out, err = server.communicate(timeout=30)
    assert server.returncode == 1 and err.count("\n") == 1, err
    ends = ", ".join(f"pid {pid} was killed by {signal.SIGKILL.name}" for pid in workers)
    assert err == f"error: every worker has stopped ({ends}): nothing is serving\n"
