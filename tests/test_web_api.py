import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitlab.data.images import png_bytes
from digitlab.predict import Predictor
from digitlab.web.app import MAX_BODY, create_app


@pytest.fixture(scope="module")
def predictor(trained_model):
    return Predictor.load(trained_model)


@pytest.fixture
def client(predictor, tmp_path):
    return TestClient(create_app(predictor, save_dir=tmp_path / "saved"))


png = png_bytes


def test_page_static_files_health_model_and_docs(client, trained_model):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/api/health").json() == {"status": "ok", "save_enabled": True}
    info = client.get("/api/model").json()
    assert info["architecture"] == "cnn" and info["classes"] == list(range(10))
    assert str(trained_model) not in json.dumps(info)  # no path on disk leaks out
    assert client.get("/docs").status_code == 200
    assert "/api/predict" in client.get("/openapi.json").json()["paths"]


def test_predict_an_upload(client, mnist):
    digit = 255 - mnist.test.images[0].numpy()  # a 7 as dark ink on white paper, 10x larger
    big = np.asarray(Image.fromarray(digit).resize((280, 280)))
    response = client.post("/api/predict", files={"file": ("d.png", png(big), "image/png")})
    assert response.status_code == 200
    body = response.json()
    assert body["digit"] == 7 and body["confidence"] > 0.5
    assert len(body["probs"]) == 10 and abs(sum(body["probs"]) - 1) < 1e-4
    assert np.array(body["input"]).shape == (28, 28)


@pytest.mark.parametrize("shape", [(784,), (28, 28)])
def test_predict_pixels_as_json(client, mnist, shape):
    pixels = mnist.test.images[1].numpy().reshape(shape).tolist()
    response = client.post("/api/predict", json={"pixels": pixels})
    assert response.status_code == 200 and response.json()["digit"] == 2
    floats = (mnist.test.images[1].numpy() / 255).reshape(shape).tolist()
    assert client.post("/api/predict", json={"pixels": floats}).json()["digit"] == 2


def test_blank_gives_null(client):
    body = client.post("/api/predict", json={"pixels": [0] * 784}).json()
    assert body["digit"] is None and body["confidence"] is None and body["probs"] is None


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"json": {"pixels": [1, 2, 3]}}, 422),
        ({"json": {"pixels": [[1] * 27] * 28}}, 422),
        ({"json": {"pixels": ["a"] * 784}}, 422),
        ({"json": {"image": []}}, 400),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ({"files": {"file": ("x.png", b"this is not an image", "image/png")}}, 400),
        ({"files": {"file": ("x.png", b"", "image/png")}}, 400),
        ({"files": {"other": ("x.png", b"abc", "image/png")}}, 400),
        ({"content": b"abc", "headers": {"content-type": "text/plain"}}, 400),
    ],
)
def test_bad_requests(client, kwargs, status):
    response = client.post("/api/predict", **kwargs)
    assert response.status_code == status
    assert response.json()["detail"] and "/" not in response.json()["detail"].split(":")[0]


def test_bodies_over_the_limit_get_413(client):
    big = b"\0" * (MAX_BODY + 1)
    response = client.post("/api/predict", files={"file": ("big.png", big, "image/png")})
    assert response.status_code == 413

    def chunks():  # no Content-Length announced: the server still counts
        for _ in range(3):
            yield b"\0" * (MAX_BODY // 2)

    response = client.post("/api/predict", content=chunks(), headers={"content-type": "image/png"})
    assert response.status_code == 413


def test_save_a_correction(client, tmp_path, mnist):
    image = png(255 - mnist.test.images[0].numpy())
    response = client.post("/api/samples", data={"digit": "7"}, files={"file": ("../../evil.png", image)})
    assert response.status_code == 200
    saved = list((tmp_path / "saved" / "7").glob("*.png"))
    assert len(saved) == 1 and "evil" not in saved[0].name
    assert (
        client.post("/api/samples", data={"digit": "x"}, files={"file": ("a.png", image)}).status_code == 422
    )
    bad = client.post("/api/samples", data={"digit": "3"}, files={"file": ("a.png", b"nope")})
    assert bad.status_code == 400 and not (tmp_path / "saved" / "3").exists()


def test_saving_is_off_without_save_dir_and_no_cors_by_default(predictor):
    client = TestClient(create_app(predictor))
    assert client.post("/api/samples", data={"digit": "1"}).status_code == 404
    response = client.get("/api/health", headers={"Origin": "http://example.test"})
    assert "access-control-allow-origin" not in response.headers
    cors = TestClient(create_app(predictor, cors_origins=["http://example.test"]))
    response = cors.get("/api/health", headers={"Origin": "http://example.test"})
    assert response.headers["access-control-allow-origin"] == "http://example.test"


def test_ci_has_chromium_so_the_browser_tests_really_ran():
    """The browser tests skip without Chromium; in CI (.ci/run installs it) that must not happen."""
    import os
    import shutil
    from pathlib import Path

    if not os.environ.get("CI"):
        pytest.skip("only CI is required to have Chromium")
    assert shutil.which("chromium") or Path("/usr/bin/chromium").exists()
