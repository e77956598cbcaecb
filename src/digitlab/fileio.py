"""Atomic file writes (a reader never sees a half-written file) that replace only regular files."""

import contextlib
import errno
import functools
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from digitlab.errors import DigitlabError


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temp file beside `path`, then rename it over `path` only if all went well.

    A failure to write names `path`, the file asked for, not the temp file nobody asked for.
    """
    path = Path(path)
    refuse_special(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:  # a file stands where a folder must be
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), e.filename) from None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:  # a folder we may not write to
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        os.chmod(fd, 0o666 & ~umask())  # mkstemp makes 0600; a normal file follows the umask
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename in (None, tmp):  # the disk full, `path` a folder, ...
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


SPECIAL = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a pipe (FIFO)", stat.S_IFSOCK: "a socket",
           stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}  # fmt: skip


def refuse_special(path: Path) -> None:
    """Writing replaces only a regular file: never a device (`/dev/null`), a pipe or a link the user made.

    A folder is left to the write itself, whose error says "Is a directory".
    """
    try:
        kind = stat.S_IFMT(path.lstat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return
    if kind in SPECIAL:
        raise DigitlabError(f"{path}: is {SPECIAL[kind]}; digitlab writes only regular files")


def regular_file(path: str | Path) -> Path:
    """`path`, if it is a regular file (links followed) that reads without waiting: no pipe or device."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DigitlabError(f"{path}: no such file") from None
    except OSError as e:
        raise DigitlabError(f"{path}: cannot read ({e.strerror})") from None
    if stat.S_ISDIR(mode):
        raise DigitlabError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise DigitlabError(f"{path}: is not a regular file (a pipe, device or socket)")
    return path


@functools.cache
def umask() -> int:
    """The process's umask (read once: os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_write(path, "w") as f:
        f.write(text)
