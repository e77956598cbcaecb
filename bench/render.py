"""README and docs/ quote BENCHMARKS.md through marked blocks, `<!-- bench:NAME.KEY -->15.0 s<!-- /bench -->`:
this rewrites each block with the figure KEY that the section measured by `python -m bench --only NAME`
gave (its `<!-- figures ... -->` comment), so a rerun of the bench brings the pages back in line."""

import re
from pathlib import Path

from bench.stamp import figures_in
from digitlab.fileio import write_text_atomic

BLOCK = re.compile(r"<!-- bench:([\w-]+)\.(\w+) -->(.*?)<!-- /bench -->", re.S)
ONLY = re.compile(r"^Command: `python -m bench --only ([\w-]+)", re.M)


def figures_by_section(benchmarks: str, widens: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """{section name: {key: figure}} from BENCHMARKS.md's text, a section named by its own command
    (or by the section its command measures wider: `widens`, {"speed-kernels": "speed"})."""
    found: dict[str, dict[str, str]] = {}
    for section in re.split(r"(?m)^(?=## )", benchmarks)[1:]:
        command = ONLY.search(section)
        if command:
            name = (widens or {}).get(command.group(1), command.group(1))
            found.setdefault(name, {}).update(figures_in(section))
    return found


def render(text: str, figures: dict[str, dict[str, str]]) -> tuple[str, list[str]]:
    """`text` with every block's figure replaced; and the blocks no section gave a figure for."""
    missing: list[str] = []

    def figure(match: re.Match[str]) -> str:
        name, key, old = match.groups()
        new = figures.get(name, {}).get(key)
        if new is None:
            missing.append(f"{name}.{key}")
            return match.group(0)
        return f"<!-- bench:{name}.{key} -->{new}<!-- /bench -->"

    return BLOCK.sub(figure, text), missing


def pages(root: Path) -> list[Path]:
    """The pages a reader meets: README.md and docs/*.md."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def render_pages(
    benchmarks: Path, root: Path, write: bool = True, widens: dict[str, str] | None = None
) -> list[str]:
    """Rewrite the blocks of README and docs/ from `benchmarks` (each changed page replaced whole);
    returns the blocks left as they were, "page: NAME.KEY", for want of a figure."""
    figures = figures_by_section(benchmarks.read_text(), widens)
    missing = []
    for page in pages(root):
        text = page.read_text()
        new, lost = render(text, figures)
        missing += [f"{page.relative_to(root)}: {block}" for block in lost]
        if write and new != text:
            write_text_atomic(page, new)
    return missing
