"""`digitlab bench --only NAME`: one section measured again and replaced in place, the rest kept."""

from digitlab.bench import csv_speed
from digitlab.bench.run import ONLY, update_section
from tests.conftest import cli


def test_a_section_is_replaced_once_and_the_others_are_kept(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n- command: x\n\n## A\n\nold a\n\n## B\n\nold b\n")
    update_section(path, "## A\n\nnew a\n")
    update_section(path, "## C\n\nnew c\n")
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\n- command: x\n")
    assert "old a" not in text and text.count("## A") == 1 and "new a" in text
    assert "old b" in text and "new c" in text


def test_only_measures_that_section_and_names_the_command(tmp_path, monkeypatch):
    figures = dict(rows=42000, megabytes=75.6, repeats=5, pandas_s=1.5, parse_s=0.25, cached_s=0.003,
                   parse_speedup=6.0, cache_speedup=500.0)  # fmt: skip
    monkeypatch.setattr(csv_speed, "run", lambda repeats: {**figures, "repeats": repeats})
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## Kaggle CSV parsing\n\nold figures\n\n## Other\n\nkept\n")
    result = cli("bench", "--only", "csv", "--out", path)
    assert result.returncode == 0, result.stderr
    text = path.read_text()
    assert "old figures" not in text and "kept" in text
    assert "Command: `digitlab bench --only csv`" in text
    assert "| digitlab parser (no cache) | 0.250 | 6.0x |" in text and "medians of 5 runs" in text


def test_an_unknown_section_is_one_line_naming_the_choices(tmp_path):
    result = cli("bench", "--only", "nope", "--out", tmp_path / "BENCHMARKS.md")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'nope'" in result.stderr and ", ".join(ONLY) in result.stderr
    assert not (tmp_path / "BENCHMARKS.md").exists()


def test_the_gpu_section_without_a_gpu_is_one_line_and_measures_nothing(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = cli("bench", "--only", "gpu", "--out", tmp_path / "BENCHMARKS.md")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "error: bench --only gpu needs a CUDA device, and torch sees none\n"
    assert not list(tmp_path.iterdir())
