import subprocess
import sys

from PIL import Image


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "digitlab", *args], capture_output=True, text=True)


def test_data_info_on_bundled_mnist():
    result = run("data", "info", "mnist")
    assert result.returncode == 0, result.stderr
    assert "train: 60,000 images 28x28" in result.stdout
    assert "train 48,000 / valid 12,000" in result.stdout
    assert "test: 10,000 images" in result.stdout


def test_data_show_writes_a_png(tmp_path):
    out = tmp_path / "grid.png"
    result = run("data", "show", "mnist", "--out", str(out), "--count", "12")
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size[0] > 100


def test_errors_are_one_line_without_traceback(tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text("label,pixel0\n1,2\n")
    result = run("data", "info", str(bad))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and str(bad) in result.stderr
    assert "Traceback" not in result.stderr
    debug = run("--debug", "data", "info", str(bad))
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_class_mean_figure_from_python(mnist):
    import io

    from digitlab.report.figures import class_means

    png = class_means(mnist.test.images[:500], mnist.test.labels[:500])
    assert Image.open(io.BytesIO(png)).size[0] > 300
