"""What every section says about the run that measured it, beyond its command line: how busy the
machine was when it started (a busy machine's times are slow and uneven), how long it took against
its budget, and the figures README and docs/ quote from it, as data the renderer reads back."""

import json
import os
import re

IDLE_LOAD_PER_CORE = 0.5  # the rule: a machine is idle when its 1-minute load average is under 0.5 a core
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


def run_facts(load: float, cores: int, seconds: float, budget_min: int) -> str:
    """One line: the load at the section's start, the idle rule's verdict, its time against its budget."""
    verdict = "idle" if is_idle(load, cores) else "busy: its times are slow and uneven"
    over = "" if seconds <= 60 * budget_min else ", over its budget"
    return (
        f"Load average at the start: {load:.2f} on {cores} cores ({verdict}; idle means under "
        f"{IDLE_LOAD_PER_CORE} a core). The section ran {seconds:.0f} s (budget {budget_min} min{over})."
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
