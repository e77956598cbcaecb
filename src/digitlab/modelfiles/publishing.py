"""Model folders that change all at once: what `train`, `ensemble` and `lesson` publish.

A folder holds `runs/<weights hash>-<token>/` with the model and its files, a link `current` to
the newest, and `model.json`, `report.html`, ... as links through `current`. One rename switches
them. Only run folders that digitlab's manifest lists are ever removed (`ownership`).
"""

import os
import secrets
from pathlib import Path

from torch import nn

from digitlab.fileio import umask, write_text_atomic
from digitlab.modelfiles.model_file import JSON_NAME, ModelInfo, read_info, save_model
from digitlab.modelfiles.ownership import PUBLISHED, Manifest, remove_own_folder


def publish_run(
    folder: str | Path, manifest: Manifest, model: nn.Module, info: ModelInfo, files: dict[str, str]
) -> Path:
    """Make `folder` hold this model, with `files` (history.csv, report.html), switching all at once.

    Call it inside `ownership.writing(folder)`, which yields `manifest`. Everything is written into
    a new folder under `runs/`, then the link `current` is pointed at it with one rename; `model.json`
    and each of `files` in `folder` are links through `current`. A reader, or a run killed at any
    moment, sees the whole previous model or the whole new one, never a mix. The runs digitlab made
    before are removed after the switch.
    """
    folder, token = Path(folder), secrets.token_hex(4)
    manifest.pending.append(token)  # recorded before it exists: a killed run's half is found again
    manifest.save(folder)
    runs = folder / "runs"
    runs.mkdir(exist_ok=True)
    staging = runs / f".tmp-{token}"
    staging.mkdir(mode=0o777 & ~umask())
    json_path = save_model(model, staging, info)
    for name, text in files.items():
        write_text_atomic(staging / name, text)
    run = runs / f"{read_info(json_path).weights_sha256[:12]}-{token}"
    os.rename(staging, run)
    old, manifest.runs = manifest.runs, [*manifest.runs, run.name]
    manifest.pending.remove(token)
    manifest.save(folder)
    for name in (JSON_NAME, *files):
        _link(folder / name, Path("current") / name)
    _link(folder / "current", Path("runs") / run.name)  # the switch
    for name in PUBLISHED:  # a link of ours to a file this run does not have (a lesson after a train)
        path = folder / name
        if name != JSON_NAME and name not in files and os.path.islink(path):
            path.unlink()
    for name in old:
        remove_own_folder(runs / name)
    for name in manifest.legacy:  # replaced by links now, or a weights file nothing names any more
        path = folder / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
    manifest.runs, manifest.legacy = [run.name], []
    manifest.save(folder)
    return folder / JSON_NAME


def _link(path: Path, target: Path) -> None:
    """Make `path` a symlink to `target`, replacing whatever is there in one rename."""
    if path.is_symlink() and Path(os.readlink(path)) == target:
        return
    tmp = path.with_name(f".{path.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, path)
