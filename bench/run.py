"""`make bench`: every section a page quotes, measured in one run and written to BENCHMARKS.md whole;
or one section again (`python -m bench --only NAME`), replaced in place. Then README and docs/ are
rendered from what was written (bench/render.py).

Budget on an idle 2-core machine (bench/sections.py holds the figures; a test keeps this list in step):

    csv             1 min    the parser and cache against pandas
    startup         1 min    digitlab --version against import torch
    overhead        2 min    the Learner against a plain loop
    notes           3 min    the notes' loop, digitlab against fastai
    fastai          2 min    the notes' cells by digitlab and by fastai
    notes-run       7 min    the notes' code on 42,000 rows (the lesson quotes it)
    speed          22 min    the fast command against PyTorch's example to 99.0%, 3 seeds each
    phases          1 min    where the fast command's seconds go (one profiled run)
    presets         7 min    fast, 10 seeds, on MNIST and a 42k CSV
    engines         2 min    PyTorch against ONNX Runtime (trains the shared model first)
    explain         1 min    explain() per image
    bulk            4 min    predict over 5,000 files against plain loops
    serving         4 min    1 and 2 workers at 8 and 32 clients, then the ramp to load shedding
    total          57 min    (at most 60)

Left out of `make bench` for time, each said why in the file's header and measured alone with its
command: speed-kernels, presets-default, margin, margin-other, robustness, ensemble, distributed, budget.
The GPU sections
are measured only on a lent GPU and are kept verbatim from the file this run replaces.
"""

import datetime
import os
import re
import time
from pathlib import Path

import torch
from rich.console import Console

from bench import render, stamp
from bench.sections import SECTIONS, Run, Section, measuring
from bench.timing import commit, machine
from digitlab.errors import DigitlabError
from digitlab.fileio import write_text_atomic

QUICK_OUT = Path("runs/bench/BENCHMARKS.md")  # a smoke run's figures stay out of the project's records
LIMIT_MIN = 60  # issue #42: the whole of `make bench` within an hour on a 2-core machine


def in_make_bench(quick: bool) -> list[Section]:
    """The sections a full run measures (a smoke run: every one that has a smoke size)."""
    gpu = torch.cuda.is_available()
    return [s for s in SECTIONS.values() if (gpu or not s.gpu) and (s.smoke if quick else not s.left_out)]


def measure(section: Section, run: Run, console: Console) -> str:
    """One section, stamped with the load at its start and its time against its budget."""
    console.print(f"{section.message} (budget {section.budget_min} min) ...")
    busy = stamp.cpu_busy()
    load, start = stamp.load_average(), time.perf_counter()
    text = section.measure(run)
    seconds = time.perf_counter() - start
    console.print(f"{section.name}: {seconds:.0f} s")
    facts = stamp.run_facts(load, busy, os.cpu_count() or 1, seconds, section.budget_min)
    return stamp.stamped(text, facts)


def run_bench(quick: bool = False, out: str | Path = "BENCHMARKS.md", console: Console | None = None) -> str:
    """Every section of `make bench` (or of `make bench-quick`), then BENCHMARKS.md written whole."""
    console = console or Console(highlight=False, soft_wrap=True)
    out, start = Path(out), time.perf_counter()
    measured, failed = [], []
    with measuring(quick, out) as run_for:
        for section in in_make_bench(quick):
            try:
                measured.append(measure(section, run_for(section.name), console))
            except Exception as e:  # noqa: BLE001 (one broken section must not lose an hour of the others)
                failed.append(f"{section.name} ({type(e).__name__}: {(str(e).splitlines() or [''])[0]})")
                console.print(f"{section.name}: failed: {failed[-1]}")
    seconds = time.perf_counter() - start
    text = with_gpu_sections_kept(_header(quick, seconds, failed) + "\n" + "\n".join(measured), out)
    write_text_atomic(out, text)
    console.print(f"wrote {out} in {seconds / 60:.0f} min (budget {LIMIT_MIN} min)")
    _render(out, quick, console)
    if failed:
        raise DigitlabError(f"sections failed: {'; '.join(failed)}")
    return text


def _header(quick: bool, seconds: float, failed: list[str]) -> str:
    """The file's opening: how it was made, and what a full run leaves out and why."""
    flag = " --quick" if quick else ""
    lines = [
        f"- command: `python -m bench{flag}` (`make bench{flag.replace(' --', '-')}`), "
        f"{seconds / 60:.0f} min "
        "in all; each section names its own command to measure it again",
        f"- commit: {commit()}\n- date: {datetime.date.today()}\n- machine: {machine()}",
        f"- mode: {'quick (smoke sizes; indicative only)' if quick else 'full'}",
        _left_out_line(),
    ]
    lines += [f"- failed, so not in this file: {', '.join(failed)}"] if failed else []
    return "# Benchmarks\n\n" + "\n".join(lines) + "\n"


def _left_out_line() -> str:
    """The header's line naming the sections a full run leaves out, and why: the code's, not a figure."""
    left_out = "; ".join(
        f"{s.name} ({s.left_out}: `python -m bench --only {s.name}`)" for s in SECTIONS.values() if s.left_out
    )
    return f"- left out of `make bench` for its {LIMIT_MIN} minutes: {left_out}"


def _render(out: Path, quick: bool, console: Console) -> None:
    """README and docs/ rendered from `out` when it is the project's file; a smoke run only checks."""
    root = out.resolve().parent
    if not (root / "README.md").exists():
        return
    widens = {s.name: s.widens for s in SECTIONS.values() if s.widens}
    missing = render.render_pages(out, root, write=not quick, widens=widens)
    if missing:
        console.print(f"blocks without a figure in {out}: {', '.join(missing)}")


def with_gpu_sections_kept(text: str, old_path: str | Path) -> str:
    """`text`, then the sections of the file at `old_path` measured on a lent GPU (their headings
    start "GPU") that `text` lacks: they cannot be measured again here. Every other old section goes."""
    old = Path(old_path).read_text() if Path(old_path).exists() else ""
    measured = {section.splitlines()[0] for section in text.split("\n## ")[1:]}
    kept = [
        "## " + section.rstrip("\n")
        for section in old.split("\n## ")[1:]
        if section.splitlines()[0] not in measured and section.startswith("GPU")
    ]
    if not kept:
        return text
    header, rest = text.split("\n## ", 1)
    note = (
        "- kept from the file this run replaced: the sections measured on a lent GPU, each with its own "
        "command, commit and machine (compare figures only within a section)\n"
    )
    return header.rstrip("\n") + "\n" + note + "\n## " + rest.rstrip("\n") + "\n\n" + "\n\n".join(kept) + "\n"


def update_only(name: str, out: str | Path, quick: bool = False, console: Console | None = None) -> None:
    """`python -m bench --only NAME`: measure that section again and replace it in `out`."""
    if name not in SECTIONS:
        raise DigitlabError(f"bench section {name!r} is unknown: choose {', '.join(SECTIONS)}")
    section = SECTIONS[name]
    if section.gpu and not torch.cuda.is_available():
        raise DigitlabError(f"bench --only {name} needs a CUDA device, and torch sees none")
    if quick and not section.smoke:
        raise DigitlabError(f"bench --only {name} has no smoke size: run it without --quick")
    console = console or Console(highlight=False, soft_wrap=True)
    with measuring(quick, Path(out)) as run_for:
        update_section(out, measure(section, run_for(name), console))
    console.print(f"updated {out}")
    _render(Path(out), quick, console)


def update_section(path: str | Path, sections: str) -> None:
    """Replace each section of `sections` where the one with its `## ` heading stands in the markdown
    file (or append it)."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    for section in re.split(r"(?m)^(?=## )", sections):
        if section.startswith("## "):
            text = _replace_one(text, section)
    # the header's list of left-out sections follows the code's budgets, which may have changed since
    text = re.sub(r"(?m)^- left out of `make bench` .*$", lambda _: _left_out_line(), text, count=1)
    write_text_atomic(path, text)


def _replace_one(text: str, section: str) -> str:
    heading = section.splitlines()[0]
    parts = text.split("\n## ")
    new = section.removeprefix("## ").rstrip("\n") + "\n"
    replaced = [new if "## " + p.splitlines()[0] == heading else p for p in parts]
    if replaced == parts:  # not there yet: at the end
        replaced.append(new)
    return "\n## ".join(replaced).rstrip("\n") + "\n"
