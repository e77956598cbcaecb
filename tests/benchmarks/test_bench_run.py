"""`python -m bench`: a full run keeps only the lent GPU's sections; `--only NAME` replaces one in place."""

import re
from pathlib import Path

from bench import csv_speed, run
from bench.run import update_section
from bench.sections import SECTIONS, Section
from bench.stamp import figures
from bench.timing import command_line

from tests.helpers import CliResult


def bench_cli(*args) -> CliResult:
    """`python -m bench ARGS` in this process: exit code, stdout and stderr."""
    import contextlib
    import io

    from bench.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
    return CliResult(code, out.getvalue(), err.getvalue())


def test_a_section_is_replaced_once_and_the_others_are_kept(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n- command: x\n\n## A\n\nold a\n\n## B\n\nold b\n")
    update_section(path, "## A\n\nnew a\n")
    update_section(path, "## C\n\nnew c\n")
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\n- command: x\n")
    assert "old a" not in text and text.count("## A") == 1 and "new a" in text
    assert "old b" in text and "new c" in text
    assert text.index("new a") < text.index("old b") < text.index("new c")  # replaced where it stood
    assert text.endswith("old b\n\n## C\n\nnew c\n")


def test_replacing_a_section_brings_the_header_s_left_out_list_up_to_date(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(
        "# Benchmarks\n\n- left out of `make bench` for its 60 minutes: old (about 1 minute)\n\n## A\n\na\n"
    )
    update_section(path, "## A\n\nnew a\n")
    header = path.read_text().splitlines()[2]
    assert "old (about 1 minute)" not in header
    assert all(f"`python -m bench --only {s.name}`" in header for s in SECTIONS.values() if s.left_out)


def test_only_measures_that_section_and_names_the_command(tmp_path, monkeypatch):
    figures = dict(rows=42000, megabytes=75.6, repeats=5, pandas_s=1.5, parse_s=0.25, cached_s=0.003,
                   parse_speedup=6.0, cache_speedup=500.0, hash_s=0.002, pandas_min_s=1.4, parse_min_s=0.2,
                   cached_min_s=0.002, hash_min_s=0.001)  # fmt: skip
    monkeypatch.setattr(csv_speed, "run", lambda repeats: {**figures, "repeats": repeats})
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## Kaggle CSV parsing\n\nold figures\n\n## Other\n\nkept\n")
    result = bench_cli("--only", "csv", "--out", path)
    assert result.returncode == 0, result.stderr
    text = path.read_text()
    assert "old figures" not in text and "kept" in text
    assert "Command: `python -m bench --only csv`" in text and "Load average at the start: " in text
    assert "| digitlab parser (no cache) | 0.200 | 0.250 | 6.0x |" in text and "5 runs of each reader" in text
    assert '<!-- figures {"parse_speedup": "6.0x", "cache_speedup": "500x"} -->' in text


def test_an_unknown_section_is_one_line_naming_the_choices(tmp_path):
    result = bench_cli("--only", "nope", "--out", tmp_path / "BENCHMARKS.md")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'nope'" in result.stderr and ", ".join(SECTIONS) in result.stderr
    assert not (tmp_path / "BENCHMARKS.md").exists()


def test_the_gpu_section_without_a_gpu_is_one_line_and_measures_nothing(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = bench_cli("--only", "gpu", "--out", tmp_path / "BENCHMARKS.md")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "error: bench --only gpu needs a CUDA device, and torch sees none\n"
    assert not list(tmp_path.iterdir())


def test_a_full_run_keeps_the_gpu_sections_and_drops_every_other_old_one(tmp_path):
    old = tmp_path / "BENCHMARKS.md"
    old.write_text(
        "# Benchmarks\n\n- command: digitlab bench\n- machine: an old one\n\n"
        "## Presets\n\nold presets\n\n"  # measured by every full run: replaced
        "## GPU check\n\nCommand: `bash bench/gpu_check.sh`, an H100\n\n| gpu | table |\n\n"  # apart: kept
        "## Kaggle CSV parsing\n\nCommand: `digitlab bench --only csv`\n\nold csv\n\n"  # measured again
        "## A sweep by hand\n\nCommand: `digitlab bench --only budget`, 2026-11-01\n\nstale\n\n"  # goes
        "## Dropped\n\nthe old header's machine, no command of its own\n"
    )
    new = "# Benchmarks\n\n- command: digitlab bench\n- machine: this one\n\n## Presets\n\nnew presets\n\n"
    new += "## Kaggle CSV parsing\n\nnew csv\n"
    text = run.with_gpu_sections_kept(new, old)
    assert text.startswith("# Benchmarks\n\n- command: digitlab bench\n- machine: this one\n- kept from")
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## Presets",
        "## Kaggle CSV parsing",
        "## GPU check",
    ]
    assert "new presets" in text and "new csv" in text and "| gpu | table |" in text
    assert "old presets" not in text and "old csv" not in text and "Dropped" not in text
    assert "stale" not in text
    assert run.with_gpu_sections_kept(new, tmp_path / "absent.md") == new


def test_a_quick_run_writes_beside_the_runs_not_over_the_records(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(run, "run_bench", lambda quick, out, console: calls.append((quick, out)))
    monkeypatch.chdir(tmp_path)
    assert bench_cli("--quick").returncode == 0 and bench_cli().returncode == 0
    assert bench_cli("--quick", "--out", "mine.md").returncode == 0
    assert calls == [(True, run.QUICK_OUT), (False, Path("BENCHMARKS.md")), (True, Path("mine.md"))]
    assert run.QUICK_OUT.parts[0] == "runs"  # git ignores runs/


def test_the_budgets_fit_the_hour_and_the_docstring_lists_them():
    """make bench's sections within issue #42's 60 minutes; run.py's docstring says each budget as set."""
    measured = [s for s in SECTIONS.values() if not s.left_out and not s.gpu]
    total = sum(s.budget_min for s in measured)
    assert total <= run.LIMIT_MIN
    listed = dict(re.findall(r"^    ([\w-]+) +(\d+) min", run.__doc__ or "", re.M))
    assert listed == {
        **{s.name: str(s.budget_min) for s in measured},
        "total": str(total),
    }
    assert all(s.left_out or s.gpu for s in SECTIONS.values() if s not in measured)
    assert all(s.name in (run.__doc__ or "") for s in SECTIONS.values() if s.left_out)


def _tiny(name: str, heading: str = "Tiny", **kwargs) -> Section:
    """A section that measures nothing: its text names the command it was given."""
    body = lambda r: f"## {heading}\n\n{command_line(r.command)}quick={r.quick}\n" + figures(x="2.0x")  # noqa: E731
    return Section(name, f"{name}: nothing", 60, kwargs.pop("measure", body), **kwargs)


def test_bench_quick_measures_every_smoke_section_stamped_and_writes_beside_the_runs(tmp_path, monkeypatch):
    def broken(r):
        raise ValueError("a typo\nsecond line")

    sections = [_tiny("tiny"), _tiny("apart", "Apart", left_out="it takes a day"),
                _tiny("long", "Long", smoke=False), _tiny("broken", measure=broken)]  # fmt: skip
    monkeypatch.setattr(run, "SECTIONS", {s.name: s for s in sections})
    monkeypatch.chdir(tmp_path)
    result = bench_cli("--quick")
    assert result.returncode == 1 and result.stderr == "error: sections failed: broken (ValueError: a typo)\n"
    text = run.QUICK_OUT.read_text()  # written all the same: one broken section loses nothing else
    assert text.startswith("# Benchmarks\n\n- command: `python -m bench --quick` (`make bench-quick`)")
    assert [line for line in text.splitlines() if line.startswith("## ")] == ["## Tiny", "## Apart"]
    assert "Command: `python -m bench --only tiny --quick`" in text and "quick=True" in text
    assert text.count("Load average at the start: ") == 2
    assert "apart (it takes a day: `python -m bench --only apart`)" in text
    assert "- failed, so not in this file: broken (ValueError: a typo)" in text
    assert "tiny: " in result.stdout and not (tmp_path / "BENCHMARKS.md").exists()


def test_a_full_run_leaves_out_what_does_not_fit_and_says_why_then_renders_the_pages(tmp_path, monkeypatch):
    sections = [_tiny("tiny"), _tiny("apart", "Apart", left_out="it takes a day")]
    monkeypatch.setattr(run, "SECTIONS", {s.name: s for s in sections})
    (tmp_path / "README.md").write_text("<!-- bench:tiny.x -->1.0x<!-- /bench --> faster\n")
    run.run_bench(True, tmp_path / "quick.md")  # a smoke run checks the pages, and leaves them
    assert (tmp_path / "README.md").read_text() == "<!-- bench:tiny.x -->1.0x<!-- /bench --> faster\n"
    text = run.run_bench(False, tmp_path / "BENCHMARKS.md")
    assert (tmp_path / "README.md").read_text() == "<!-- bench:tiny.x -->2.0x<!-- /bench --> faster\n"
    assert [line for line in text.splitlines() if line.startswith("## ")] == ["## Tiny"]
    assert "Command: `python -m bench --only tiny`, commit" in text and "quick=False" in text
    assert "- left out of `make bench` for its 60 minutes: apart (it takes a day" in text


def test_only_without_a_smoke_size_refuses_quick(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "SECTIONS", {"long": _tiny("long", smoke=False)})
    result = bench_cli("--only", "long", "--quick", "--out", tmp_path / "B.md")
    assert result.returncode == 1 and not list(tmp_path.iterdir())
    assert result.stderr == "error: bench --only long has no smoke size: run it without --quick\n"


def test_the_speed_and_kaggle_sections_render_what_hours_of_runs_measured():
    """Formatting only, on made-up figures: a typo here would lose a full bench run at its end."""
    from bench import kaggle_data, training

    fast = {"runs": [{"accuracy": 0.991}, {"accuracy": 0.989}], "median_s": 10.0, "median_train_s": 6.0,
            "min_acc": 0.989}  # fmt: skip
    refs = [
        {"seconds": 300.0, "epochs": 3, "reached": True},
        {"seconds": 400.0, "epochs": 4, "reached": True},
    ]
    text = training.speed_section({"AVX2": {"fast": fast, "reference": refs}}, "digitlab bench")
    assert "| AVX2 | 10.0 | 6.0 | 0.9890 | 1/2 | 350.0 | 3, 4 | **35.0x** |" in text
    rows = [
        {"seed": s, "mnist": 0.99 + s / 1000, "mnist_s": 9.0, "kaggle": 0.989, "kaggle_s": 8.0}
        for s in range(3)
    ]
    text = kaggle_data.section({"fast": rows})
    assert (
        "| `fast` | MNIST's test set (trained on MNIST) | 3 | 0.9910 | 0.9900 | 0.9920 | 3/3 | 9.0 |" in text
    )
    runs = {"now": [(11.0, 0.9913), (13.0, 0.9921)], "before": [(10.0, 0.9907), (10.0, 0.9918)]}
    assert "Now / before: **1.20x** the time." in kaggle_data.cost_section(runs)
