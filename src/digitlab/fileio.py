"""Files digitlab writes and reads whole, safely: writes are atomic (a reader never sees a half-written
file), made anew and renamed into place, never through a link; reads are bounded before they happen."""

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

    The temp file is made anew (mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW), and `path` is refused first if it
    is a link, a device or a file of other names (`refuse_special`): nothing is written through a link.

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
    """Writing replaces only a regular file of one name: never a device (`/dev/null`), a pipe, a link
    the user made, or a file with other hard links (its other names would keep the old bytes, or, had
    it been written in place, show digitlab's).

    A folder is left to the write itself, whose error says "Is a directory".
    """
    try:
        st = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return
    kind = stat.S_IFMT(st.st_mode)
    if kind in SPECIAL:
        raise DigitlabError(f"{path}: is {SPECIAL[kind]}; digitlab writes only regular files")
    refuse_linked(path, st)


def refuse_linked(path: Path, st: os.stat_result) -> None:
    """One line if the regular file `st` describes has other names (hard links): it is someone's."""
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        raise DigitlabError(
            f"{path}: has {st.st_nlink - 1} other name(s) (hard links); "
            "digitlab writes only files of one name"
        )


def open_own(path: Path) -> int:
    """A file digitlab keeps open and writes in place (a lock, which a rename would split in two),
    as a descriptor: made anew (O_EXCL) when missing, else opened without following a link, and
    refused unless it is a regular file of one name."""
    nofollow = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(path, nofollow | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        pass
    except OSError as e:  # a folder we may not write to
        raise DigitlabError(f"{path}: cannot create ({e.strerror})") from None
    try:
        fd = os.open(path, nofollow)
    except OSError as e:  # ELOOP: a link; EISDIR: a folder
        refuse_special(path)
        raise DigitlabError(f"{path}: cannot open ({e.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        refuse_linked(path, st)
        raise DigitlabError(f"{path}: is not a regular file; digitlab writes only regular files")
    return fd


def writable_folder(path: str | Path) -> Path:
    """`path`, if digitlab can make files in it later (it is made then if missing), said in one line
    now otherwise: a file stands there or above it, or the nearest folder that exists is not writable."""
    path = Path(path)
    existing = path.absolute()
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.is_dir():
        raise DigitlabError(f"{path}: is not a folder ({existing} is a file)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DigitlabError(f"{path}: {existing} is a folder digitlab may not write to")
    return path


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


def read_regular(
    path: str | Path, most: int, follow_links: bool = False, what: str = "digitlab reads"
) -> bytes:
    """The bytes of a regular file of at most `most` bytes, its size taken from the open descriptor
    before anything is read: a pipe or /dev/zero would never end, and a sparse 3 GB file would fill
    memory before any check of its text. Not through a link, unless `follow_links` (a file the user
    named on the command line). `what` ends the refusal: "N bytes, more than WHAT (most)"."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise DigitlabError(f"{path}: no such file") from None
    except OSError as e:
        link = "is not a regular file (a symbolic link, not followed here)"
        why = link if e.errno == errno.ELOOP else f"cannot read ({e.strerror})"
        raise DigitlabError(f"{path}: {why}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise DigitlabError(f"{path}: is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise DigitlabError(f"{path}: is not a regular file (a pipe, device or socket)")
        if st.st_size > most:
            raise DigitlabError(f"{path}: {st.st_size:,} bytes, more than {what} ({most:,})")
        with open(fd, "rb", closefd=False) as f:
            data = f.read(st.st_size + 1)  # one byte more tells a file that grew since
    finally:
        os.close(fd)
    if len(data) > st.st_size:
        raise DigitlabError(f"{path}: changed while digitlab read it; try again")
    return data


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
