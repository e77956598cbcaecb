"""The recipe fitted to the data: digit-like data get the digits' augmentation, others a milder one;
the optimizer by name or import path with checked arguments; the user's callbacks, with consent."""

import json
import re
import sys

import pytest
import torch
from PIL import Image

from digitlab.data import Dataset, Splits
from digitlab.data.augment import RandomAffine
from digitlab.data.kind import digit_like
from digitlab.errors import DigitlabError
from digitlab.learning.torch_optim import TorchOptimizer
from digitlab.run.recipe import refuse_untrusted
from digitlab.run.settings import OPTIMIZERS, PRESETS, TrainConfig
from tests.helpers import cli

CALLBACK_MODULE = """
import pathlib
pathlib.Path("imported.txt").write_text("imported")  # what a module's code can do on import


class Events:
    order = 0

    def before_fit(self, learn):
        pathlib.Path("events.txt").write_text("before_fit")

    def after_batch(self, learn):
        with open("events.txt", "a") as f:
            f.write(" after_batch")
"""


def _splits(dataset: Dataset) -> Splits:
    return Splits(dataset.select(torch.arange(300)), dataset.select(torch.arange(300, 400)))


def test_digits_are_digit_like_and_other_pictures_are_not_with_the_reason(mnist):
    digits, why = digit_like(_splits(mnist.train))
    assert digits and why.startswith("digit-like: 10 classes 0..9, 1 channel, 28x28, ")
    inverted = Dataset(255 - mnist.train.images[:400], mnist.train.labels[:400])  # dark ink on white
    digits, why = digit_like(_splits(inverted))
    assert not digits and "of pixels blank" in why and "10 classes" not in why
    named = Dataset(mnist.train.images[:400], mnist.train.labels[:400], classes=tuple("abcdefghij"))
    assert digit_like(_splits(named)) == (False, "not digit-like: 10 named classes")


def test_the_mild_augmentation_mirrors_exactly_and_the_digits_draw_as_before():
    xb = torch.arange(2 * 28 * 28, dtype=torch.float32).view(2, 1, 28, 28) / 1568
    u = torch.zeros(2, 7)
    u[0, 6] = 1.0  # the first image mirrored, the second not; no turn, shift or zoom
    out = RandomAffine(flip=True).warp(xb, u)
    torch.testing.assert_close(out[0], xb[0].flip(-1))  # pixel centres land on pixel centres
    torch.testing.assert_close(out[1], xb[1])
    # without flip the same 6 numbers an image as before flip existed: a seed's warps are unchanged
    before = torch.Generator().manual_seed(3)
    assert torch.equal(RandomAffine(seed=3).draw(4), torch.rand(4, 6, generator=before) * 2 - 1)


def _named_folder(root, n=24):
    """Two named classes of 28x28 grey pictures: a bright left half or a bright right half."""
    for name, side in (("left", 0), ("right", 1)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = torch.full((28, 28), 40 + i, dtype=torch.uint8)
            pixels[:, side * 14 : side * 14 + 14] = 220
            Image.fromarray(pixels.numpy()).save(root / name / f"{i}.png")
    return root


def test_train_prints_and_records_the_recipe_the_data_chose(tiny_mnist_dir, tmp_path):
    flags = ("--preset", "fast", "--epochs", "1", "--epoch-size", "256")
    result = cli("train", "--data", tiny_mnist_dir, *flags, "--out", tmp_path / "digits")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("recipe: "))
    assert line.startswith("recipe: digits (digit-like: 10 classes 0..9, 1 channel, 28x28, ")
    assert (
        "augmented (turns 10 deg, shifts 0.05, zooms 0.1, pens 1), label smoothing 0.1, optimizer sgd" in line
    )
    info = json.loads((tmp_path / "digits" / "model.json").read_text())
    assert info["settings"]["augmentation"] == "digits" and info["settings"]["label_smoothing"] == 0.1
    assert info["augmentation_chosen"].startswith("digit-like: ")

    shapes = _named_folder(tmp_path / "shapes")
    result = cli("train", "--data", shapes, *flags, "--out", tmp_path / "mild")
    assert result.returncode == 0, result.stderr
    assert "recipe: mild (not digit-like: 2 named classes, " in result.stdout
    assert "no augmentation, label smoothing 0, optimizer sgd" in result.stdout  # fast's mild recipe
    # default gives other pictures their own CNN: the recipe line and model.json say which
    short = ("--epochs", "1", "--epoch-size", "256")
    result = cli("train", "--data", shapes, "--preset", "default", *short, "--out", tmp_path / "own")
    assert result.returncode == 0, result.stderr
    widths = PRESETS["default"]["mild"].get("widths", PRESETS["default"]["widths"])
    assert f"CNN widths {'-'.join(map(str, widths))} (" in result.stdout
    assert json.loads((tmp_path / "own" / "model.json").read_text())["settings"]["widths"] == list(widths)
    # an explicit choice wins over the data's look
    result = cli("train", "--data", shapes, *flags, "--augmentation", "digits", "--out", tmp_path / "chosen")
    assert "recipe: digits (chosen by --augmentation): augmented (turns 10 deg" in result.stdout
    info = json.loads((tmp_path / "chosen" / "model.json").read_text())
    assert (
        info["settings"]["augmentation"] == "digits"
        and info["augmentation_chosen"] == "chosen by --augmentation"
    )


def test_a_kind_of_data_may_have_its_own_cnn_size_and_a_typed_one_wins():
    own = {k: v for k, v in PRESETS["default"]["mild"].items() if k in ("widths", "convs")}
    assert own and all(PRESETS["default"][k] != v for k, v in own.items())  # clothes: a larger CNN
    resolved = TrainConfig(preset="default").resolve()
    assert all(getattr(resolved, k) is None for k in own)  # the data decide (--print-config leaves it out)
    mild, digits = resolved.with_augmentation("mild"), resolved.with_augmentation("digits")
    assert all(getattr(mild, k) == v and getattr(digits, k) == PRESETS["default"][k] for k, v in own.items())
    typed = TrainConfig(preset="default", widths=(8, 8, 8), convs=3).resolve().with_augmentation("mild")
    assert (typed.widths, typed.convs) == ((8, 8, 8), 3)
    fast = TrainConfig(preset="fast").resolve()  # its kinds share one size: known before the data
    assert fast.widths == PRESETS["fast"]["widths"] and fast.convs == PRESETS["fast"]["convs"]


def test_every_optimizer_name_is_torch_optims_and_their_arguments_are_checked():
    import torch.optim

    assert {name for name in OPTIMIZERS if name != "sgd"} <= {n.lower() for n in dir(torch.optim)}
    assert TrainConfig(opt="adamw", opt_args={"weight_decay": 0.01}).resolve().opt_args == {
        "weight_decay": 0.01
    }
    assert TrainConfig().resolve().opt_args == {
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 0.0005,
    }
    for opt, args, words in (
        ("adamw", {"betaz": 1}, "'betaz' is not an argument of AdamW"),
        ("adamw", {"betas": [2.0, 0.9]}, "AdamW refuses them"),
        ("adamw", {"a b": 1}, "opt_args: 'a b' is not a keyword argument's name"),
        ("sgd", {"momentum": 2}, "SGD refuses them (momentum must be in [0, 1)"),
        ("lion", None, "opt 'lion' is unknown"),
    ):
        with pytest.raises(DigitlabError, match=re.escape(words)):
            TrainConfig(opt=opt, opt_args=args).resolve()


def test_a_bad_optimizer_argument_is_one_line_naming_it(tmp_path):
    result = cli("train", "--opt", "adam", "--opt-args", '{"lr_decay": 0.1}', "--out", tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert (
        len(result.stderr.strip().splitlines()) == 1
        and "'lr_decay' is not an argument of Adam" in result.stderr
    )


def test_a_torch_optimizer_trains_and_its_state_goes_round_a_checkpoint(tiny_mnist_dir, tmp_path):
    result = cli(
        "train", "--data", tiny_mnist_dir, "--epochs", "1", "--epoch-size", "256", "--preset", "fast",
        "--opt", "adamw", "--opt-args", '{"weight_decay": 0.02}', "--lr", "0.003", "--out", tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert 'optimizer adamw {"weight_decay": 0.02}' in result.stdout
    settings = json.loads((tmp_path / "model.json").read_text())["settings"]
    assert (settings["opt"], settings["opt_args"]) == ("adamw", {"weight_decay": 0.02})
    # the flat state a safetensors checkpoint holds loads back into a new optimizer, Adam's count on the CPU
    w = torch.nn.Parameter(torch.randn(3, 2))
    opt = TorchOptimizer(torch.optim.AdamW([w], lr=0.1))
    (w**2).sum().backward()
    opt.step()
    opt.lr = 0.05
    assert opt.optimizer.param_groups[0]["lr"] == 0.05
    state = opt.state_dict()
    assert set(state) == {"0.step", "0.exp_avg", "0.exp_avg_sq"}
    again = TorchOptimizer(torch.optim.AdamW([w], lr=0.1))
    again.load_state_dict(state)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in state.items())
    with pytest.raises(ValueError, match="names no parameter"):
        again.load_state_dict({"5.exp_avg": torch.zeros(3, 2)})


@pytest.fixture
def callback_module(tmp_path, monkeypatch, request):
    """A module of callbacks in the current folder that writes imported.txt when it is imported."""
    name = f"user_cbs_{request.node.name.replace('[', '_').replace(']', '_').replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(CALLBACK_MODULE)
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


def test_a_file_naming_a_callback_is_refused_without_consent_before_any_import(
    tiny_mnist_dir, tmp_path, callback_module
):
    (tmp_path / "run.toml").write_text(f'callbacks = ["{callback_module}:Events"]\n')
    flags = ("--data", tiny_mnist_dir, "--preset", "fast", "--epochs", "1", "--epoch-size", "256")
    result = cli("train", "--config", tmp_path / "run.toml", *flags, "--out", tmp_path / "a")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert f"names {callback_module}:Events, classes from outside digitlab" in result.stderr
    assert "--trust-code" in result.stderr
    assert not (tmp_path / "imported.txt").exists() and callback_module not in sys.modules
    result = cli("train", "--config", tmp_path / "run.toml", *flags, "--out", tmp_path / "b", "--trust-code")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "imported.txt").exists()
    events = (tmp_path / "events.txt").read_text().split()
    assert events == ["before_fit"] + ["after_batch"] * 3  # 256 images in 2 batches of 128, 24 valid in 1
    settings = json.loads((tmp_path / "b" / "model.json").read_text())["settings"]
    assert settings["callbacks"] == [f"{callback_module}:Events"]


def test_a_typed_callback_is_consent_and_print_config_records_it(tmp_path, callback_module):
    path = f"{callback_module}:Events"
    result = cli("train", "--callback", path, "--opt", "adamw", "--print-config")
    assert result.returncode == 0, result.stderr
    assert f'callbacks = ["{path}"]' in result.stdout and 'opt = "adamw"' in result.stdout
    assert 'opt_args = "{}"' in result.stdout
    assert not (tmp_path / "imported.txt").exists()  # printing the settings imports nothing
    with pytest.raises(DigitlabError, match="checkpoint: names .*:Events, classes from outside digitlab"):
        refuse_untrusted(TrainConfig(callbacks=(path,)), "runs/x/checkpoint", trust_code=False)
    refuse_untrusted(TrainConfig(callbacks=(path,)), "runs/x/checkpoint", trust_code=True)
    with pytest.raises(DigitlabError, match="callback 'not a path' must name a class of yours"):
        TrainConfig(callbacks=("not a path",)).resolve()


def test_a_stopped_run_with_a_torch_optimizer_resumes_to_the_unstopped_runs_weights(
    tiny_mnist_dir, tmp_path, monkeypatch
):
    from tests.helpers import custom_models

    flags = ["--data", tiny_mnist_dir, "--model", "tests.helpers.custom_models:StopsPartWay", "--epochs", "1"]
    flags += ["--epoch-size", "1280", "--opt", "adamw", "--lr", "0.003", "--checkpoint-every", "4"]
    whole = cli("train", *flags, "--out", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    monkeypatch.setenv("DIGITLAB_TEST_STOP_AT", "7")  # the 7th of 10 batches: after the checkpoint at 4
    custom_models.StopsPartWay.calls = 0
    stopped = cli("train", *flags, "--out", tmp_path / "part")
    assert stopped.returncode == 1 and "stopped part way" in stopped.stderr
    monkeypatch.delenv("DIGITLAB_TEST_STOP_AT")
    done = cli("train", "--resume", tmp_path / "part", "--data", tiny_mnist_dir, "--trust-code")
    assert done.returncode == 0, done.stderr
    sums = [
        json.loads((tmp_path / d / "model.json").read_text())["weights_sha256"] for d in ("whole", "part")
    ]
    assert sums[0] == sums[1]  # AdamW's moments and step count went through the checkpoint exactly
