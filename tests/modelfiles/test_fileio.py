import os
import stat

import pytest

from digitlab.fileio import atomic_write, write_text_atomic


def test_files_follow_the_umask_like_any_other_file(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = tmp_path / "atomic.txt"
    write_text_atomic(atomic, "x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert stat.S_IMODE(atomic.stat().st_mode) & 0o044  # readable by others under the usual 022


def test_an_interrupted_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path, "w") as f:
        f.write("new, half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]


def test_a_failed_write_names_the_file_asked_for_not_the_temp_file(tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as e:
        write_text_atomic(folder, "x")
    assert e.value.filename == str(folder) and os.listdir(tmp_path) == ["taken"]  # no temp file left
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError) as e:  # mkdir says "File exists", which misleads
        write_text_atomic(a_file / "out.txt", "x")
    assert e.value.filename == str(a_file)
    with pytest.raises(LookupError), atomic_write(tmp_path / "g.txt", "w"):  # not ours to rename
        raise LookupError("the caller's own error")


def test_the_command_line_says_which_file_could_not_be_written(tmp_path):
    from tests.helpers import cli

    result = cli("data", "show", "mnist", "--out", tmp_path, "--count", "4")
    assert result.returncode == 1 and result.stderr == f"error: {tmp_path}: Is a directory\n"
