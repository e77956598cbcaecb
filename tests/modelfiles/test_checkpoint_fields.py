"""A tampered checkpoint is one line naming what is wrong: never a bug line, never a path or count obeyed."""

import json
import shutil

import pytest

import digitlab.run.training_run
from tests.helpers import cli

FLAGS = ["--model", "mlp", "--epochs", "2", "--batch-size", "100", "--checkpoint-every", "3"]


@pytest.fixture(scope="module")
def stopped(tiny_mnist_dir, tmp_path_factory):
    """A run whose training ended but whose model was never published: its last checkpoint stays."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    patch = pytest.MonkeyPatch()
    patch.setattr(
        digitlab.run.training_run, "publish_run", lambda *a, **k: (_ for _ in ()).throw(RuntimeError)
    )
    try:
        assert cli("train", "--data", tiny_mnist_dir, *FLAGS, "--out", out).returncode == 1
    finally:
        patch.undo()
    assert (out / "checkpoint" / "checkpoint.json").exists()
    return out


@pytest.fixture
def run(stopped, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(stopped, copy, symlinks=True)
    return copy


def tamper(run, change) -> None:
    path = run / "checkpoint" / "checkpoint.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def put(*keys_and_value):
    *keys, value = keys_and_value

    def change(meta):
        target = meta
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (put("epoch", 7), "field 'epoch' must be a whole number 0..2, got 7"),
        (put("epoch", -1), "field 'epoch' must be a whole number 0..2"),
        (put("epoch", "1"), "field 'epoch' must be a whole number 0..2, got '1'"),
        (put("iter", 10**9), "field 'iter' must be a whole number 0..0"),
        (put("n_epoch", 3), "field 'n_epoch' must be a whole number 2..2"),
        (put("recorder_rows", ["x", "y"]), "field 'recorder_rows' must hold one row of numbers per epoch"),
        (put("recorder_rows", []), "field 'recorder_rows' must hold one row of numbers per epoch done (2)"),
        (put("metrics_train_count", -5), "field 'metrics_train_count' must be a whole number"),
        (put("callbacks", {"KeepBest": 1}), "field 'callbacks' must hold the state of"),
        (put("numpy_rng", 1, [1, 2, 3]), "field 'numpy_rng' is not a state of numpy's random generator"),
        (put("numpy_rng", 2, 10**6), "field 'numpy_rng' is not a state"),
        (put("python_rng", 1, [-1] * 625), "field 'python_rng' is not a state of Python's random generator"),
        (put("python_rng", "x"), "field 'python_rng' is not a state"),
        (put("extra", "config", "batch_size", "big"), "batch_size must be a whole number or null, got 'big'"),
        (put("extra", "config", "nproc", 100000), "nproc must be in the range 1 <= x <= 256, got 100000"),
        (put("extra", "config", "epochs", 3), "field 'n_epoch' must be a whole number 3..3"),
        (put("extra", "model", "config", "hidden", 10**7), "model description is damaged"),
        (put("extra", "model", "architecture", "cnn"), "architecture must be the settings' 'mlp'"),
        (put("tensors_file", "../../etc/passwd"), "field 'tensors_file' must name a state file beside it"),
    ],
)
def test_a_tampered_field_is_one_line_naming_it(run, tiny_mnist_dir, change, message):
    tamper(run, change)
    result = cli("train", "--resume", run, "--data", tiny_mnist_dir)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and "rerun with --debug" not in result.stderr


def test_tensors_of_the_wrong_shape_are_one_line(run, tiny_mnist_dir):
    import hashlib

    from safetensors.torch import load, save

    meta = json.loads((run / "checkpoint" / "checkpoint.json").read_text())
    for key in ("rng/torch", "model/2.weight", "recorder/lrs"):
        tensors = load((run / "checkpoint" / meta["tensors_file"]).read_bytes())
        tensors[key] = tensors[key].flatten()[:3].clone()  # a short random state, a cut layer, lost rates
        data = save(tensors)
        name = f"state-{hashlib.sha256(data).hexdigest()[:16]}.safetensors"
        (run / "checkpoint" / name).write_bytes(data)
        tamper(
            run,
            lambda m, name=name, data=data: m.update(
                tensors_file=name, tensors_sha256=hashlib.sha256(data).hexdigest()
            ),
        )
        result = cli("train", "--resume", run, "--data", tiny_mnist_dir)
        assert result.returncode == 1 and f"tensor {key!r}" in result.stderr, result.stderr
        assert "rerun with --debug" not in result.stderr


def test_paths_and_process_counts_come_from_the_command_line_only(run, tiny_mnist_dir, tmp_path):
    elsewhere = tmp_path / "anywhere"
    tamper(run, put("extra", "config", "tensorboard", str(elsewhere)))
    tamper(run, put("extra", "config", "data", "/etc/passwd"))
    result = cli("train", "--resume", run, "--data", tiny_mnist_dir)
    assert result.returncode == 0, result.stderr
    assert not elsewhere.exists()  # the stored TensorBoard folder is not written to


def test_a_resume_names_the_process_count_and_the_data_it_needs(run, tiny_mnist_dir, mini_mnist_dir):
    result = cli("train", "--resume", run, "--data", mini_mnist_dir)
    assert (
        result.returncode == 1 and "the data differ from those the checkpoint was trained on" in result.stderr
    )
    assert f"name {str(tiny_mnist_dir)!r}: resume with --data" in result.stderr
    tamper(run, put("extra", "config", "nproc", 3))
    result = cli("train", "--resume", run, "--data", tiny_mnist_dir)
    assert result.returncode == 1 and "resume it with --nproc 3" in result.stderr


def test_oversized_or_special_checkpoint_files_are_refused_before_reading(run, tiny_mnist_dir):
    path = run / "checkpoint" / "checkpoint.json"
    path.unlink()
    with open(path, "wb") as f:
        f.truncate(2 << 30)  # sparse: 2 GB declared, nothing read
    result = cli("train", "--resume", run, "--data", tiny_mnist_dir)
    assert result.returncode == 1 and "more than a checkpoint can hold" in result.stderr
    path.unlink()
    path.symlink_to("/etc/hostname")
    result = cli("train", "--resume", run, "--data", tiny_mnist_dir)
    assert result.returncode == 1 and "is not a regular file" in result.stderr
