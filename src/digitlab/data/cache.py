"""A cache for parsed files, addressed by the file's content: an edited file is never served stale.

The key is a fast 64-bit hash of every byte (plus the size): the file's 8-byte words times
fixed odd random weights, summed per 2 MB chunk and chained chunk by chunk. It reads a 77 MB
CSV in about 17 ms here (SHA-256 takes 150 ms), sees any edit, including one that keeps the
size and the modification time, and is not cryptographic: it guards against accidents, not
against someone crafting a collision inside your own cache folder.

A damaged cache file is never an error: it is ignored, and the source parsed again.
"""

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from digitlab.fileio import atomic_write

CHUNK_WORDS = 1 << 18  # 2 MB of 8-byte words per step: few Python steps, each within the cache
WEIGHTS = np.random.default_rng(20260101).integers(0, 2**63, CHUNK_WORDS, dtype=np.uint64) | np.uint64(1)
MASK = (1 << 64) - 1


def cache_dir() -> Path:
    """$DIGITLAB_CACHE_DIR, else $XDG_CACHE_HOME/digitlab, else ~/.cache/digitlab."""
    if env := os.environ.get("DIGITLAB_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitlab"


def content_hash(path: Path) -> str:
    """A 64-bit hash of the file's bytes and its size, as 16 hex digits plus the size.

    The two halves are hashed in two threads (numpy lets go of the GIL), then chained.
    """
    size = path.stat().st_size
    if size == 0:
        return "0" * 16 + "-0"
    data = np.memmap(path, dtype=np.uint8, mode="r")
    n_words = size // 8
    words = data[: n_words * 8].view(np.uint64)
    middle = (n_words // 2 // CHUNK_WORDS) * CHUNK_WORDS
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(_chained, [words[:middle], words[middle:]]))
    tail = int.from_bytes(bytes(data[n_words * 8 :]), "little")
    h = 0
    for part in (*halves, tail):
        h = (h * 0x100000001B3 + part) & MASK  # chain: order matters
    del words, data
    return f"{h:016x}-{size}"


def _chained(words: np.ndarray) -> int:
    """Chunk by chunk: the chunk's words times the weights, summed, chained onto the hash so far."""
    product = np.empty(CHUNK_WORDS, np.uint64)
    h = 0
    for start in range(0, len(words), CHUNK_WORDS):
        chunk = words[start : start + CHUNK_WORDS]
        np.multiply(chunk, WEIGHTS[: len(chunk)], out=product[: len(chunk)])
        h = (h * 0x100000001B3 + int(product[: len(chunk)].sum())) & MASK
    return h


def cached_arrays(
    path: Path,
    kind: str,
    parse: Callable[[Path], dict[str, np.ndarray]],
    check: Callable[[dict], bool],
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
