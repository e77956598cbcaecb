"""Property-based fuzzing of every input digitlab reads: CSV, IDX, images, model files, HTTP.

The property is the same everywhere: any input either works, or fails with one DigitlabError
(one line naming the input) or a 4xx answer; never another exception, never a 500.
`make test` runs a few dozen examples per target; `make fuzz` (HYPOTHESIS_PROFILE=fuzz) thousands.
"""

import gzip
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from digitlab.data.decode import open_image
from digitlab.data.idx import parse_idx
from digitlab.data.images import to_mnist
from digitlab.data.kaggle import parse_kaggle_csv
from digitlab.modelfiles.model_file import ModelInfo, load_model, save_model
from digitlab.models import build_model
from tests.helpers import cli, csv_text, to_idx
from tests.helpers.fuzzing import SLOW, mutated, one_line_naming


def valid_csv(rows: int = 3) -> bytes:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (rows, 28, 28), dtype=np.uint8)
    return csv_text(images, rng.integers(0, 10, rows)).encode()


@given(st.data())
def test_csv_parser(data):
    blob = mutated(valid_csv(), data.draw) if data.draw(st.booleans()) else data.draw(st.binary(max_size=400))
    try:
        images, labels = parse_kaggle_csv(blob, "f.csv")
    except Exception as e:  # noqa: BLE001 (the property: only DigitlabError)
        one_line_naming(e, "f.csv")
    else:
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
        assert labels is None or (len(labels) == len(images) and labels.min() >= 0 and labels.max() <= 9)


IDX_SEEDS = [
    to_idx(np.zeros((2, 28, 28), np.uint8)),
    to_idx(np.array([1, 2, 3], np.uint8)),
    to_idx(np.array([1.5, np.nan], ">f4")),
    gzip.compress(to_idx(np.zeros((1, 28, 28), np.uint8))),
]


@given(st.sampled_from(IDX_SEEDS), st.data())
def test_idx_reader(seed, data):
    blob = mutated(seed, data.draw)
    try:
        parse_idx(blob, "f.idx")
    except Exception as e:  # noqa: BLE001
        one_line_naming(e, "f.idx")


def image_seeds() -> list[bytes]:
    seeds = []
    for fmt, mode in (
        ("PNG", "L"),
        ("GIF", "P"),
        ("BMP", "RGB"),
        ("TIFF", "F"),
        ("PNG", "RGBA"),
        ("WEBP", "RGB"),
    ):
        buf = io.BytesIO()
        Image.new(mode, (12, 9)).save(buf, format=fmt)
        seeds.append(buf.getvalue())
    return seeds


@given(st.sampled_from(image_seeds()), st.data())
def test_image_decoding(seed, data):
    blob = mutated(seed, data.draw)
    try:
        to_mnist(open_image(blob, name="upload"), "upload")
    except Exception as e:  # noqa: BLE001
        one_line_naming(e, "upload")


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=36, max_size=36))
def test_float_images(values):
    buf = io.BytesIO()
    Image.fromarray(np.array(values, np.float32).reshape(6, 6), mode="F").save(buf, format="TIFF")
    try:
        result = to_mnist(open_image(buf.getvalue(), name="f.tiff"), "f.tiff")
    except Exception as e:  # noqa: BLE001
        one_line_naming(e, "f.tiff")
    else:
        assert result is None or (result.shape == (28, 28) and result.dtype == np.uint8)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "architecture", "config", "weights_file", "weights_sha256", "format", "format_version", "input_size",
    "classes",
]  # fmt: skip


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-model")
    model = build_model("mlp", hidden=8)
    save_model(model, folder, ModelInfo.describe(model))
    return folder


@SLOW
@given(
    st.sampled_from(FIELDS + ["config.hidden", "config.n_out", "config.relu", "config.input_size"]),
    JSON_VALUES,
)
def test_model_files(model_dir, field, value):
    original = (model_dir / "model.json").read_text()
    info = json.loads(original)
    if field.startswith("config."):
        info["config"][field.split(".")[1]] = value
    else:
        info[field] = value
    try:
        (model_dir / "model.json").write_text(json.dumps(info))
        load_model(model_dir)
    except Exception as e:  # noqa: BLE001
        one_line_naming(e, str(model_dir))
    finally:
        (model_dir / "model.json").write_text(original)


@SLOW
@given(
    st.sampled_from(["tests.helpers.custom_models:TinyNet", "os:system", "../x.py:Net", "antigravity:X"])
    | st.text(max_size=40)
    | JSON_VALUES,
    JSON_VALUES,
)
def test_model_files_naming_a_class_import_nothing_without_consent(model_dir, target, args):
    """A model.json that names a class to import (any name, any arguments): one line, no import."""
    import sys

    original = (model_dir / "model.json").read_text()
    info = json.loads(original)
    info["architecture"], info["config"] = "imported", {"target": target, "args": args}
    modules = set(sys.modules)
    try:
        (model_dir / "model.json").write_text(json.dumps(info))
        with pytest.raises(Exception) as error:
            load_model(model_dir)
        one_line_naming(error.value, str(model_dir))
        assert set(sys.modules) == modules
    finally:
        (model_dir / "model.json").write_text(original)


@pytest.fixture(scope="module")
def client(trained_model):
    from fastapi.testclient import TestClient

    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app

    return TestClient(create_app(Predictor.load(trained_model)), base_url="http://localhost")


@SLOW
@given(JSON_VALUES)
def test_http_json(client, pixels):
    body = json.dumps({"pixels": pixels})  # NaN and Infinity included, as Python writes them
    response = client.post("/api/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 400, 422)


@SLOW
@given(
    st.sampled_from(image_seeds()),
    st.sampled_from(["image/png", "application/json", "text/plain"]),
    st.data(),
)
def test_http_bytes(client, seed, kind, data):
    body = mutated(seed, data.draw) if kind != "application/json" else data.draw(st.binary(max_size=200))
    response = client.post("/api/predict", content=body, headers={"content-type": kind})
    assert response.status_code in (200, 400, 413, 415, 422), response.text


@settings(
    max_examples=8 if settings().max_examples < 100 else 200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_cli_on_damaged_files(tmp_path_factory, data):
    """The command line around the readers: exit 1 with one line, or success; no traceback."""
    folder = tmp_path_factory.mktemp("cli-fuzz")
    csv = folder / "train.csv"
    csv.write_bytes(mutated(valid_csv(40), data.draw))
    result = cli("data", "info", csv)
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr
    if result.returncode:
        assert result.stderr.startswith(f"error: {csv}") and result.stderr.count("\n") == 1
