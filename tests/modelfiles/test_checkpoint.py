import json
import pickle

import pytest
import torch

from digitlab.errors import DigitlabError
from digitlab.modelfiles.model_file import ModelInfo, load_model, save_model
from digitlab.models import build_model


@pytest.fixture
def saved(tmp_path):
    model = build_model("mlp", hidden=12)
    save_model(model, tmp_path, ModelInfo.describe(model))
    return model, tmp_path


def test_round_trip_from_folder_json_or_weights(saved):
    model, folder = saved
    x = torch.rand(3, 1, 28, 28)
    weights = next(folder.glob("*.safetensors"))
    for path in (folder, folder / "model.json", weights):
        loaded, info = load_model(path)
        torch.testing.assert_close(loaded(x), model.eval()(x))
        assert info.config["hidden"] == 12 and info.digitlab_version and info.classes == list(range(10))


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-pickle",))


def test_a_malicious_pickle_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "model.pt"
    evil.write_bytes(pickle.dumps(Exploit()))
    torch_file = tmp_path / "saved.pth"
    torch.save({"w": torch.ones(2)}, torch_file)
    for path in (evil, torch_file):
        with pytest.raises(DigitlabError, match="not a digitlab model"):
            load_model(path)
    # even named as the weights inside a model folder, it is never unpickled
    folder = tmp_path / "m"
    linear = build_model("linear")
    save_model(linear, folder, ModelInfo.describe(linear))
    info = json.loads((folder / "model.json").read_text())
    (folder / info["weights_file"]).write_bytes(evil.read_bytes())
    with pytest.raises(DigitlabError, match="do not match the checksum"):
        load_model(folder)
    info["weights_sha256"] = __import__("hashlib").sha256(evil.read_bytes()).hexdigest()
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(DigitlabError, match="not a valid safetensors file"):
        load_model(folder)
    assert not (tmp_path / "pwned-by-pickle").exists()


def test_truncated_weights(saved):
    _, folder = saved
    info = json.loads((folder / "model.json").read_text())
    weights = folder / info["weights_file"]
    data = weights.read_bytes()[:-100]
    weights.write_bytes(data)
    info["weights_sha256"] = __import__("hashlib").sha256(data).hexdigest()
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(DigitlabError, match="not a valid safetensors"):
        load_model(folder)


def test_weights_that_do_not_match_the_json(saved):
    _, folder = saved
    info = json.loads((folder / "model.json").read_text())
    info["config"]["hidden"] = 50
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(DigitlabError, match="do not fit mlp"):
        load_model(folder)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format_version": 99}, "version 99 is not supported"),
        ({"format": "other"}, "not a digitlab model"),
        ({"architecture": "resnet"}, "unknown architecture"),
        ({"format_version": True}, "version True is not supported"),
        ({"format_version": 1.0}, "version 1.0 is not supported"),
        ({"architecture": ["cnn"]}, "field 'architecture' must be a str"),
        ({"architecture": {"a": 1}}, "field 'architecture' must be a str"),
        ({"weights_file": 5}, "field 'weights_file' must be a str"),
        ({"weights_file": None}, "field 'weights_file' must be a str"),
        ({"config": [1]}, "field 'config' must be a dict"),
    ],
)
def test_incompatible_json(saved, change, message):
    _, folder = saved
    info = {**json.loads((folder / "model.json").read_text()), **change}
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(DigitlabError, match=message):
        load_model(folder)


def test_interrupted_save_keeps_the_previous_model(saved, monkeypatch):
    model, folder = saved
    import digitlab.modelfiles.model_file as checkpoint

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "write_text_atomic", crash)
    other = build_model("mlp", hidden=12)
    with pytest.raises(KeyboardInterrupt):
        save_model(other, folder, ModelInfo.describe(other))
    monkeypatch.undo()
    loaded, _ = load_model(folder)
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(loaded(x), model.eval()(x))


def test_json_nested_very_deeply(saved):
    _, folder = saved
    (folder / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DigitlabError, match="nested too deeply|not a digitlab model"):
        load_model(folder)


def test_model_info_records_the_models_own_normalisation():
    model = build_model("cnn", mean=0.2, std=0.4)
    info = ModelInfo.describe(model, settings={"seed": 1})
    assert info.normalization == {"mean": 0.2, "std": 0.4} and info.architecture == "cnn"
    assert ModelInfo.from_json(info.to_json(), "x") == info


def _rewrite(folder, **changes):
    info = {**json.loads((folder / "model.json").read_text()), **changes}
    (folder / "model.json").write_text(json.dumps(info))
    return info


@pytest.mark.parametrize(
    "name", ["../../../../etc/passwd", "/etc/shadow", "/dev/stdin", "/dev/zero", "", ".."]
)
def test_the_weights_file_must_be_inside_the_model_folder(saved, name):
    _, folder = saved
    _rewrite(folder, weights_file=name)
    with pytest.raises(DigitlabError, match="must name a file in the model's own folder"):
        load_model(folder)


def test_links_pipes_and_oversized_weights_are_refused_without_reading(saved, tmp_path):
    import os

    _, folder = saved
    (folder / "link.safetensors").symlink_to("/etc/passwd")
    _rewrite(folder, weights_file="link.safetensors")
    with pytest.raises(DigitlabError, match="not a regular file"):
        load_model(folder)
    os.mkfifo(folder / "pipe.safetensors")  # reading it would wait forever
    _rewrite(folder, weights_file="pipe.safetensors")
    with pytest.raises(DigitlabError, match="not a regular file"):
        load_model(folder)
    with open(folder / "huge.safetensors", "wb") as f:
        f.truncate(5 << 30)  # 5 GB, sparse: nothing is read
    _rewrite(folder, weights_file="huge.safetensors")
    with pytest.raises(DigitlabError, match="more than the model can hold"):
        load_model(folder)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"channels": [1, 8000, 8000]}, "channels must be a whole number 1..1024"),
        ({"convs": 20000}, "convs must be a whole number 1..8"),
        ({"channels": "abc"}, "channels must be three numbers"),
        ({"std": 0}, "std must be a number"),
        ({"dropout": float("nan")}, "dropout must be a number"),
    ],
)
def test_a_model_config_is_bounded_before_anything_is_built(tmp_path, config, message):
    model = build_model("cnn")
    save_model(model, tmp_path, ModelInfo.describe(model))
    info = json.loads((tmp_path / "model.json").read_text())
    _rewrite(tmp_path, config={**info["config"], **config})
    with pytest.raises(DigitlabError, match=message):
        load_model(tmp_path)  # refused by the config check: no layer is built (memory: test_limits.py)


@pytest.mark.parametrize("spoil", ["int8", "nan"])
def test_wrongly_typed_or_non_finite_weights_are_refused_even_with_the_right_checksum(tmp_path, spoil):
    import hashlib

    from safetensors.torch import save

    model = build_model("linear")
    save_model(model, tmp_path, ModelInfo.describe(model))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if spoil == "int8":
        state["2.weight"] = state["2.weight"].to(torch.int8)
    else:
        state["2.weight"][0, 0] = float("nan")
    data = save(state)
    info = json.loads((tmp_path / "model.json").read_text())
    (tmp_path / info["weights_file"]).write_bytes(data)
    _rewrite(tmp_path, weights_sha256=hashlib.sha256(data).hexdigest())
    with pytest.raises(DigitlabError, match="torch.int8|NaN or infinite"):
        load_model(tmp_path)
