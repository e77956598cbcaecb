"""Image files to model inputs, many at a time and in order, without torch.

Decoding and preparing happen in a pool, a bounded number of files ahead of the model. The pool is
threads, or, in a process that has not imported torch yet and runs one thread (the predict command
at start-up), processes forked from it: they decode while the command imports torch, about 1.3 s
of one core (BENCHMARKS.md "Start-up"), and need no GIL afterwards. Nothing here imports torch, so a
forked worker never holds torch's thread pools.
"""

import contextlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.data.decode import IMAGE_SUFFIXES, open_image
from digitlab.data.images import as_input, to_mnist
from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular

# (file name, the model's input or None for an image that holds no digit, the line that says why it failed)
Prepared = tuple[str, np.ndarray | None, str | None]
# `import torch` beside two busy processes on 2 cores took 6.6 s with theirs at niceness +5, 8.0 s at 0
# (3.6 s alone; medians of 3, a machine at load 9): workers this much nicer leave the parent its core
WORKER_NICENESS = 5
CHUNK = 32  # files a process prepares per task: its answer costs the parent one unpickling, not 32
MAX_JSON_BYTES = 16 << 20  # as model_file reads model.json (which imports torch)
AHEAD_BYTES = 8 << 20  # inputs held ahead of the model by processes: 10,699 MNIST digits, 2,730 colour 32x32


@dataclass(frozen=True)
class InputKind:
    """What a model reads: images of `size` (height, width) with `channels`, made MNIST-style or as-is."""

    size: tuple[int, int]
    channels: int = 1
    as_is: bool = False

    def prepare(self, image: Image.Image, name: str) -> np.ndarray | None:
        """The input the model will see; None for an image that holds no digit."""
        if self.as_is:
            return as_input(image, name, self.size, self.channels)
        return to_mnist(image, name, self.size)

    def prepare_file(self, name: str) -> tuple[np.ndarray | None, str | None]:
        """The file's input (None if blank), or the one line that says why there is none."""
        try:
            return self.prepare(open_image(name), name), None
        except DigitlabError as e:
            return None, str(e)
        except Exception as e:  # noqa: BLE001 (an image no step foresaw: its own error, the others go on)
            return None, f"{name}: cannot read image ({type(e).__name__}: {e})"

    def ahead(self) -> int:
        """How many prepared inputs fit in AHEAD_BYTES."""
        return max(CHUNK, AHEAD_BYTES // (self.size[0] * self.size[1] * self.channels))


def expected_kind(model: str | Path, as_is: bool) -> InputKind | None:
    """The inputs model.json says its model reads, read without torch so that files can be prepared
    while torch loads. None where model.json is not simply there to read: loading the model says why.
    A guess only: `Predictor` checks it against the model it loads."""
    path = Path(model)
    if path.is_dir():
        path = path / "model.json"
    elif path.suffix != ".json":  # a weights file: its folder's model.json
        path = path.with_name("model.json")
    try:
        info = json.loads(read_regular(path, MAX_JSON_BYTES, follow_links=True))
        height, width = info.get("input_size", [28, 28])
        kind = InputKind(
            (height, width), info.get("channels", 1), as_is or info.get("preprocessing") == "as-is"
        )
    except Exception:  # noqa: BLE001 (any surprise: no guess, and the model's loading names the problem)
        return None
    return kind if all(type(v) is int for v in (height, width, kind.channels)) else None


class Preparing:
    """Each file's `Prepared`, in the order given (folders: their image files, sorted), while a pool of
    `workers` (None: one a core; 0: none, each file prepared when asked for) prepares at most `ahead`
    files beyond those handed out. Work starts when it is made; `close` (or leaving `with`) stops it."""

    def __init__(
        self,
        paths: Iterable[str | Path],
        kind: InputKind,
        workers: int | None = None,
        ahead: int | None = None,
        fork: bool = False,
    ):
        """`fork`: processes, where this process may fork (see `can_fork`); threads otherwise."""
        self.kind, self.files = kind, listed(paths)
        self.processes = fork and workers != 0 and can_fork()
        self.chunk = CHUNK if self.processes else 1  # a thread's task costs no pickling
        self.ahead = ahead or kind.ahead()
        self.pending: deque[tuple[list[tuple[str, str | None]], Future | None]] = deque()
        self.in_flight = 0
        self.pool = _pool(workers or cores(), self.processes) if workers != 0 else None
        self._fill()

    def __iter__(self) -> Iterator[Prepared]:
        while self.pending:
            chunk, work = self.pending.popleft()
            self.in_flight -= len(chunk)
            answers = iter(_result(work)) if work is not None else None
            for name, error in chunk:
                if error is not None:
                    yield name, None, error
                else:
                    yield (name, *(next(answers) if answers is not None else self.kind.prepare_file(name)))
            self._fill()

    def _fill(self) -> None:
        while self.in_flight < self.ahead:
            chunk = list(islice(self.files, self.chunk))
            if not chunk:
                return
            names = [name for name, error in chunk if error is None]
            work = self.pool.submit(_prepare_all, self.kind, names) if self.pool and names else None
            self.pending.append((chunk, work))
            self.in_flight += len(chunk)

    def close(self) -> None:
        """No more work: what is queued is dropped (a consumer that stops early leaves nothing running)."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def __enter__(self) -> "Preparing":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _result(work: Future) -> list[tuple[np.ndarray | None, str | None]]:
    try:
        return work.result()
    except BrokenExecutor:  # a worker killed (out of memory, a signal): one line, as for a bad file
        raise DigitlabError(
            "a process preparing the images ended abruptly (killed, or out of memory)"
        ) from None


def _prepare_all(kind: InputKind, names: list[str]) -> list[tuple[np.ndarray | None, str | None]]:
    return [kind.prepare_file(name) for name in names]


def can_fork() -> bool:
    """Whether this process may fork workers: on Linux (macOS's system libraries are not safe to use
    after a fork, which is why Python spawns there), running no other thread (a fork copies no thread,
    and a lock one of them held stays locked in the child forever), torch not loaded (its thread pools)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1 and "torch" not in sys.modules


def _pool(workers: int, processes: bool) -> Executor:
    if not processes:
        return ThreadPoolExecutor(workers)
    for stream in (sys.stdout, sys.stderr):  # a child's exit flushes what it copied: nothing is there
        stream.flush()
    context = multiprocessing.get_context("fork")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start)


def _worker_start() -> None:
    """Ctrl-C is the parent's to handle (a worker ends when the parent shuts the pool down), and the
    parent comes first: while it imports torch, a worker a core would otherwise take a share of the
    parent's core too, and every answer waits for torch (see WORKER_NICENESS)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # lowering one's own priority is always allowed on POSIX
        os.nice(WORKER_NICENESS)


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def listed(paths: Iterable[str | Path]) -> Iterator[tuple[str, str | None]]:
    """Each path, a folder as its image files in sorted order, with the line that says why a folder
    gives none (unreadable, or holding no image)."""
    for path in map(Path, paths):
        if not path.is_dir():
            yield str(path), None
            continue
        unreadable: list[tuple[str, str]] = []
        images = _image_names(path, unreadable)
        yield from unreadable  # subfolders that could not be read
        if not images:
            yield str(path), f"{path}: folder holds no images"
        yield from ((name, None) for name in images)


def image_files(folder: Path, unreadable: list[tuple[str, str]]) -> list[Path]:
    """Every image file below `folder`, sorted; a subfolder that cannot be read adds its name and error."""
    return [Path(name) for name in _image_names(folder, unreadable)]


def _image_names(folder: Path, unreadable: list[tuple[str, str]]) -> list[str]:
    """`image_files` as names, in the order of their paths' parts (as `Path` sorts them). Each name is
    a normalised folder's joined with an entry's, so it is already what `str(Path(name))` gives."""

    def skipped(error: OSError) -> None:
        unreadable.append((str(error.filename), f"{error.filename}: cannot read folder ({error.strerror})"))
        warnings.warn(f"{error.filename}: skipped, cannot read folder ({error.strerror})", stacklevel=2)

    found = [
        entry.path
        for entry in _walk(folder, skipped)
        if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and entry.is_file()
    ]  # links followed, as Path.is_file: the entry's own type, a stat only for a link
    return sorted(found, key=lambda name: name.split(os.sep))


def _walk(folder: Path, unreadable: Callable[[OSError], None]) -> Iterator[os.DirEntry]:
    """Every entry below `folder` but its folders, as os.walk finds them (links to folders not followed),
    from a list of folders still to read: Python 3.11's os.walk recurses, so a folder nested past
    Python's recursion limit (a few thousand levels are easily made) would end it with a RecursionError."""
    waiting = [str(folder)]
    while waiting:
        try:
            with os.scandir(waiting.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        waiting.append(entry.path)
                    else:
                        yield entry
        except OSError as e:
            unreadable(e)
