"""Running the learner's own FILE.py to find their exercise functions.

Naming the file on the command line is the consent to run it. Nothing else is imported on its
behalf: it runs as a module of its own, with neither its folder nor the current one put first on
sys.path while it runs (a `torch.py` lying there stays unread), and its size is checked first.
"""

import contextlib
import io
import sys
import traceback
import types
from collections.abc import Iterator
from pathlib import Path

from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular, regular_file

MAX_BYTES = 1 << 20  # an exercise file is a few kilobytes
MODULE = "digitlab_learner_exercises"  # never the name of a module anyone imports


def load_definitions(path: str | Path) -> dict[str, object]:
    """The functions and classes defined in the file itself (not those it imports), by name."""
    path = regular_file(path)
    if path.suffix != ".py":
        raise DigitlabError(f"{path}: is not a Python file (.py)")
    module = types.ModuleType(MODULE)
    module.__file__ = str(path)
    code = _compiled(path)
    sys.modules[MODULE] = module  # while it runs: dataclasses and pickling look their module up
    try:
        with _without_local_folders(path):
            exec(code, module.__dict__)
    except Exception as e:  # noqa: BLE001 (the learner's code may raise anything)
        line = next((f.lineno for f in reversed(traceback.extract_tb(e.__traceback__))
                     if f.filename == str(path)), None)  # fmt: skip
        at = f" at line {line}" if line else ""
        raise DigitlabError(f"{path}: running it raised {type(e).__name__}{at}: {e}") from None
    except SystemExit:
        raise DigitlabError(f"{path}: called exit() while it was imported") from None
    finally:
        sys.modules.pop(MODULE, None)
    return {name: value for name, value in vars(module).items() if _defined_in(value, path)}


def _compiled(path: Path) -> types.CodeType:
    source = read_regular(path, MAX_BYTES, follow_links=True, what="an exercise file of a few KB needs")
    try:
        return compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as e:
        raise DigitlabError(f"{path}: line {e.lineno}: {e.msg}") from None
    except ValueError as e:  # null bytes
        raise DigitlabError(f"{path}: is not Python source ({e})") from None


@contextlib.contextmanager
def _without_local_folders(path: Path) -> Iterator[None]:
    """sys.path without the current folder ('' or its path) and the file's own folder, restored after."""
    local = {Path.cwd().resolve(), path.resolve().parent}
    saved = sys.path[:]
    sys.path[:] = [p for p in saved if p and _resolved(p) not in local]
    try:
        yield
    finally:
        sys.path[:] = saved


def _resolved(entry: str) -> Path | None:
    try:
        return Path(entry).resolve()
    except OSError:
        return None


def _defined_in(value: object, path: Path) -> bool:
    code = getattr(value, "__code__", None)
    if code is not None:
        return code.co_filename == str(path)
    return isinstance(value, type) and value.__module__ == MODULE


@contextlib.contextmanager
def standard_streams_kept(path: str | Path) -> Iterator[list[str]]:
    """sys.stdout and sys.stderr as they were, whatever the learner's code did to them (closed or replaced).

    Yields a list that names, after the block, each stream the file closed or replaced: digitlab
    reports there, so it opens the closed one again on the same descriptor rather than failing.
    """
    saved = {"stdout": sys.stdout, "stderr": sys.stderr}
    descriptors = {name: _descriptor(stream) for name, stream in saved.items()}
    changed: list[str] = []
    try:
        yield changed
    finally:
        for name, stream in saved.items():
            if stream.closed and descriptors[name] is not None:
                stream = io.TextIOWrapper(
                    open(descriptors[name], "wb", closefd=False), errors="backslashreplace"
                )
                stream.reconfigure(line_buffering=True)
                changed.append(f"{path}: closed sys.{name}; digitlab opened it again to report")
            elif getattr(sys, name) is not stream:
                changed.append(f"{path}: replaced sys.{name}; digitlab put it back to report")
            setattr(sys, name, stream)


def _descriptor(stream: object) -> int | None:
    try:
        return int(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
