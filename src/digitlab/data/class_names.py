"""Class names: from folder names, a `classes.txt` beside the data (one name a line) or `--classes a,b,c`.

A label stays a class index; names say what each index means. Names come from outside: they are
checked to be text (printable later through `errors.plain`), not to be safe paths (see `safe_folder_name`).
"""

from pathlib import Path

from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular

CLASSES_TXT = "classes.txt"
MAX_NAME_CHARS = 100
MAX_NAMES = 1000
MAX_CLASSES_TXT_BYTES = 1 << 20


def check_names(names: list[str], where: str) -> None:
    """1 to 1,000 distinct, non-empty names of at most 100 characters that encode as UTF-8."""
    if not 1 <= len(names) <= MAX_NAMES:
        raise DigitlabError(f"{where}: {len(names)} class names; 1 to {MAX_NAMES:,} are allowed")
    for name in names:
        if not name.strip() or len(name) > MAX_NAME_CHARS:
            raise DigitlabError(f"{where}: class name {name!r:.120} must be 1 to {MAX_NAME_CHARS} characters")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # a file name in no valid encoding: it could not be written to JSON
            raise DigitlabError(f"{where}: class name {name!r:.120} is not valid UTF-8") from None
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})[0]
        raise DigitlabError(f"{where}: class name {twice!r} appears twice")


def parse_classes(text: str) -> tuple[str, ...]:
    """`--classes cat,dog,bird` as names, spaces around each trimmed."""
    names = [n.strip() for n in text.split(",")]
    check_names(names, "--classes")
    return tuple(names)


def classes_txt(data: Path) -> tuple[str, ...] | None:
    """The names in `classes.txt` beside a data file (or in a data folder), or None when there is none."""
    path = (data if data.is_dir() else data.parent) / CLASSES_TXT
    if not path.is_file():
        return None
    raw = read_regular(path, MAX_CLASSES_TXT_BYTES, follow_links=True, what="a list of class names")
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise DigitlabError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    names = [line.strip() for line in lines]
    while names and not names[-1]:  # a trailing blank line is not a class
        names.pop()
    check_names(names, str(path))
    return tuple(names)


def check_labels_named(labels_max: int, names: tuple[str, ...], where: str) -> None:
    """Every label an index into `names` (a label 7 needs at least 8 names)."""
    if labels_max >= len(names):
        raise DigitlabError(
            f"{where}: has labels up to {labels_max}, and {len(names)} class names (one per label 0..)"
        )


def safe_folder_name(name: str) -> bool:
    """A class name that can be a folder's own name on any system (no path, no device, nothing hidden)."""
    reserved = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10))}
    return (
        name.isprintable()
        and not name.startswith(".")
        and not name.endswith((" ", "."))
        and not set(name) & set('/\\:*?"<>|')
        and name.split(".")[0].upper() not in reserved
    )
