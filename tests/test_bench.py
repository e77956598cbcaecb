import re
import subprocess
import sys


def test_quick_bench_runs_and_writes_every_section(tmp_path):
    out = tmp_path / "BENCH.md"
    result = subprocess.run(
        [sys.executable, "-m", "digitlab", "bench", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    for heading in (
        "## Kaggle CSV parsing",
        "## Time to 99.0% test accuracy (cpu)",
        "## Learner overhead",
        "## Presets",
        "## Inference and the web API",
    ):
        assert heading in text
    assert "- machine: " in text and "`digitlab bench --quick" in text
    assert re.search(r"\| digitlab parser \(no cache\) \| [0-9.]+ \| [0-9.]+x \|", text)
    assert "identical final weights: True" in text
    load = re.search(r"(\d+) errors, .* \*\*p99 ([0-9.]+) ms", text)
    assert load and int(load.group(1)) == 0
