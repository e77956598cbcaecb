"""Text from outside (file names, fields, cells) is printed as inert text: never markup, never escapes."""

import shutil

import pytest
from PIL import Image

from digitlab.errors import DigitlabError, plain
from tests.helpers import cli

NAMES = [
    ("a[/]b.png", "a[/]b.png"),  # Rich markup that does not parse
    ("[bold]seven.png", "[bold]seven.png"),  # markup that does
    ("\x1b[31mred.png", "\\x1b[31mred.png"),  # a terminal colour escape
    ("two\nlines: 1 (1.000).png", "two\\nlines: 1 (1.000).png"),  # a forged result line
    ("evil\u202egnp.png", "evil\\u202egnp.png"),  # right-to-left override: shows as 'evilpng.exe'-like
]


@pytest.mark.parametrize("name, shown", NAMES)
def test_a_file_name_is_shown_as_it_is_escaped_and_on_one_line(trained_model, tmp_path, mnist, name, shown):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)  # 'a[/]b.png' is ']b.png' in a folder 'a['
    Image.fromarray(mnist.test.images[0].numpy()).save(path, format="PNG")
    result = cli("predict", trained_model, path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tmp_path}/{shown}: 7 ({result.stdout.rsplit('(', 1)[1]}"
    assert result.stdout.count("\n") == 1 and "\x1b" not in result.stdout


@pytest.mark.parametrize("name, shown", NAMES)
def test_an_error_naming_such_a_file_is_one_inert_line(trained_model, tmp_path, name, shown):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"not an image")
    result = cli("predict", trained_model, path)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {tmp_path}/{shown}: not an image")
    assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr


def test_a_model_folders_name_in_the_lines_that_follow_training(trained_model, tmp_path):
    out = tmp_path / "[red]m\x1b]0;title\x07"
    shutil.copytree(trained_model, out, symlinks=True)
    result = cli("ensemble", out, "--tta", "--out", tmp_path / "e")
    assert result.returncode == 0, result.stderr
    assert "[red]m\\x1b]0;title\\x07: test accuracy" in result.stdout and "\x1b" not in result.stdout


def test_plain_escapes_control_characters_and_keeps_the_rest():
    assert plain("é 日本 [b]x[/b] ünïcode") == "é 日本 [b]x[/b] ünïcode"
    assert plain("a\tb\rc\x00d\x7fe\x9bf\u2028g") == "a\\tb\\rc\\x00d\\x7fe\\x9bf\\u2028g"
    assert (
        str(DigitlabError("row 3: 'x\x1b[2Jy' is not an integer")) == "row 3: 'x\\x1b[2Jy' is not an integer"
    )
