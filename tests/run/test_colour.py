"""Colour, end to end: a folder of colour images trains a 3-channel model that uses the colour (a grey
copy of the same images cannot be told apart), and every command reads pictures in colour for it."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from digitlab.modelfiles.model_file import load_model, read_info
from digitlab.models import input_channels
from tests.helpers import cli

# Three colours of one grey level: ITU-R 601-2 luma (what grey images are made by) of each is 76.2..76.6
# of 255, so the grey copies differ by at most one level and only the colour tells the classes apart.
COLOURS = {"blue": (100, 30, 255), "green": (0, 130, 0), "red": (255, 0, 0)}
LINEAR = ["--model", "linear", "--epochs", "3", "--valid-fraction", "0.2"]


def write_squares(root, per_class: int, seed: int) -> None:
    """`root/<colour>/<i>.png`: 28x28 squares of 6..13 pixels at random places on black, each of its
    class's colour at a random brightness (60%..100%), so neither place, size nor grey level is a clue."""
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            side = int(rng.integers(6, 14))
            top, left = rng.integers(0, 28 - side, 2)
            picture = np.zeros((28, 28, 3), np.uint8)
            picture[top : top + side, left : left + side] = np.array(colour) * rng.uniform(0.6, 1.0)
            Image.fromarray(picture).save(root / name / f"{i}.png")


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    """240 training and 60 test images of coloured squares, a colour model and a grey one of them."""
    root = tmp_path_factory.mktemp("colour")
    write_squares(root / "data" / "train", 80, seed=1)
    write_squares(root / "data" / "test", 20, seed=2)
    for out, extra in (("colour", []), ("grey", ["--channels", "1"])):
        result = cli("train", "--data", root / "data", *LINEAR, *extra, "--out", root / out)
        assert result.returncode == 0, result.stderr
    return root


def test_colour_data_train_a_colour_model_that_uses_the_colour(squares):
    colour, grey = read_info(squares / "colour"), read_info(squares / "grey")
    assert (colour.channels, colour.settings["channels"], colour.preprocessing) == (3, 3, "as-is")
    assert colour.config["in_channels"] == 3 and grey.channels == 1 and "in_channels" not in grey.config
    # 60 test images: the colour model reads the colour, which alone tells the classes apart; the grey
    # one sees three equal grey levels and is left with chance (1/3). Bounds: a third of the way from
    # chance to certainty on either side, far beyond the 60 images' spread (about 0.06 at p = 1/3).
    assert colour.metrics["test_accuracy"] >= 0.9, colour.metrics
    assert grey.metrics["test_accuracy"] <= 0.6, grey.metrics


def test_predict_evaluate_and_the_api_read_pictures_in_colour_unasked(squares):
    import digitlab

    folder = squares / "data" / "test" / "red"
    items = json.loads(cli("predict", squares / "colour", folder, "--json").stdout)
    # at most the 6 mistakes a model at the 0.9 bound above makes on 60 images, all of them red ones
    assert len(items) == 20 and sum(i["label"] == "red" for i in items) >= 14
    scores = json.loads(cli("evaluate", squares / "colour", "--data", squares / "data", "--json").stdout)
    assert scores["accuracy"] == round(read_info(squares / "colour").metrics["test_accuracy"], 6)
    model = digitlab.load(squares / "colour")
    answer = model.predict(Image.new("RGB", (40, 40), COLOURS["green"]))[0]  # any size: resized
    assert answer.label == "green" and answer.input.shape == (28, 28, 3)
    grey = model.predict(Image.new("L", (28, 28), 76))[0]  # a grey picture: its grey in all three channels
    assert grey.input.shape == (28, 28, 3) and (grey.input == 76).all()
    pictures = np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])  # (20,28,28,3)
    assert [a.label for a in model.predict(pictures)] == [i["label"] for i in items]  # as the files
    assert model.probs(pictures).shape == (20, 3) and model.probs(pictures[:, :, :, 0]).shape == (20, 3)


def test_a_model_whose_channels_differ_from_the_data_is_refused_in_one_line(squares):
    fine_tuned = cli(
        "train", "--data", squares / "data", "--channels", "1", "--init", squares / "colour",
        "--out", squares / "y",
    )  # fmt: skip
    assert fine_tuned.returncode == 1 and fine_tuned.stderr.count("\n") == 1, fine_tuned.stderr
    assert "1 channel(s), and the model reads 3" in fine_tuned.stderr
    centred = cli("train", "--data", squares / "data", "--preprocess", "mnist", "--out", squares / "x")
    assert centred.returncode == 1 and "--preprocess mnist centres grey digits" in centred.stderr
    assert not (squares / "x").exists()


def test_explain_and_serve_answer_a_colour_model(squares):
    from fastapi.testclient import TestClient

    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app

    picture = squares / "data" / "test" / "blue" / "0.png"
    (why,) = json.loads(cli("explain", squares / "colour", picture, "--json").stdout)
    assert why["label"] == "blue" and np.asarray(why["attribution"]["blue"]).shape == (28, 28)
    client = TestClient(create_app(Predictor.load(squares / "colour")), base_url="http://localhost")
    assert client.get("/api/model").json()["channels"] == 3
    with picture.open("rb") as f:
        body = client.post("/api/predict?include=input", files={"file": ("b.png", f, "image/png")}).json()
    assert body["label"] == "blue" and np.asarray(body["input"]).shape == (28, 28, 3)
    again = client.post("/api/explain", json={"pixels": body["input"]}).json()  # the colour input back
    assert again["label"] == "blue"
    drawn = client.post("/api/predict", json={"pixels": [0] * 784}).json()  # the page's grey drawing
    assert drawn["label"] in COLOURS


def test_without_data_the_model_s_own_images_are_read_in_colour(squares):
    import digitlab

    own = json.loads(cli("evaluate", squares / "colour", "--json").stdout)  # no --data: its own test split
    assert (own["data"], own["split"], own["n"]) == (str(squares / "data"), "test", 60)
    assert own["accuracy"] == round(read_info(squares / "colour").metrics["test_accuracy"], 6)
    slow = [
        "--epochs",
        "1",
        "--lr",
        "0.0003",
        "--seed",
        "3",
    ]  # so low a rate that mistakes are left to explain
    flags = [*LINEAR[:2], *slow, "--valid-fraction", "0.2"]
    trained = cli("train", "--data", squares / "data" / "train", *flags, "--out", squares / "no-test")
    assert trained.returncode == 0, trained.stderr
    model = digitlab.load(squares / "no-test")
    scores = model.evaluate()  # no test split: the valid split train held out (20% of 240), in colour
    assert (model.info.channels, scores.split, scores.n) == (3, "valid", 48)
    assert scores.accuracy == pytest.approx(model.info.metrics["valid_accuracy"], abs=1e-6)  # the same images
    explained = cli("explain", squares / "no-test", "--top", "2", "--json")
    assert explained.returncode == 0, explained.stderr
    maps = [np.asarray(m) for item in json.loads(explained.stdout) for m in item["attribution"].values()]
    assert len(maps) == 4 and all(
        m.shape == (28, 28) for m in maps
    )  # 2 mistakes, a map for each of 2 classes


@pytest.mark.slow  # an ONNX export: about 5 s on 2 cores
def test_the_onnx_export_takes_three_channels_and_matches_pytorch(squares, tmp_path):
    import onnxruntime as ort

    from digitlab.data import load_source
    from digitlab.modelfiles.onnx_export import onnx_metadata
    from digitlab.models import predict_probs

    result = cli("export", squares / "colour", "--out", tmp_path / "m.onnx", "--data", squares / "data")
    assert result.returncode == 0, result.stderr
    data = (tmp_path / "m.onnx").read_bytes()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [3, 28, 28]
    assert onnx_metadata(data)["channels"] == "3" and "[N,3,28,28]" in onnx_metadata(data)["input"]
    images = load_source(squares / "data").test.floats()  # (60,3,28,28)
    ours = predict_probs(load_model(squares / "colour")[0], images).numpy()
    theirs = session.run(["probs"], {"image": images.numpy()})[0]
    assert np.abs(theirs - ours).max() < 1e-4  # the export's own limit (MAX_PROB_DIFF)


@pytest.mark.parametrize("name", ["baseline", "linear", "mlp", "cnn"])
def test_every_built_in_model_takes_three_channels(name):
    from digitlab.models import build_model, output_count

    size = {"n_classes": 4} if name == "baseline" else {"n_out": 4}
    model = build_model(name, in_channels=3, input_size=(32, 32), **size)
    assert output_count(model) == 4 and input_channels(model) == 3
    assert model.eval()(torch.rand(5, 3, 32, 32)).shape == (5, 4)
    with pytest.raises(ValueError, match="in_channels must be 1 \\(grey\\) or 3"):
        build_model(name, in_channels=2, **size)


def test_a_model_folder_and_a_checkpoint_written_before_colour_still_load(tmp_path, tiny_mnist_dir):
    import shutil

    from digitlab.run.settings import TrainConfig

    trained = cli(
        "train", "--data", tiny_mnist_dir, "--model", "linear", "--epochs", "1", "--out", tmp_path / "m"
    )
    assert trained.returncode == 0, trained.stderr
    written = (tmp_path / "m" / "model.json").resolve()  # in its run folder, beside the weights
    info = json.loads(written.read_text())
    assert info["channels"] == 1 and "in_channels" not in info["config"]  # a grey model, as before
    old = {k: v for k, v in info.items() if k != "channels"}  # model.json as written before colour
    old["settings"] = {k: v for k, v in info["settings"].items() if k not in ("channels", "widths")}
    old["settings"]["channels"] = [16, 32, 64]  # the CNN's stage widths, as the setting was named
    (tmp_path / "old").mkdir()
    shutil.copy(written.parent / info["weights_file"], tmp_path / "old" / info["weights_file"])
    (tmp_path / "old" / "model.json").write_text(json.dumps(old))
    model, loaded = load_model(tmp_path / "old")
    assert loaded.channels == 1 and input_channels(model) == 1
    config = TrainConfig.from_json(loaded.settings)  # a checkpoint's settings are read so
    assert config.widths == (16, 32, 64) and config.channels is None


def test_channels_of_several_numbers_are_the_widths_with_a_note(tmp_path, tiny_mnist_dir):
    from digitlab.run.config_file import read_config

    with pytest.warns(FutureWarning, match="--channels 4 8 8 is read as --widths 4 8 8") as noted:
        result = cli("train", "--data", tiny_mnist_dir, "--channels", "4", "8", "8", "--print-config")
    assert result.returncode == 0 and "widths = [4, 8, 8]" in result.stdout, result.stderr
    assert len(noted) == 1 and "\nchannels =" not in result.stdout  # the data decide it, as they load
    (tmp_path / "old.toml").write_text("channels = [4, 8, 8]\n")
    with pytest.warns(FutureWarning, match="write widths"):
        assert read_config(tmp_path / "old.toml")["widths"] == (4, 8, 8)
    (tmp_path / "new.toml").write_text("channels = 3\nwidths = [4, 8, 8]\n")
    assert read_config(tmp_path / "new.toml") == {"channels": 3, "widths": (4, 8, 8)}


def test_a_class_of_your_own_is_given_the_channels_when_it_takes_them(squares, tmp_path):
    from digitlab.models import build_model

    trained = cli(
        "train", "--data", squares / "data", "--model", "tests.helpers.custom_models:AnyChannels",
        "--model-args", '{"n_classes": 3}', "--epochs", "1", "--out", tmp_path / "own",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    model, info = load_model(tmp_path / "own", trust_code=True)
    assert (
        info.channels == 3
        and model.net.features[0].in_channels == 3
        and info.config["args"] == {"n_classes": 3}
    )  # the user's arguments as given; the channels recorded beside them
    fixed = build_model(
        "imported", trust_code=True, target="tests.helpers.custom_models:TinyNet", args={"n_classes": 3},
        in_channels=3,
    )  # fmt: skip
    assert fixed.net.features[0].in_channels == 1  # a class without the parameter is left as written
    refused = cli(
        "train", "--data", squares / "data", "--model", "tests.helpers.custom_models:TinyNet",
        "--model-args", '{"n_classes": 3}', "--epochs", "1", "--out", tmp_path / "grey-only",
    )  # fmt: skip
    assert refused.returncode == 1 and "fails on (2, 3, 28, 28) images" in refused.stderr
