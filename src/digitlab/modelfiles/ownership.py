"""A user's folder stays the user's: digitlab removes or replaces only what it wrote there itself.

A model folder (`train --out`, `ensemble --out`, `lesson --out`) may hold the user's own files,
even under `runs/` and `checkpoint/`. digitlab keeps a manifest, `.digitlab.json`, of the run
folders it made there, and removes nothing else: inside a run folder or `checkpoint/` it removes
only files of its own names, and a folder only once it is empty. Where digitlab must write
(`model.json`, `current`, ...) and something it did not write stands, it refuses with one line.

One process writes a model folder at a time: `.digitlab.lock` is held (flock) while it does,
and a second writer is refused at once, before it trains, so nothing finished is lost.
"""

import contextlib
import errno
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digitlab.errors import DigitlabError
from digitlab.fileio import open_own, read_regular, refuse_special, write_bytes_atomic, write_text_atomic
from digitlab.modelfiles.model_file import WEIGHTS_FILE

MANIFEST = ".digitlab.json"
LOCK = ".digitlab.lock"
MAX_MANIFEST_BYTES = 1 << 20  # it lists a few run names
MAX_FILES_LIST_BYTES = 32 << 20  # about 50 bytes a file it wrote: room for 600,000 saved inputs
PUBLISHED = ("model.json", "history.csv", "report.html", "lesson.html")  # links through `current`
CHECKPOINT_FOLDER = "checkpoint"  # OUT/checkpoint: what a training run writes as it goes, to resume from
RUN_NAME = re.compile(r"[0-9a-f]{12}-[a-z0-9_]{8}")  # <weights hash>-<token>
TOKEN = re.compile(r"[0-9a-f]{8}")
PID = re.compile(rb"([0-9]+\n)?")  # what a lock file holds: the process id of its last writer, or nothing
# The files digitlab writes inside a model folder, a run folder or checkpoint/, and the temp files of
# their writes (fileio.atomic_write's ".NAME.XXXXXXXX.tmp", publishing's ".NAME.link.tmp").
OWN_FILE = re.compile(
    r"(model\.json|history\.csv|report\.html|lesson\.html|checkpoint\.json|current"
    r"|model-[0-9a-f]{12}\.safetensors|state-[0-9a-f]{16}\.safetensors)"
)
OWN_TEMP = re.compile(rf"\.{OWN_FILE.pattern}\.([a-z0-9_]{{8}}|link)\.tmp")


@dataclass
class Manifest:
    """What digitlab wrote in one folder: finished run folders, and the tokens of runs it began."""

    runs: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)  # a lesson folder's files from before manifests
    known: bool = False  # the manifest file existed: checkpoint/ is digitlab's too

    def save(self, folder: Path) -> None:
        data = {"format": "digitlab-folder", "runs": self.runs, "pending": self.pending}
        write_text_atomic(folder / MANIFEST, json.dumps(data) + "\n")
        self.known = True


@contextlib.contextmanager
def writing(folder: str | Path, resume: bool = False) -> Iterator[Manifest]:
    """Hold `folder`'s lock, check that digitlab may write there, and yield its manifest.

    Leftovers of a killed run (temp files, half-made run folders) are removed first. `resume`:
    the run's own checkpoint is in `folder` (the user pointed `--resume` at it).
    """
    folder = Path(folder)
    check(folder, resume)  # a refusal leaves no lock file behind in the user's folder
    created = not os.path.lexists(folder)
    make_folder(folder)
    fd = _lock(folder)
    try:
        manifest = read_manifest(folder)
        manifest.known = manifest.known or resume
        refuse_foreign(folder, manifest)
        remove_leftovers(folder, manifest)
        manifest.save(folder)  # from now on a checkpoint/ here is known to be digitlab's
        yield manifest
    except BaseException:
        if created and {p.name for p in _entries(folder)} <= {MANIFEST, LOCK}:
            for name in (MANIFEST, LOCK):  # a run that failed before writing anything leaves no folder
                (folder / name).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        os.close(fd)  # releases the lock


def check(folder: str | Path, resume: bool = False) -> None:
    """Refuse now, writing nothing, if `writing(folder)` would refuse later (a long job checks first)."""
    folder = Path(folder)
    if os.path.lexists(folder):
        if not folder.is_dir():
            raise DigitlabError(f"{folder}: is a file, not a folder")
        for name in (MANIFEST, LOCK):  # a link or a file of other names: nothing written through it
            refuse_special(folder / name)
        manifest = read_manifest(folder)
        manifest.known = manifest.known or resume
        refuse_foreign(folder, manifest)
        if (folder / LOCK).is_file():
            os.close(_lock(folder, fcntl.LOCK_SH))  # busy now: refused now


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DigitlabError(f"{folder}: is a file, not a folder") from None
    if not folder.is_dir():
        raise DigitlabError(f"{folder}: is a file, not a folder")


def _lock(folder: Path, kind: int = fcntl.LOCK_EX) -> int:
    """The open lock file, locked; a second process is refused with one line naming the first.

    `kind` LOCK_SH only asks whether the folder is free: it writes nothing.
    """
    path = folder / LOCK
    fd = open_own(path)  # no link, one name: the process id written below lands in no file of the user's
    if not PID.fullmatch(os.pread(fd, 32, 0)):
        os.close(fd)
        raise DigitlabError(f"{path}: holds something digitlab did not write there (it keeps its lock there)")
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except OSError as e:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        who = f" (process {holder})" if holder.isdigit() else ""
        raise DigitlabError(
            f"{folder}: another digitlab process{who} is writing this folder; wait for it to end "
            "or choose another --out"
        ) from None
    if kind == fcntl.LOCK_EX:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def read_manifest(folder: Path) -> Manifest:
    """The manifest, checked as untrusted (a folder may come from anyone): only names of run folders."""
    path = folder / MANIFEST
    if not os.path.lexists(path):
        return _adopt_legacy(folder)
    text = read_regular(path, MAX_MANIFEST_BYTES, what="a folder's record needs")
    try:
        data = json.loads(text.decode("utf-8"))
        runs, pending = _names(data, "runs", RUN_NAME), _names(data, "pending", TOKEN)
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
        raise DigitlabError(f"{path}: digitlab's record of this folder is damaged ({e}); move it") from None
    return Manifest(runs, pending, known=True)


def _names(data: dict, key: str, pattern: re.Pattern) -> list[str]:
    """The list `data[key]` of plain names of `pattern` (never a path: `../x` does not match)."""
    names = data[key]
    if not isinstance(names, list) or not all(isinstance(n, str) and pattern.fullmatch(n) for n in names):
        raise ValueError(f"field {key!r} must list names of the form {pattern.pattern}")
    return names


def _adopt_legacy(folder: Path) -> Manifest:
    """A folder digitlab wrote before manifests existed: the run `current` links to, or a lesson's files."""
    manifest = Manifest()
    current = folder / "current"
    if current.is_symlink():
        target = Path(os.readlink(current))
        if target.parent == Path("runs") and RUN_NAME.fullmatch(target.name):
            manifest.runs.append(target.name)
        return manifest
    model_json = folder / "model.json"
    if model_json.is_file() and not model_json.is_symlink():
        with contextlib.suppress(DigitlabError, ValueError, AttributeError, RecursionError):
            data = json.loads(read_regular(model_json, MAX_MANIFEST_BYTES).decode("utf-8"))
            weights = data.get("weights_file", "")
            if data.get("format") == "digitlab-model" and WEIGHTS_FILE.fullmatch(weights):
                manifest.legacy = ["model.json", weights, "lesson.html"]
    return manifest


def refuse_foreign(folder: Path, manifest: Manifest) -> None:
    """One line naming what stands where digitlab must write, but was not written by digitlab."""
    foreign = []
    for name in PUBLISHED:
        path = folder / name
        ours = os.path.islink(path) and os.readlink(path) == f"current/{name}"
        legacy = name in manifest.legacy and path.is_file() and not path.is_symlink()
        if os.path.lexists(path) and not ours and not legacy:
            foreign.append(name)
    current = folder / "current"
    if os.path.lexists(current):
        target = Path(os.readlink(current)) if current.is_symlink() else None
        if target is None or target.parent != Path("runs") or target.name not in manifest.runs:
            foreign.append("current")
    for place in ("runs", CHECKPOINT_FOLDER):  # a link would lead digitlab's writes and removals elsewhere
        path = folder / place
        if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
            foreign.append(place)
    if not manifest.known:
        checkpoint = _entries(folder / CHECKPOINT_FOLDER)
        foreign += [f"checkpoint/{p.name}" for p in checkpoint if OWN_FILE.fullmatch(p.name)]
    if foreign:
        raise DigitlabError(
            f"{folder}: holds {', '.join(foreign)}, which digitlab did not write and would replace; "
            "move them away or choose another --out"
        )


def remove_leftovers(folder: Path, manifest: Manifest) -> None:
    """What a killed run of digitlab's left: temp files, and run folders it began but did not finish."""
    current = os.readlink(folder / "current") if (folder / "current").is_symlink() else ""
    for token in manifest.pending:
        for run in _entries(folder / "runs"):
            begun = run.name == f".tmp-{token}" or (RUN_NAME.fullmatch(run.name) and run.name.endswith(token))
            if begun and f"runs/{run.name}" != current:
                remove_own_folder(run)
    manifest.pending = []
    for place in (folder, folder / CHECKPOINT_FOLDER):
        for path in _entries(place):
            if OWN_TEMP.fullmatch(path.name) and (path.is_symlink() or path.is_file()):
                path.unlink(missing_ok=True)


def remove_own_folder(path: Path) -> None:
    """digitlab's files in `path` (a run folder or checkpoint/), then `path` itself once it is empty."""
    if path.is_symlink() or not path.is_dir():
        return
    for entry in _entries(path):
        own = OWN_FILE.fullmatch(entry.name) or OWN_TEMP.fullmatch(entry.name)
        if own and (entry.is_symlink() or entry.is_file()):
            entry.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: the user's files stay, and the folder with them
        path.rmdir()


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir()) if folder.is_dir() and not folder.is_symlink() else []
    except OSError:
        return []


class OwnedFiles:
    """Files digitlab writes into a folder that may hold the user's (`explain --out`, `predict
    --save-inputs`): each name goes into the folder's `.digitlab-files.json` before its file is
    written, and a name that exists without being listed there is refused, so nothing of the user's
    is replaced. A later run may replace what an earlier one listed, unless it changed since digitlab
    wrote it (its size and time of change, recorded after the write): the exercise stubs are written to
    be edited, and once edited they are the learner's."""

    MARKER = ".digitlab-files.json"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if os.path.lexists(self.folder) and not self.folder.is_dir():
            raise DigitlabError(f"{self.folder}: is a file, not a folder")
        marker = self.folder / self.MARKER
        names, self.stamps = self._read(marker) if os.path.lexists(marker) else ([], {})
        self.listed: set[str] = set(names)

    def _read(self, marker: Path) -> tuple[list[str], dict[str, list[int]]]:
        text = read_regular(marker, MAX_FILES_LIST_BYTES, what="a list of file names needs")
        try:
            data = json.loads(text.decode("utf-8"))
            names, stamps = data["files"], data.get("written", {})  # older records list names only
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise TypeError("not a list of names")
            if not isinstance(stamps, dict) or not all(
                isinstance(v, list) and len(v) == 2 and all(type(i) is int for i in v)
                for v in stamps.values()
            ):
                raise TypeError("not a record of sizes and times")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # any JSON, any depth
            raise DigitlabError(f"{marker}: is not a list of files digitlab wrote") from None
        return names, stamps

    def claim(self, names: list[str]) -> None:
        """Refuse now if any name belongs to someone else; then list them all (before any is written)."""
        for name in names:
            if os.path.lexists(self.folder / name) and name not in self.listed:
                raise DigitlabError(
                    f"{self.folder / name}: exists and digitlab did not write it; choose another folder"
                )
            refuse_special(self.folder / name)  # listed, but a link now: nothing is written through it
            if (
                name in self.stamps
                and os.path.lexists(self.folder / name)
                and (self.stamps[name] != _stamp(self.folder / name))
            ):
                raise DigitlabError(
                    f"{self.folder / name}: changed since digitlab wrote it; "
                    "move it away or choose another folder"
                )
        new = set(names) - self.listed
        if new:
            make_folder(self.folder)
            self.listed |= new
            self._record()

    def write(self, name: str, data: bytes) -> None:
        """A file claimed before (`claim`), written whole or not at all; `save` records it as written."""
        if name not in self.listed:
            raise ValueError(f"{name} was not claimed")
        write_bytes_atomic(self.folder / name, data)
        self.stamps[name] = _stamp(self.folder / name)

    def save(self) -> None:
        """The list of names, and the size and time of each file written, into the folder's record."""
        if self.stamps:  # else nothing was written: the record `claim` made stands
            self._record()

    def _record(self) -> None:
        written = {name: stamp for name, stamp in self.stamps.items() if name in self.listed}
        data = {"files": sorted(self.listed), "written": written}
        write_text_atomic(self.folder / self.MARKER, json.dumps(data) + "\n")


def _stamp(path: Path) -> list[int]:
    """What changes when anyone rewrites a file: its size and its time of last change (ns)."""
    st = os.lstat(path)
    return [st.st_size, st.st_mtime_ns]
