"""A binary cache for parsed files, keyed by the file's size, mtime and content hash.

A second load of an unchanged file checks size and mtime only; a file whose mtime
changed but whose bytes did not (a fresh copy, say) is recognised by its SHA-256.
"""

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitlab.fileio import atomic_write, write_text_atomic


def cache_dir() -> Path:
    """$DIGITLAB_CACHE_DIR, else $XDG_CACHE_HOME/digitlab, else ~/.cache/digitlab."""
    if env := os.environ.get("DIGITLAB_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitlab"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def cached_arrays(
    path: Path, kind: str, parse: Callable[[Path], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """`parse(path)`, or the arrays it gave last time for the same file contents."""
    stat = path.stat()
    key = hashlib.sha256(f"{kind}:{path.resolve()}".encode()).hexdigest()[:24]
    meta_path = cache_dir() / f"{key}.json"
    meta = _read_meta(meta_path)
    if meta and (meta["size"], meta["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
        if arrays := _load(cache_dir() / f"{meta['sha256']}.{kind}.npz"):
            return arrays
    digest = file_sha256(path)
    data_path = cache_dir() / f"{digest}.{kind}.npz"
    arrays = _load(data_path)
    if arrays is None:
        arrays = parse(path)
        with atomic_write(data_path) as f:
            np.savez(f, **arrays)
    meta = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    write_text_atomic(meta_path, json.dumps(meta))
    return arrays


def _read_meta(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _load(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError):
        return None
