import subprocess
import sys

import pytest
from PIL import Image

from digitlab.errors import DigitlabError
from tests.helpers import cli


def test_data_info_on_bundled_mnist():
    result = cli("data", "info", "mnist")
    assert result.returncode == 0, result.stderr
    assert "train: 60,000 images 28x28" in result.stdout
    assert "split: train 58,800 / valid 1,200 (2% of 60,000" in result.stdout  # `train`'s default preset
    assert "test: 10,000 images" in result.stdout


def test_data_show_writes_a_png_of_samples_or_class_means(tmp_path):
    out = tmp_path / "grid.png"
    result = cli("data", "show", "mnist", "--out", out, "--count", "12")
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size[0] > 100
    means = tmp_path / "means.png"
    assert cli("data", "show", "mnist", "--out", means, "--means").returncode == 0
    assert Image.open(means).size[0] > 300
    assert cli("data", "show", "mnist", "--out", out, "--count", "0").returncode == 2  # a usage error
    too_many = cli("data", "show", "mnist", "--out", out, "--count", "100000")  # minutes and gigabytes
    assert too_many.returncode == 2 and "'--count'" in too_many.stderr and "200" in too_many.stderr


def test_errors_are_one_line_without_traceback(tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text("label,pixel0\n1,2\n")
    result = cli("data", "info", bad)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and str(bad) in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(DigitlabError, match="train.csv"):  # --debug lets the real exception through
        cli("--debug", "data", "info", bad)


def test_the_installed_command_exits_non_zero_with_one_line(tmp_path):
    """One real subprocess: the entry point, its exit status and a traceback only with --debug."""
    bad = tmp_path / "train.csv"
    bad.write_text("label,pixel0\n1,2\n")
    result = subprocess.run(
        [sys.executable, "-m", "digitlab", "data", "info", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    debug = subprocess.run(
        [sys.executable, "-m", "digitlab", "--debug", "data", "info", str(bad)],
        capture_output=True,
        text=True,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    "args, names",
    [
        (["train", "--nproc", "0"], ["'--nproc'", "digitlab train --help"]),
        (["train", "--epochs", "x"], ["'--epochs'", "digitlab train --help"]),
        (["train", "--bogus"], ["--bogus", "digitlab train --help"]),
        (["train", "--preset", "turbo"], ["'--preset'", "'fast', 'default', 'best'"]),
        (["train", "--model", "resnet"], ["'--model'", "'baseline', 'linear', 'mlp', 'cnn'"]),
        (["predict", "m", "a.png", "--engine", "tensorrt"], ["'--engine'", "'torch', 'onnx'"]),
        (["evaluate"], ["'model'", "digitlab evaluate --help"]),
        (["nosuchcommand"], ["'nosuchcommand'", "digitlab --help"]),
        (["lesson", "--pair", "3", "3", "--out", "never"], ["'--pair'", "two different digits"]),
    ],
)
def test_a_flag_that_does_not_parse_is_one_line_too(args, names):
    """Click's usage errors: one line naming the flag and where the flags are listed, exit status 2."""
    result = cli(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert all(name in result.stderr for name in names), result.stderr


def test_help_still_shows_and_exits_zero_and_no_command_shows_the_commands():
    result = cli("train", "--help")
    assert result.returncode == 0 and "--preset" in result.stdout and result.stderr == ""
    result = cli()
    assert result.returncode == 2 and "lesson" in result.stdout and "train" in result.stdout
    assert result.stderr == ""


def test_version_prints_the_packages_version():
    from digitlab import __version__

    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"digitlab {__version__}"
    assert "--install-completion" in cli("--help").stdout  # shell completion is on offer
