"""Property-based fuzzing of the inputs a hostile pass found: image formats outside the allow-list,
checkpoint fields, ONNX files, and file names printed to a terminal.

The property, as in test_fuzz.py: any input works, or fails with one line naming it; never another
exception, never a file read or a line forged. `make fuzz` runs thousands of examples of each.
"""

import io
import json
import unicodedata

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from digitlab.data.decode import FORMATS, open_image
from digitlab.errors import BIDI_CONTROLS, DigitlabError, plain
from digitlab.modelfiles.checkpoint_fields import check_meta
from digitlab.run.settings import TrainConfig
from tests.helpers import cli
from tests.helpers.fuzzing import SLOW, mutated, one_line_naming

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def foreign_seeds() -> list[bytes]:
    """Small files in formats Pillow reads and digitlab does not."""
    seeds = []
    for fmt, mode in (("ICO", "RGBA"), ("SPIDER", "F"), ("DDS", "RGBA"), ("TGA", "L"), ("PCX", "L"),
                      ("PPM", "L"), ("QOI", "RGB"), ("SGI", "L"), ("IM", "L"), ("BLP", "P")):  # fmt: skip
        buf = io.BytesIO()
        Image.new(mode, (16, 16)).save(buf, format=fmt)
        seeds.append(buf.getvalue())
    seeds.append(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n")
    return seeds


@given(st.sampled_from(foreign_seeds()), st.data())
def test_formats_outside_the_allow_list(seed, data):
    blob = mutated(seed, data.draw) if data.draw(st.booleans()) else seed
    try:
        image = open_image(blob, name="upload")
    except Exception as e:  # noqa: BLE001 (the property: only DigitlabError)
        one_line_naming(e, "upload")
    else:
        assert image.format in FORMATS  # a mutation that happens to make a real PNG, say


def checkpoint_meta() -> dict:
    """A sound checkpoint.json's fields for 2 epochs of 10 batches, stopped after the first epoch."""
    import random

    np_state = np.random.RandomState(0).get_state()
    py_state = random.Random(0).getstate()
    return {
        "epoch": 1, "iter": 0, "n_epoch": 2, "metrics_train_count": 0,
        "recorder_rows": [{"epoch": 0, "train_loss": 0.5, "valid_loss": 0.4, "accuracy": 0.9}],
        "callbacks": {"EarlyStopping": {"best": 0.4, "best_epoch": 0}},
        "numpy_rng": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python_rng": [py_state[0], list(py_state[1]), py_state[2]],
    }  # fmt: skip


CHECKPOINT_FIELDS = [*checkpoint_meta(), "callbacks.EarlyStopping", "numpy_rng.1", "python_rng.2"]


@given(st.sampled_from(CHECKPOINT_FIELDS), JSON_VALUES)
def test_checkpoint_fields(field, value):
    meta = checkpoint_meta()
    check_meta(meta, 2, 10, {"EarlyStopping": {"best": None, "best_epoch": None}})  # sound as made
    key, _, inner = field.partition(".")
    if inner:
        target = meta[key]
        target[int(inner) if isinstance(target, list) else inner] = value
    else:
        meta[key] = value
    try:
        check_meta(meta, 2, 10, {"EarlyStopping": {"best": None, "best_epoch": None}})
    except ValueError as e:
        assert "\n" not in str(e) and "field" in str(e)


@given(st.sampled_from([f.name for f in __import__("dataclasses").fields(TrainConfig)]), JSON_VALUES)
def test_stored_settings(field, value):
    try:
        TrainConfig.from_json({field: value})
    except DigitlabError as e:
        assert "\n" not in str(e)


@pytest.fixture(scope="module")
def onnx_seed():
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from tests.modelfiles.test_onnx_files import tiny_graph

    return tiny_graph("0" * 64)


@SLOW
@given(st.data())
def test_onnx_files(onnx_seed, data):
    from digitlab.inference.onnx_engine import OnnxEngine
    from digitlab.modelfiles.onnx_export import checked_onnx

    blob = mutated(onnx_seed, data.draw)
    try:
        checked_onnx(blob, "model.onnx")
        probs = OnnxEngine(blob, 10, "model.onnx").probs(np.zeros((3, 1, 28, 28), np.float32))
    except Exception as e:  # noqa: BLE001
        one_line_naming(e, "model.onnx")
    else:
        assert probs.shape == (3, 10) and np.allclose(probs.sum(1), 1, atol=1e-3)


NAMES = st.text(
    st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)), min_size=1, max_size=30
)


@given(NAMES)
def test_plain_text_is_one_printable_line(name):
    shown = plain(name)
    assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS for c in shown)
    assert plain(shown) == shown  # already inert


@SLOW
@given(NAMES)
def test_file_names_on_the_command_line(trained_model, tmp_path_factory, name):
    path = tmp_path_factory.getbasetemp() / f"{name}.png"  # no such file: the error names it
    result = cli("predict", trained_model, path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "\x1b" not in result.stderr
    assert result.stderr.startswith(f"error: {plain(str(path))}")
    json.dumps(result.stderr)


MANIFESTS = {"folder": ".digitlab.json", "files": ".digitlab-files.json"}
SOUND_MANIFESTS = {
    "folder": json.dumps({"format": "digitlab-folder", "runs": ["0123456789ab-0badc0de"], "pending": []}),
    "files": json.dumps({"files": ["0000-seven.png"]}),
}


@given(st.sampled_from(list(MANIFESTS)), st.one_of(JSON_VALUES.map(json.dumps), st.data()))
def test_manifests(tmp_path_factory, kind, text):
    """A manifest is a folder's own record, yet anyone may have edited it: any bytes at its name are
    read as a record, or refused with one line naming it; nothing else is raised, nothing written."""
    from digitlab.modelfiles import ownership

    folder = tmp_path_factory.mktemp("manifest")
    if isinstance(text, str):
        data = text.encode()
    else:  # a sound manifest with a few bytes changed
        data = mutated(SOUND_MANIFESTS[kind].encode(), text.draw)
    (folder / MANIFESTS[kind]).write_bytes(data)
    read = ownership.check if kind == "folder" else ownership.OwnedFiles
    try:
        read(folder)
    except Exception as e:  # noqa: BLE001 (the property: only DigitlabError)
        one_line_naming(e, str(folder))
    assert sorted(p.name for p in folder.iterdir()) == [MANIFESTS[kind]]
    assert (folder / MANIFESTS[kind]).read_bytes() == data


@pytest.fixture(scope="module")
def web(trained_model, tmp_path_factory):
    from fastapi.testclient import TestClient

    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app

    app = create_app(Predictor.load(trained_model), save_dir=tmp_path_factory.mktemp("saved"))
    return TestClient(app, base_url="http://localhost", raise_server_exceptions=False)


ENDPOINTS = [("POST", "/api/predict"), ("POST", "/api/predict/batch"), ("POST", "/api/explain"),
             ("POST", "/api/samples"), ("GET", "/api/health"), ("GET", "/api/model"), ("GET", "/metrics"),
             ("GET", "/"), ("GET", "/docs"), ("GET", "/openapi.json")]  # fmt: skip
KINDS = ["application/json", "multipart/form-data; boundary=b", "image/png", "text/plain", ""]
PIXELS = st.lists(
    st.one_of(st.integers(-(10**400), 10**400), st.floats(), st.sampled_from([0, 1, 255, 0.5])),
    min_size=784,
    max_size=784,
)


@SLOW
@given(
    st.sampled_from(ENDPOINTS),
    st.sampled_from(KINDS),
    st.one_of(
        JSON_VALUES, st.fixed_dictionaries({"pixels": JSON_VALUES}), st.fixed_dictionaries({"pixels": PIXELS})
    ),
)
def test_json_bodies_on_every_endpoint(web, endpoint, kind, payload):
    """Any JSON body, under any content type, on every route: an answer or a 4xx, never a 500."""
    method, path = endpoint
    body = json.dumps(payload)  # NaN, Infinity and integers of 400 digits included
    response = web.request(method, path, content=body, headers={"content-type": kind} if kind else {})
    assert response.status_code < 500, (path, response.status_code, response.text[:200])


MULTIPART_SEED = (
    b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n"
    b"Content-Type: image/png\r\n\r\n" + __import__("base64").b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="
    ) + b"\r\n--b\r\nContent-Disposition: form-data; name=\"digit\"\r\n\r\n3\r\n--b--\r\n"
)  # fmt: skip


@SLOW
@given(st.sampled_from(["/api/predict/batch", "/api/predict", "/api/samples", "/api/explain"]), st.data())
def test_multipart_bodies_on_the_upload_endpoints(web, path, data):
    """A multipart body (batch's images, a saved drawing) with bytes changed: never a 500."""
    body = mutated(MULTIPART_SEED, data.draw)
    response = web.post(path, content=body, headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code < 500, (path, response.status_code, response.text[:200])


# --- process start-up and settings files: a child imports what its parent would; a file is no consent

CURRENT_FOLDER = [
    "",
    ".",
    "./",
    "{here}",
    "{here}/",
    "{here}/./",
    "{here}-link",
    "{here}/bin",
    "{here}-link/bin",
]
ELSEWHERE = ["rel/dir", "/a:b", "/elsewhere", "/usr/lib/x"]


@given(st.lists(st.sampled_from(CURRENT_FOLDER + ELSEWHERE), max_size=8))
def test_a_childs_import_path_never_holds_the_current_or_the_scripts_folder(entries):
    """Every way of naming the current folder ({here}) or the script's ({here}/bin) is left out, through a
    link too; everything else is kept in order, as absolute paths, but an entry PYTHONPATH cannot hold."""
    import os
    import sys
    import tempfile

    from digitlab.run.processes import child_environment

    saved = os.getcwd(), sys.path, sys.argv
    with tempfile.TemporaryDirectory() as here:
        os.symlink(here, here + "-link")
        try:
            os.chdir(here)
            sys.path, sys.argv = [e.format(here=here) for e in entries], [here + "/bin/digitlab"]
            env = child_environment()
        finally:
            os.chdir(saved[0])
            sys.path, sys.argv = saved[1], saved[2]
        kept = env["PYTHONPATH"].split(os.pathsep) if env["PYTHONPATH"] else []
        assert env["PYTHONSAFEPATH"] == "1"
        assert kept == [os.path.join(here, e) for e in entries if e in ELSEWHERE and os.pathsep not in e]


@given(
    st.text(max_size=60)
    | st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,20}:[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
    | st.sampled_from(["tabnanny:NannyNag", "xml.dom.minidom:Node", "wave:Wave_read"]),  # real, not loaded
    st.dictionaries(
        st.sampled_from(["epochs", "lr", "model_args", "seed", "preset"]), JSON_VALUES, max_size=3
    ),
)
def test_a_settings_file_never_imports_a_class_without_consent(tmp_path_factory, model, others):
    import sys

    from digitlab.models.imported import is_import_path
    from digitlab.run.config_file import read_config

    path = tmp_path_factory.mktemp("config") / "run.toml"
    path.write_text(
        f"model = {json.dumps(model)}\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in others.items() if not isinstance(v, dict | None))
    )
    before = set(sys.modules)
    try:
        read_config(path)
    except Exception as e:  # noqa: BLE001 (the property: only DigitlabError, one line naming the file)
        one_line_naming(e, str(path))
    else:
        assert not is_import_path(model)
    assert set(sys.modules) <= before | {"digitlab.models.imported"}  # nothing was imported
