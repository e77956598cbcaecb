"""Each section says how busy the machine was at its start and how long it took; the pages quote
its figures through marked blocks that a rerun rewrites."""

import os
import re
from pathlib import Path

from bench import render, stamp


def test_the_idle_rule_is_half_a_core_of_load_a_core():
    assert stamp.is_idle(0.9, 2) and not stamp.is_idle(1.0, 2) and not stamp.is_idle(7.5, 16 // 2)
    quiet = stamp.run_facts(1.9, 0.03, 2, 61.4, 2)
    assert "CPUs busy 3% in the 2 s before it, the bench waiting (quiet;" in quiet
    assert "Load average at the start: 1.90 on 2 cores (the bench's previous section included)" in quiet
    busy = stamp.run_facts(5.46, 0.85, 2, 130, 2)
    assert (
        "CPUs busy 85%" in busy and "(busy:" in busy and "ran 130 s (budget 2 min, over its budget)" in busy
    )
    assert "does not say how busy" in stamp.run_facts(0.0, None, 2, 1, 1)


def test_the_cpu_busy_fraction_sees_a_spinning_process():
    """Two busy-looping processes on this machine make the look before a section say busy."""
    import subprocess
    import sys

    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)
    ]
    try:
        busy = stamp.cpu_busy(0.5)
    finally:
        for p in spinners:
            p.kill()
    # one spinner a core keeps every core busy but for their start-up (tens of ms of the 500 ms looked at)
    assert busy is None or busy > 0.5


def test_the_facts_go_after_each_sections_command_line():
    text = "## A\n\nCommand: `python -m bench --only a`, x.\n\nbody a\n\n## B\n\nno command\n"
    out = stamp.stamped(text, "FACTS")
    assert out.startswith("## A\n\nCommand: `python -m bench --only a`, x.\n\nFACTS\n\nbody a\n\n")
    assert out.endswith("\n\n## B\n\nFACTS\n\nno command\n")


def test_figures_written_are_read_back_merged():
    section = "## A\n\nx" + stamp.figures(ratio="0.09x", s="15.0 s") + "y" + stamp.figures(s="14.9 s")
    assert stamp.figures_in(section) == {"ratio": "0.09x", "s": "14.9 s"}


BENCH = (
    "# Benchmarks\n\n## Start-up\n\nCommand: `python -m bench --only startup`, c1.\n\nt"
    + stamp.figures(ratio="0.11x")
    + "\n## GPU check\n\nCommand: `bash bench/gpu_check.sh`\n"
    + stamp.figures(ratio="9x")
)


def test_a_block_takes_the_figure_of_the_section_its_name_measures():
    figures = render.figures_by_section(BENCH)
    assert figures == {"startup": {"ratio": "0.11x"}}  # a section without its own --only gives none
    assert render.figures_by_section(BENCH, {"startup": "speed"}) == {"speed": {"ratio": "0.11x"}}
    other = "<!-- bench:csv.x -->1x<!-- /bench -->"
    page = f"takes <!-- bench:startup.ratio -->0.09x<!-- /bench --> of torch's; {other}"
    new, missing = render.render(page, figures)
    assert new == f"takes <!-- bench:startup.ratio -->0.11x<!-- /bench --> of torch's; {other}"
    assert missing == ["csv.x"]
    assert render.render(new, figures) == (new, ["csv.x"])  # a rerun changes nothing more


def test_pages_are_rewritten_whole_and_only_when_a_figure_changed(tmp_path):
    (tmp_path / "docs").mkdir()
    bench = tmp_path / "BENCHMARKS.md"
    bench.write_text(BENCH)
    readme, other = tmp_path / "README.md", tmp_path / "docs" / "speed.md"
    readme.write_text("x <!-- bench:startup.ratio -->0.09x<!-- /bench --> y\n")
    other.write_text("no blocks\n")
    before = other.stat().st_mtime_ns
    assert render.render_pages(bench, tmp_path, write=False) == []
    assert "0.09x" in readme.read_text()  # a check writes nothing
    assert render.render_pages(bench, tmp_path) == []
    assert readme.read_text() == "x <!-- bench:startup.ratio -->0.11x<!-- /bench --> y\n"
    assert other.stat().st_mtime_ns == before


def test_every_block_of_the_pages_names_a_section_and_shows_its_current_figure():
    """README and docs/ in line with BENCHMARKS.md: a block whose section recorded figures shows them."""
    from bench.sections import SECTIONS

    root = Path(__file__).parents[2]
    figures = render.figures_by_section((root / "BENCHMARKS.md").read_text())
    for page in render.pages(root):
        text = page.read_text()
        for name, key, shown in render.BLOCK.findall(text):
            assert name in SECTIONS, f"{page.name}: block {name}.{key} names no bench section"
            if key in figures.get(name, {}):
                assert shown == figures[name][key], (
                    f"{page.name}: {name}.{key} shows {shown}, not the bench's"
                )
    assert re.search(r"<!-- bench:\w+", (root / "README.md").read_text())
