"""Model folders that change all at once: what `train` and `ensemble` publish.

A folder holds `runs/<weights hash>-<id>/` with the model and its files, a link `current` to the
newest, and `model.json`, `report.html`, ... as links through `current`. One rename switches them.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

from torch import nn

from digitlab.checkpoint import JSON_NAME, ModelInfo, save_model
from digitlab.fileio import umask, write_text_atomic


def publish_run(folder: str | Path, model: nn.Module, info: ModelInfo, files: dict[str, str]) -> Path:
    """Make `folder` hold this model, with `files` (history.csv, report.html), switching all at once.

    Everything is written into a new folder under `runs/`, then the link `current` is pointed
    at it with one rename; `model.json` and each of `files` in `folder` are links through
    `current`. A reader, or a run killed at any moment, sees the whole previous model or the
    whole new one, never a mix. Older runs are removed (a killed run's leftovers: `remove_leftovers`).
    """
    folder = Path(folder)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_mkdir(folder / "runs")))
    os.chmod(staging, 0o777 & ~umask())  # mkdtemp makes 0700; a run folder is as readable as any
    json_path = save_model(model, staging, info)
    for name, text in files.items():
        write_text_atomic(staging / name, text)
    run = staging.with_name(f"{json.loads(json_path.read_text())['weights_sha256'][:12]}-{staging.name[5:]}")
    os.rename(staging, run)
    for name in (JSON_NAME, *files):
        _link(folder / name, Path("current") / name)
    _link(folder / "current", Path("runs") / run.name)  # the switch
    for old in (folder / "runs").iterdir():
        if old != run:
            shutil.rmtree(old, ignore_errors=True)
    return folder / JSON_NAME


def remove_leftovers(folder: Path) -> None:
    """Temporary files and folders that a killed run left in a model folder."""
    for leftover in [*folder.glob(".*.tmp"), *folder.glob("runs/.tmp-*"), *folder.glob("checkpoint/.*.tmp")]:
        shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)


def _link(path: Path, target: Path) -> None:
    """Make `path` a symlink to `target`, replacing whatever is there in one rename."""
    if path.is_symlink() and Path(os.readlink(path)) == target:
        return
    tmp = path.with_name(f".{path.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, path)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
