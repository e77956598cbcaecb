"""Fetch the original MNIST or Fashion-MNIST files from known mirrors, checking each file's MD5.

Files land under a temp name and are renamed only once their checksum matches. Every request has a
deadline: `timeout` to connect and for each read, and DEADLINE for a whole file, so a mirror that
never answers or sends a byte at a time costs bounded time before the next one is tried.
"""

import hashlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular, write_bytes_atomic

MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}


MAX_BYTES = 64 << 20  # the largest file, Fashion-MNIST's training images, is 26 MB
DEADLINE = 600.0  # seconds for one file from one mirror: 26 MB at 45 KB/s
Progress = Callable[[str, int, int | None], None]  # (file name, bytes so far, bytes in all or None)


def download(
    name: str,
    to: str | Path,
    mirrors: list[str] | None = None,
    checksums: dict[str, str] | None = None,
    timeout: float = 30,
    progress: Progress | None = None,
) -> list[Path]:
    """Download the four IDX files of `name` into `to`; files already there and valid are kept.

    A file of one of those names that is not the dataset's (another checksum, or no regular file) is
    the user's: refused before anything is downloaded, never replaced (digitlab's own writes are
    atomic, so a half-written file of its own cannot be there).
    `progress(file name, bytes so far, bytes in all or None)` is called as each file arrives."""
    if name not in MD5:
        raise DigitlabError(f"unknown dataset {name!r}: choose one of {', '.join(MD5)}")
    mirrors, checksums = mirrors or MIRRORS[name], checksums or MD5[name]
    to = Path(to)
    present = {f for f in checksums if os.path.lexists(to / f)}
    for filename in sorted(present):
        path = to / filename
        if not _is_copy(path, checksums[filename]):
            raise DigitlabError(
                f"{path}: exists and is not {name}'s {filename}; move it or choose another --to"
            )
    for filename, md5 in checksums.items():
        if filename not in present:
            write_bytes_atomic(to / filename, _fetch(filename, md5, mirrors, timeout, progress))
    return [to / filename for filename in checksums]


def _fetch(filename: str, md5: str, mirrors: list[str], timeout: float, progress: Progress | None) -> bytes:
    """The first copy from the mirrors whose checksum matches."""
    problems = []
    for base in mirrors:
        url = base + filename
        try:
            deadline = time.monotonic() + DEADLINE
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = _read(response, filename, progress, deadline)
        except (urllib.error.URLError, OSError) as e:
            problems.append(f"{url}: {getattr(e, 'reason', e)}")
            continue
        except DigitlabError as e:
            problems.append(f"{url}: {e}")
            continue
        if _md5(data) == md5:
            return data
        problems.append(f"{url}: checksum mismatch")
    raise DigitlabError(f"{filename}: no mirror gave a valid copy ({'; '.join(problems)})")


def _read(response: Any, filename: str, progress: Progress | None, deadline: float) -> bytes:
    """The body in chunks, reporting each, never more than MAX_BYTES (no file here is near it), and
    not past `deadline` (a chunk is what one read brings: each waits at most the socket's timeout)."""
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    chunks, size = [], 0
    while chunk := response.read1(1 << 16):
        if time.monotonic() > deadline:
            raise DigitlabError(f"took over {DEADLINE:g} s, with {size:,} bytes of {filename} received")
        size += len(chunk)
        if size > MAX_BYTES:
            raise DigitlabError(f"over {MAX_BYTES:,} bytes, far more than {filename} holds")
        chunks.append(chunk)
        if progress is not None:
            progress(filename, size, total)
    return b"".join(chunks)


def _is_copy(path: Path, md5: str) -> bool:
    """Whether `path` is the dataset's file: regular, no link, read only if it is no larger than any is."""
    try:
        return _md5(read_regular(path, MAX_BYTES)) == md5
    except DigitlabError:
        return False


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
