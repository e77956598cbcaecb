"""A model of named classes, end to end: trained from folders of any names, it has one output per class,
records the names in model.json, and every answer names them (predict, evaluate, the report)."""

import json

import pytest
import torch

from digitlab.data.decode import png_bytes
from digitlab.errors import DigitlabError
from digitlab.modelfiles.model_file import read_info
from digitlab.models import output_count
from tests.helpers import cli, write_named_folders

HOSTILE = "<img src=x onerror=alert(1)>\x1b[31m"  # markup for the HTML report, an escape for a terminal
NAMES = {1: "chat", 7: "größer", 0: HOSTILE}  # sorted: '<img...', 'chat', 'größer'
LINEAR = ["--model", "linear", "--epochs", "1", "--valid-fraction", "0.2"]


@pytest.fixture(scope="module")
def named(tmp_path_factory, mnist):
    """Three named classes of real digits (0, 1, 7) in a train/ test/ layout, and a linear model of them."""
    root = tmp_path_factory.mktemp("named")
    write_named_folders(root / "data" / "train", mnist.train.select(torch.arange(600)), NAMES)
    write_named_folders(root / "data" / "test", mnist.test.select(torch.arange(150)), NAMES)
    result = cli("train", "--data", root / "data", *LINEAR, "--out", root / "model")
    assert result.returncode == 0, result.stderr
    return root


def test_the_model_has_one_output_per_class_and_records_the_names(named):
    from digitlab.modelfiles.model_file import load_model

    model, info = load_model(named / "model")
    assert info.classes == [HOSTILE, "chat", "größer"] and output_count(model) == 3 and info.named


def test_predict_answers_with_label_and_index_in_every_form(named):
    folder = named / "data" / "test" / "größer"
    items = json.loads(cli("predict", named / "model", folder, "--json").stdout)
    assert all(set(i) == {"path", "label", "index", "confidence", "probs"} for i in items)
    assert all(i["label"] == [HOSTILE, "chat", "größer"][i["index"]] and len(i["probs"]) == 3 for i in items)
    assert all(i["index"] == max(range(3), key=i["probs"].__getitem__) for i in items)  # the likeliest
    rows = cli("predict", named / "model", folder, "--csv").stdout.splitlines()
    assert rows[0] == "path,label,index,confidence,p0,p1,p2" and len(rows) == len(items) + 1
    assert [r.split(",")[1:3] for r in rows[1:]] == [[i["label"], str(i["index"])] for i in items]
    text = cli("predict", named / "model", named / "data" / "test" / HOSTILE).stdout
    assert "\x1b" not in text  # a name's escape sequence is shown as text, never run


def test_a_digit_model_keeps_digit_and_gains_label_and_index(tmp_path, tiny_mnist_dir, mnist):
    assert cli("train", "--data", tiny_mnist_dir, *LINEAR, "--out", tmp_path / "m").returncode == 0
    write_named_folders(tmp_path / "img", mnist.test.select(torch.arange(5)), {d: str(d) for d in range(10)})
    items = json.loads(cli("predict", tmp_path / "m", tmp_path / "img", "--json").stdout)
    assert all(i["digit"] == i["index"] and i["label"] == str(i["digit"]) for i in items)
    header = cli("predict", tmp_path / "m", tmp_path / "img", "--csv").stdout.splitlines()[0]
    assert header == "path,digit,confidence," + ",".join(f"p{d}" for d in range(10))  # as before names


def test_evaluate_names_its_classes_and_has_no_phantom_ones(named, tmp_path):
    result = cli(
        "evaluate", named / "model", "--data", named / "data", "--json", "--report", tmp_path / "r.html"
    )
    body = json.loads(result.stdout)
    assert body["classes"] == [HOSTILE, "chat", "größer"] and list(body["per_class"]) == body["classes"]
    assert len(body["confusion"]) == 3 and all(len(row) == 3 for row in body["confusion"])
    assert (
        sum(map(sum, body["confusion"])) == body["n"] == len(list((named / "data" / "test").rglob("*.png")))
    )
    page = (tmp_path / "r.html").read_text()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "größer" in page
    text = cli("evaluate", named / "model", "--data", named / "data").stdout
    assert "größer: precision" in text and "\x1b" not in text and "\\x1b[31m: precision" in text


def test_data_of_other_names_or_more_labels_is_refused_in_one_line(named, tmp_path, mnist):
    write_named_folders(tmp_path / "other", mnist.test.select(torch.arange(40)), {1: "cat", 7: "dog"})
    for data, words in (
        (tmp_path / "other", "must be the model's"),
        ("mnist", "labels up to 9, and the model 3"),
    ):
        result = cli("evaluate", named / "model", "--data", data)
        assert result.returncode == 1 and words in result.stderr and result.stderr.count("\n") == 1


def test_model_json_classes_are_numbers_in_order_or_distinct_names(named, tmp_path):
    info = json.loads((named / "model" / "model.json").read_text())
    for bad, words in (
        ([1, 0, 2], "numbers 0..2 in order"),
        (["a", "a", "b"], "appears twice"),
        ([0, "a", "b"], "all numbers or all names"),
    ):
        (tmp_path / "model.json").write_text(json.dumps({**info, "classes": bad}))
        with pytest.raises(DigitlabError, match=words):
            read_info(tmp_path / "model.json")


def test_explain_names_the_classes_in_text_json_and_figures(named, tmp_path):
    image = sorted((named / "data" / "test" / "chat").glob("*.png"))[0]
    (row,) = json.loads(cli("explain", named / "model", image, "--json").stdout)
    assert row["label"] == [HOSTILE, "chat", "größer"][row["index"]] and "digit" not in row
    assert list(row["attribution"]) == [t["label"] for t in row["top"][:2]]  # the answer and the runner-up
    assert {"label", "index", "pixels"} <= set(row["erased"]) and len(row["top"]) == 3
    text = cli("explain", named / "model", image, "--out", tmp_path / "why").stdout
    assert f"{image}: {row['label']} ({row['confidence']:.3f})" in text and "\x1b" not in text


def _with_classes(model, folder, classes: list):
    """A copy of the model folder whose model.json names other classes (as anyone may write one)."""
    folder.mkdir()
    run = (model / "model.json").resolve().parent  # a published folder's model.json links into its run
    for f in run.iterdir():
        if f.is_file():
            (folder / f.name).write_bytes(f.read_bytes())
    info = json.loads((run / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**info, "classes": classes}))
    return folder


def test_the_web_app_answers_with_names_and_saves_under_them(named, tmp_path, mnist):
    from fastapi.testclient import TestClient

    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app

    client = TestClient(create_app(Predictor.load(named / "model")), base_url="http://localhost")
    assert client.get("/api/model").json()["classes"] == [HOSTILE, "chat", "größer"]
    seven = mnist.test.images[0].numpy()  # a 7
    body = client.post("/api/predict?include=input", json={"pixels": seven.tolist()}).json()
    assert body["label"] == [HOSTILE, "chat", "größer"][body["index"]] and "digit" not in body
    black = client.post("/api/predict", json={"pixels": [0] * 784}).json()  # as-is: a picture, not a blank
    assert black["label"] == [HOSTILE, "chat", "größer"][black["index"]]
    why = client.post("/api/explain", json={"pixels": body["input"]}).json()
    assert why["label"] == body["label"] and list(why["attribution"]) == [t["label"] for t in why["top"][:2]]
    page = client.get("/static/app.js").text
    assert "nameOf(d)" in page and "innerHTML = `<span>${d}" not in page  # names are set as text

    model = _with_classes(named / "model", tmp_path / "model", ["zero", "chat", "größer"])
    saving = TestClient(
        create_app(Predictor.load(model), save_dir=tmp_path / "saved"), base_url="http://localhost"
    )
    image = ("a.png", png_bytes(seven))
    saved = saving.post("/api/samples", data={"digit": "2"}, files={"file": image})
    assert saved.status_code == 200 and saved.json()["saved"].startswith("größer/")
    assert len(list((tmp_path / "saved" / "größer").glob("*.png"))) == 1
    assert saving.post("/api/samples", data={"digit": "3"}, files={"file": image}).status_code == 422


def test_serve_save_dir_refuses_a_class_name_that_cannot_be_a_folder(named, tmp_path):
    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app

    model = _with_classes(named / "model", tmp_path / "model", ["..", "chat", "größer"])
    create_app(Predictor.load(model))  # without --save-dir a name is only shown, never a path
    for unsafe in (model, named / "model"):  # '..'; markup and an escape sequence
        with pytest.raises(DigitlabError, match=r"--save-dir: class name .* cannot be a folder's name"):
            create_app(Predictor.load(unsafe), save_dir=tmp_path / "saved")
    assert not (tmp_path / "saved").exists()
    for workers in ("1", "2"):  # refused before it says it serves, and before any worker starts
        result = cli("serve", model, "--save-dir", tmp_path / "saved", "--port", "0", "--workers", workers)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert "class name '..' cannot be a folder's name" in result.stderr
        assert "serving on" not in result.stdout


@pytest.mark.slow  # two ONNX exports: about 10 s on 2 cores
def test_the_onnx_export_records_the_names_and_checks_itself_on_the_models_data(named, tmp_path):
    from digitlab.modelfiles.onnx_export import onnx_metadata

    refused = cli("export", named / "model", "--out", tmp_path / "m.onnx", "--data", "mnist")  # 10 digits
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and not (tmp_path / "m.onnx").exists()
    result = cli("export", named / "model", "--out", tmp_path / "m.onnx")  # checked on its own data
    assert result.returncode == 0 and f"data: {(named / 'data').resolve()}" in result.stdout, result.stderr
    assert json.loads(onnx_metadata((tmp_path / "m.onnx").read_bytes())["classes"]) == [
        HOSTILE,
        "chat",
        "größer",
    ]
    assert "predicted classes agree on 100.00%" in result.stdout  # checked against PyTorch on test/


def test_the_model_carries_its_preprocessing_to_every_command(named, tmp_path, tiny_mnist_dir, mnist):
    """Named classes train on images as they are, and predict, evaluate and the API read them so unasked;
    a digit model is MNIST-style, and --as-is given to it is one warning line."""
    import warnings

    import digitlab
    from digitlab.inference.predictor import Predictor
    from digitlab.modelfiles.model_file import read_info

    assert read_info(named / "model").preprocessing == "as-is" and Predictor.load(named / "model").as_is
    folder = named / "data" / "test" / "chat"
    asked = cli("predict", named / "model", folder, "--json", "--as-is")
    assert cli("predict", named / "model", folder, "--json").stdout == asked.stdout and asked.stderr == ""
    trained = json.loads((named / "model" / "model.json").read_text())["metrics"]["test_accuracy"]
    scores = json.loads(cli("evaluate", named / "model", "--data", named / "data", "--json").stdout)
    assert scores["accuracy"] == round(trained, 6)  # test/ read as training read it
    assert digitlab.load(named / "model").evaluate(str(named / "data")).accuracy == trained

    digits = tmp_path / "digits"
    assert cli("train", "--data", tiny_mnist_dir, *LINEAR, "--out", digits).returncode == 0
    assert read_info(digits).preprocessing == "mnist" and not Predictor.load(digits).as_is
    write_named_folders(tmp_path / "img", mnist.test.select(torch.arange(3)), {d: str(d) for d in range(10)})
    contradicting = {  # every way to ask for it: predict, explain, the Python API (serve loads as predict)
        "predict": lambda: cli("predict", digits, tmp_path / "img", "--as-is").returncode,
        "explain": lambda: cli("explain", digits, tmp_path / "img", "--json", "--as-is").returncode,
        "api": lambda: 0 if digitlab.load(digits, as_is=True).predictor.as_is else 1,
    }
    for way, run in contradicting.items():
        with pytest.warns(
            UserWarning, match=r"^--as-is \(as_is=True\): the model was trained on MNIST-style"
        ) as record:
            assert run() == 0, way
        assert len(record) == 1 and "\n" not in str(record[0].message), way  # one line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Predictor.load(digits)  # not asked: no warning
    chosen = tmp_path / "chosen"
    train = cli("train", "--data", named / "data", *LINEAR, "--preprocess", "mnist", "--out", chosen)
    assert train.returncode == 0 and read_info(chosen).preprocessing == "mnist"
