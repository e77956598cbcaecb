"""A cache for parsed files, addressed by the file's content: an edited file is never served stale.

The key is SHA-256 over every byte: the file's two halves are hashed in two threads (hashlib lets
go of the GIL), and the two digests hashed again with the size (a two-leaf hash tree, as strong as
SHA-256 itself). No edit, however small and wherever it is, keeps the key: unlike a fast additive
hash, moving or swapping bytes changes it too. It costs about 30 ms for the Kaggle train.csv
(77 MB) here (BENCHMARKS.md, "Kaggle CSV parsing").

A damaged cache file is never an error: it is ignored, and the source parsed again.
"""

import contextlib
import hashlib
import mmap
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from digitlab.fileio import atomic_write


def cache_dir() -> Path:
    """$DIGITLAB_CACHE_DIR, else $XDG_CACHE_HOME/digitlab, else ~/.cache/digitlab."""
    if env := os.environ.get("DIGITLAB_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitlab"


def content_hash(path: Path) -> str:
    """SHA-256 of the file's two halves, then of the size and their two digests: 64 hex digits."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else contextlib.nullcontext(b"")
        with mapped as data:
            leaves = _hash_halves(memoryview(data))
    return hashlib.sha256(size.to_bytes(8, "little") + leaves).hexdigest()


def _hash_halves(view: memoryview) -> bytes:
    """The SHA-256 digests of both halves of `view`, computed in two threads."""
    with view, ThreadPoolExecutor(2) as pool:
        halves = [view[: len(view) // 2], view[len(view) // 2 :]]
        digests = list(pool.map(lambda half: hashlib.sha256(half).digest(), halves))
        for half in halves:  # the map can close only once no view of it is left
            half.release()
    return b"".join(digests)


def cached_arrays(
    path: Path,
    kind: str,
    parse: Callable[[Path], dict[str, np.ndarray]],
    check: Callable[[dict[str, np.ndarray]], bool],
    names: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """`parse(path)`, or the arrays it gave before for a file with exactly these bytes.

    `names` are the arrays `parse` may return (one .npy file each); `check` says whether loaded
    arrays are sound: unsound or unreadable ones are parsed again.
    """
    stem = f"{content_hash(path)}.{kind}"
    arrays = _load(stem, names)
    if arrays is not None and check(arrays):
        return arrays
    arrays = parse(path)
    for name in reversed(names):  # the first is written last: when it is there, so are the others
        if name in arrays:
            with atomic_write(cache_dir() / f"{stem}.{name}.npy") as f:
                np.save(f, arrays[name], allow_pickle=False)
    return arrays


def _load(stem: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The cached arrays, memory-mapped copy-on-write: no read until used, yet writable."""
    arrays = {}
    for name in names:
        path = cache_dir() / f"{stem}.{name}.npy"
        if not path.exists():
            if name == names[0]:
                return None
            continue
        try:
            arrays[name] = np.load(path, mmap_mode="c", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
    return arrays or None
