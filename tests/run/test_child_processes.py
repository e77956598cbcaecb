"""Every process digitlab starts imports what its parent would: never a module of the current folder.

`python -m`/`-c` put the current folder first on the import path; a `multiprocessing/` or `typer.py` of
the user's folder would run in each child. Canaries of such names lie in the folder each command runs in.
"""

import json
import os
import subprocess
import sys

import pytest

from digitlab.run.processes import child_environment
from tests.helpers.processes import (
    CONSOLE_SCRIPT,
    answers,
    canaries_imported,
    children,
    free_port,
    plant_canaries,
    running,
    start_serve,
)


def test_the_child_environment_leaves_out_the_current_and_the_scripts_folder(tmp_path, monkeypatch):
    script, elsewhere = tmp_path / "scripts", tmp_path / "elsewhere"
    monkeypatch.chdir(plant_canaries(tmp_path))
    monkeypatch.setattr(sys, "path", ["", str(tmp_path), str(script), str(elsewhere), *sys.path])
    monkeypatch.setattr(sys, "argv", [str(script / "run.py")])
    env = child_environment()
    path = env["PYTHONPATH"].split(os.pathsep)
    assert env["PYTHONSAFEPATH"] == "1" and path[0] == str(elsewhere)
    assert not {"", str(tmp_path), str(script)} & set(path) and set(sys.path[4:]) <= set(path)
    probe = [sys.executable, "-c", "import json, typer"]
    subprocess.run(probe, cwd=tmp_path, check=True)  # as `-c` starts: the folder's canaries run
    assert canaries_imported(tmp_path) == ["json.py-imported", "typer.py-imported"]
    for marker in tmp_path.glob("*-imported"):
        marker.unlink()
    real = "import json, typer; json.dumps([typer.Typer.__name__]); import digitlab.cli"  # the real ones
    subprocess.run([sys.executable, "-c", real], cwd=tmp_path, env=env, check=True)
    assert canaries_imported(tmp_path) == []


def _serve_workers(trained_model, tiny_mnist_dir, folder):
    server, url = start_serve(trained_model, folder, "--workers", "2")
    served = answers(url)
    server.terminate()
    out, err = server.communicate(timeout=60)
    assert served and server.returncode == 0, err[-2000:]


def _train_processes(trained_model, tiny_mnist_dir, folder):
    flags = ["--data", tiny_mnist_dir, "--model", "linear", "--epochs", "1", "--nproc", "2", "--out", "m"]
    done = subprocess.run(
        [CONSOLE_SCRIPT, "train", *map(str, flags)], cwd=folder, capture_output=True, text=True
    )
    assert done.returncode == 0 and "test accuracy" in done.stdout, done.stderr[-2000:]


def _open_jupyterlab(trained_model, tiny_mnist_dir, folder):
    jupyter = {f"JUPYTER_{k}_DIR": str(folder / k.lower()) for k in ("CONFIG", "DATA", "RUNTIME")}
    server = {"allow_root": True, "open_browser": False, "port": free_port()}  # root: as in a container
    (folder / "config").mkdir()
    (folder / "config" / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": server}))
    command = [CONSOLE_SCRIPT, "lesson", "--notebook", "lesson.ipynb", "--open"]
    lab = subprocess.Popen(command, cwd=folder, env={**os.environ, **jupyter},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines = []
    for line in lab.stdout:  # JupyterLab says where it serves once it has imported its parts, and waits
        lines.append(line)
        if "http://" in line:
            break
    server = children(lab.pid, "jupyterlab")
    lab.terminate()  # digitlab stopped: JupyterLab stops with it
    lines.append(lab.communicate(timeout=60)[0])
    assert any("http://" in line for line in lines), "".join(lines)[-2000:]
    assert len(server) == 1 and not running(server[0])


@pytest.mark.slow  # each starts interpreters that import torch: 10-30 s on 2 cores; `make slow` runs them
@pytest.mark.parametrize("start", [_serve_workers, _train_processes, _open_jupyterlab])
def test_no_process_digitlab_starts_imports_the_current_folders_modules(
    start, trained_model, tiny_mnist_dir, tmp_path
):
    folder = plant_canaries(tmp_path)
    start(trained_model, tiny_mnist_dir, folder)
    assert canaries_imported(folder) == []
