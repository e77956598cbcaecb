import base64
import io
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from PIL import Image

SECTIONS = [
    "1. Data",
    "2. Baseline",
    "3. A linear model trained from scratch",
    "4. The same with the Learner",
    "5. A two-layer neural net",
    "6. All ten digits",
    "7. What the notes got wrong",
]


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


@pytest.fixture(scope="module")
def lesson_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lesson")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "digitlab",
            "lesson",
            "--pair",
            "3",
            "7",
            "--out",
            str(out),
            "--subset",
            "6000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def number_after(text: str, label: str) -> float:
    return float(re.search(re.escape(label) + r"\s+([0-9.]+)", text).group(1))


def test_every_section_is_printed_with_measured_numbers(lesson_run):
    _, stdout = lesson_run
    positions = [stdout.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert "train on, 1,200 held out" in stdout  # 80/20 split of the 6,000-image subset
    assert 0.85 < number_after(stdout, "all") <= 1.0  # baseline, 3 vs 7
    assert re.search(r"epoch\s+train_loss\s+valid_loss\s+accuracy\s+time", stdout)
    assert "LEAKAGE" in stdout and "mat1 and mat2 shapes cannot be multiplied" in stdout
    held_out = float(re.search(r"Held-out validation accuracy ([0-9.]+)", stdout).group(1))
    assert 0.85 < held_out < 1.0
    training = number_after(stdout, "training images (the notes)")
    honest = number_after(stdout, "held-out images (honest)")
    assert training > honest  # the notes' number flatters the model
    gap = float(re.search(r"largest difference ([0-9.]+e[+-][0-9]+)", stdout).group(1))
    assert gap < 1e-3


def test_html_page_is_complete_and_images_decode(lesson_run):
    out, _ = lesson_run
    page = (out / "lesson.html").read_text()
    parser = Images()
    parser.feed(page)
    assert page.rstrip().endswith("</html>") and all(s in page for s in SECTIONS)
    assert len(parser.sources) >= 6
    for src in parser.sources:
        assert src.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        image.load()
        assert image.size[0] > 50


def test_the_ten_digit_model_is_saved_and_loads(lesson_run):
    from digitlab.checkpoint import load_model

    out, _ = lesson_run
    model, info = load_model(out)
    assert info["architecture"] == "mlp" and info["config"]["hidden"] == 30
    assert 0.85 < info["metrics"]["valid_accuracy"] <= 1


def test_full_lesson_meets_its_targets(tmp_path):
    """The whole lesson on all of MNIST (a few seconds): the issue's accuracy targets."""
    from rich.console import Console

    from digitlab.lesson import run_lesson

    results = run_lesson((0, 1), out=tmp_path, console=Console(file=io.StringIO()))
    assert results["train_size"] == 48000 and results["valid_size"] == 12000
    assert results["scratch_linear_accuracy"] >= 0.995
    assert results["learner_linear_accuracy"] >= 0.995
    assert results["valid_accuracy"] >= 0.95 and results["test_accuracy"] >= 0.95
    assert results["relu_accuracy"] > results["no_relu_accuracy"] + 0.02
    assert results["seconds"] < 120
