"""`train --config FILE.toml` and `--print-config`: settings in a file, read back to the same run."""

import dataclasses
import sys

import pytest
import torch

from digitlab.errors import DigitlabError
from digitlab.modelfiles.model_file import load_model
from digitlab.run.config_file import config_toml, read_config
from digitlab.run.settings import TrainConfig
from tests.helpers import cli


def test_print_config_reads_back_to_the_same_settings(tmp_path):
    printed = cli("train", "--preset", "fast", "--epochs", "2", "--seed", "3", "--print-config")
    assert printed.returncode == 0 and "epochs = 2" in printed.stdout and "seed = 3" in printed.stdout
    path = tmp_path / "run.toml"
    path.write_text(printed.stdout)
    again = cli("train", "--config", path, "--print-config")
    assert again.stdout == printed.stdout  # resolved once: reading it back changes nothing
    flags_win = cli("train", "--config", path, "--epochs", "4", "--print-config").stdout
    assert "epochs = 4" in flags_win and "seed = 3" in flags_win  # a typed flag wins, the rest is the file's


def test_every_setting_can_be_written_in_a_file(tmp_path):
    config = dataclasses.replace(
        TrainConfig(preset="fast"), patience=3, init="runs/a", tensorboard="tb", checkpoint_every=50
    ).resolve()
    path = tmp_path / "all.toml"
    path.write_text(config_toml(config))
    read = read_config(path)
    assert {k for k, v in dataclasses.asdict(config).items() if v is not None} == set(read)
    assert dataclasses.replace(TrainConfig(), **read) == config


@pytest.mark.parametrize(
    "text, words",
    [
        ('preset = "fast"\nbatch_sizes = 3\n', ["'batch_sizes' is not a setting"]),
        ('epochs = "many"\n', ["epochs must be a whole number"]),
        ('preset = "fast\n', ["is not a TOML settings file", "line 1"]),
        ("[train]\nepochs = 1\n", ["'train' is not a setting"]),
        ("epochs = 1\n[seed]\nx = 1\n", ["'seed' is a table"]),
        ('preset = "turbo"\n', ["preset 'turbo' is unknown"]),
        ("seed = " + "[" * 5000 + "]" * 5000, ["is nested too deeply to be a settings file"]),
        ("model_args = " + "{a = " * 3000 + "1" + "}" * 3000, ["is nested too deeply"]),
        ("seed = 1180591620717411303424\n", ["seed must be in the range 0 <= x <= 9223372036854775807"]),
        ("valid_fraction = nan\n", ["valid_fraction must be in the range 0 < x < 1, got nan"]),
        ("lr = -inf\n", ["lr must be in the range 0 < x <= 100, got -inf"]),
        ("preset = [[]]\n", ["'preset' holds a list or table"]),  # found by make fuzz: was a TypeError
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = cli("train", "--config", path, "--out", tmp_path / "out")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert all(w in result.stderr for w in [str(path), *words]), result.stderr
    assert not (tmp_path / "out").exists()


def test_a_run_from_a_file_is_the_run_from_flags(tiny_mnist_dir, tmp_path):
    flags = ["--data", str(tiny_mnist_dir), "--model", "linear", "--epochs", "1", "--seed", "5"]
    assert cli("train", *flags, "--out", tmp_path / "flags").returncode == 0
    path = tmp_path / "run.toml"
    path.write_text(cli("train", *flags, "--print-config").stdout)
    assert cli("train", "--config", path, "--out", tmp_path / "file").returncode == 0
    a, b = load_model(tmp_path / "flags")[0], load_model(tmp_path / "file")[0]
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_your_own_model_and_its_arguments_in_a_file(tmp_path):
    path = tmp_path / "own.toml"
    path.write_text(
        'model = "tests.helpers.custom_models:TinyNet"\nmodel_args = {n_classes = 47, width = 4}\n'
    )
    printed = cli("train", "--config", path, "--print-config", "--trust-code")
    assert printed.returncode == 0, printed.stderr
    assert 'model = "tests.helpers.custom_models:TinyNet"' in printed.stdout
    again = tmp_path / "again.toml"
    again.write_text(printed.stdout)  # the arguments printed as the flag's JSON: read back the same
    assert 'model_args = "{\\"n_classes\\": 47, \\"width\\": 4}"' in printed.stdout
    args = [read_config(p, trust_code=True)["model_args"] for p in (again, path)]
    assert args == [{"n_classes": 47, "width": 4}] * 2


def test_a_file_naming_a_class_is_no_consent(tiny_mnist_dir, tmp_path, monkeypatch):
    """The file names a module that writes a file when imported: without --trust-code, no file."""
    (tmp_path / "sneaky_config.py").write_text(
        "import pathlib\npathlib.Path('imported.txt').write_text('ran')\n"
        "from tests.helpers.custom_models import TinyNet as Net\n"
    )
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "run.toml"
    path.write_text('model = "sneaky_config:Net"\nepochs = 1\n')
    flags = ["--data", tiny_mnist_dir, "--out", tmp_path / "out"]
    for extra in ([], ["--print-config"], ["--nproc", "2"], ["--model-args", '{"n_classes": 10}']):
        refused = cli("train", "--config", path, *flags, *extra)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
        assert f"{path}: names sneaky_config:Net, classes from outside digitlab" in refused.stderr
        assert "--trust-code" in refused.stderr
    with pytest.raises(DigitlabError, match="trust_code=True"):
        read_config(path)
    assert not (tmp_path / "imported.txt").exists() and "sneaky_config" not in sys.modules
    assert not (tmp_path / "out").exists()
    typed = cli("train", "--config", path, "--model", "linear", *flags, "--print-config")
    assert typed.returncode == 0 and 'model = "linear"' in typed.stdout  # the file's class is not used
    try:
        trusted = cli("train", "--config", path, *flags, "--trust-code")
        assert trusted.returncode == 0, trusted.stderr
        assert (tmp_path / "imported.txt").read_text() == "ran"  # with consent: imported from this folder
        (tmp_path / "imported.txt").unlink()
        sys.modules.pop("sneaky_config", None)
        flags[-1] = tmp_path / "again"
        flag = cli("train", "--config", path, "--model", "sneaky_config:Net", *flags)
        assert flag.returncode == 0, flag.stderr  # the class typed on the command line: consent
        assert (tmp_path / "imported.txt").read_text() == "ran"
    finally:
        sys.modules.pop("sneaky_config", None)


def test_non_ascii_and_emoji_paths_round_trip_through_the_command_line(tmp_path):
    flags = ["--data", 'données/😀 ü\\"x', "--out", "runs/ﬁnal\t🎉", "--init", "模型", "--preset", "fast"]
    printed = cli("train", *flags, "--print-config")
    assert printed.returncode == 0, printed.stderr
    assert 'data = "donn\\u00e9es/\\U0001f600 \\u00fc\\\\\\"x"' in printed.stdout
    path = tmp_path / "run.toml"
    path.write_text(printed.stdout)
    assert cli("train", "--config", path, "--print-config").stdout == printed.stdout
    not_utf8 = cli("train", "--data", "bad-\udcff", "--print-config")  # a name's bytes that are not UTF-8
    assert not_utf8.returncode == 1 and not_utf8.stderr.count("\n") == 1
    assert "data 'bad-\\udcff' holds bytes that are not UTF-8, which TOML cannot hold" in not_utf8.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        ('{"n_classes": 47}', "model_args must be an object of keyword arguments or null, got '{"),
        ({"n_classes": object()}, "model_args must hold only what JSON holds (Object of type object"),
        ({"not a name": 1}, "model_args: 'not a name' is not a keyword argument's name"),
    ],
)
def test_model_args_are_a_dict_of_keyword_arguments_that_json_holds(args, message):
    config = TrainConfig(model="tests.helpers.custom_models:TinyNet", model_args={"n_classes": 47})
    config.check()
    with pytest.raises(DigitlabError) as refused:
        dataclasses.replace(config, model_args=args).check()
    assert str(refused.value).startswith(message)
