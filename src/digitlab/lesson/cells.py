"""The lesson's one source, `mnist_basics.md`, read as cells: prose (Markdown) and code.

A fenced block opened with ```` ```python ```` is a code cell; everything between code cells is
a prose cell. The block marked ```` ```python parameters ```` holds the settings that
`digitlab lesson` fills in (data source, pair, subset), like papermill's parameters cell;
```` ```python caption: TEXT ```` gives the cell's output a caption, in which `{PAIR[0]}` and
the like are filled in from the parameters; ```` ```python answers ```` marks a
cell whose output answers the questions above it: folded on the page and in the notebook, not
printed in the terminal (where `digitlab quiz` asks them).
"""

import re
from dataclasses import dataclass, replace
from importlib import resources

from digitlab.errors import DigitlabError
from digitlab.run.settings import range_of

FENCE = re.compile(r"^```python(?: +(.*?))?[ \t]*\n(.*?)^```[ \t]*$\n?", re.S | re.M)


@dataclass(frozen=True)
class Cell:
    kind: str  # "markdown" or "code"
    source: str
    parameters: bool = False
    caption: str = ""  # what the output shows (```` ```python caption: ... ````)
    hidden: bool = False  # answers, folded until the learner opens them (```` ```python answers ````)


def lesson_text() -> str:
    return (resources.files("digitlab") / "lesson" / "mnist_basics.md").read_text(encoding="utf-8")


def parse_cells(text: str) -> list[Cell]:
    """Prose and code cells in order; empty prose between two code cells is dropped."""
    cells, position = [], 0
    for match in FENCE.finditer(text):
        prose = text[position : match.start()].strip()
        if prose:
            cells.append(Cell("markdown", prose))
        info = match.group(1) or ""
        caption = info.removeprefix("caption:").strip() if info.startswith("caption:") else ""
        source = match.group(2).rstrip("\n")
        cells.append(Cell("code", source, info == "parameters", caption, hidden=info == "answers"))
        position = match.end()
    if tail := text[position:].strip():
        cells.append(Cell("markdown", tail))
    return cells


def lesson_cells(
    data: str = "mnist", pair: tuple[int, int] = (0, 1), subset: int | None = None
) -> list[Cell]:
    """The lesson's cells with the parameters cell set to these values."""
    check_parameters(pair, subset)
    settings = {"DATA": data, "PAIR": tuple(pair), "SUBSET": subset}
    cells = parse_cells(lesson_text())
    return [
        Cell("code", _set_parameters(c.source, settings), parameters=True)
        if c.parameters
        else replace(c, caption=c.caption.format_map(settings))  # a caption names this run's digits
        for c in cells
    ]


def check_parameters(pair: tuple[int, int], subset: int | None) -> None:
    """Two different digits, and a subset within its declared range: one line, before anything runs."""
    digits, first = range_of("pair"), range_of("subset")
    if len(pair) != 2 or pair[0] == pair[1] or not all(digits.holds(d) for d in pair):
        raise DigitlabError(f"pair: needs two different digits in the range {digits}, got {pair!r:.40}")
    if subset is not None and not first.holds(subset):
        raise DigitlabError(f"subset must be in the range {first}, got {subset}")


def _set_parameters(source: str, settings: dict) -> str:
    """Replace each `NAME = value  # comment` line's value, keeping the comment."""
    lines = []
    for line in source.splitlines():
        name, _, rest = line.partition(" = ")
        if name in settings:
            comment = rest[rest.index("  #") :] if "  #" in rest else ""
            line = f"{name} = {settings[name]!r}{comment}"
        lines.append(line)
    return "\n".join(lines)
