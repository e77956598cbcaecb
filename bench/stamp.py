"""What every section says about the run that measured it, beyond its command line: how busy the
machine was when it started (a busy machine's times are slow and uneven), how long it took against
its budget, and the figures README and docs/ quote from it, as data the renderer reads back."""

import json
import os
import re
import time

IDLE_LOAD_PER_CORE = 0.5  # the rule: a machine is idle when its 1-minute load average is under 0.5 a core
QUIET_BUSY = 0.10  # a section starts on a quiet machine when under 10% of its CPU time was busy just before
QUIET_WINDOW_S = 2.0  # the look before each section, while the bench itself does nothing
FIGURES = re.compile(r"<!-- figures (\{.*?\}) -->")


def load_average() -> float:
    """The 1-minute load average (0.0 where the system does not report one)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def is_idle(load: float, cores: int) -> bool:
    """Whether a 1-minute load average counts as an idle machine of `cores` cores."""
    return load < IDLE_LOAD_PER_CORE * cores


def cpu_busy(window_s: float = QUIET_WINDOW_S) -> float | None:
    """The fraction of all cores' time spent busy over `window_s` seconds, from /proc/stat (None where
    there is none). Taken between sections, while the bench waits, it is the other processes' load:
    the load average would also count the bench's own previous section."""

    def times() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and waiting for I/O
        return sum(fields[:8]), idle

    before = times()
    time.sleep(window_s)
    after = times()
    if before is None or after is None or after[0] == before[0]:
        return None
    return 1 - (after[1] - before[1]) / (after[0] - before[0])


def run_facts(load: float, busy: float | None, cores: int, seconds: float, budget_min: int) -> str:
    """One line: how busy the machine was just before the section (the other processes), the load
    average (which also counts the bench's previous section), and its time against its budget."""
    if busy is None:
        quiet = "this system does not say how busy its CPUs were"
    else:
        verdict = "quiet" if busy < QUIET_BUSY else "busy: its times are slow and uneven"
        quiet = (
            f"CPUs busy {busy:.0%} in the {QUIET_WINDOW_S:.0f} s before it, the bench waiting ({verdict}; "
            f"quiet means under {QUIET_BUSY:.0%})"
        )
    over = "" if seconds <= 60 * budget_min else ", over its budget"
    return (
        f"{quiet}. Load average at the start: {load:.2f} on {cores} cores (the bench's previous "
        f"section included). The section ran {seconds:.0f} s (budget {budget_min} min{over})."
    )


def stamped(markdown: str, facts: str) -> str:
    """`markdown` with `facts` after each section's opening paragraph (its "Command:" line)."""
    sections = re.split(r"(?m)^(?=## )", markdown)
    out = []
    for section in sections:
        if not section.startswith("## "):
            out.append(section)
            continue
        heading, _, body = section.partition("\n\n")
        first, sep, rest = body.partition("\n\n")
        if first.startswith("Command: "):
            out.append(
                f"{heading}\n\n{first}\n\n{facts}\n\n{rest}" if sep else f"{heading}\n\n{first}\n\n{facts}\n"
            )
        else:
            out.append(f"{heading}\n\n{facts}\n\n{body}")
    return "".join(out)


def figures(**values: str) -> str:
    """The figures a section lets README and docs/ quote, as printed in it ("15.0 s", "0.09x"), in a
    comment the renderer reads back (bench/render.py); put it at the section's end."""
    return f"\n<!-- figures {json.dumps(values, ensure_ascii=False)} -->\n"


def figures_in(section: str) -> dict[str, str]:
    """The figures a section's comments give, merged."""
    found: dict[str, str] = {}
    for match in FIGURES.finditer(section):
        found |= json.loads(match.group(1))
    return found
