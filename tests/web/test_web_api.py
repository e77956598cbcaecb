import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitlab.data.decode import png_bytes
from digitlab.inference.predictor import Predictor
from digitlab.web.app import create_app
from digitlab.web.uploads import MAX_BODY
from tests.helpers import cli
from tests.web.conftest import LOCAL

png = png_bytes
JSON = {"content-type": "application/json"}


def test_page_static_files_health_model_and_docs(client, trained_model):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/api/health").json() == {"status": "ok", "save_enabled": True}
    info = client.get("/api/model").json()
    assert info["architecture"] == "cnn" and info["classes"] == list(range(10))
    assert str(trained_model) not in json.dumps(info)  # no path on disk leaks out
    docs = client.get("/docs")  # our own page, not Swagger UI's: it loads nothing from elsewhere
    assert docs.status_code == 200 and '<script src="/static/docs.js">' in docs.text
    assert "http" not in docs.text
    assert client.get("/redoc").status_code == 404
    assert "/api/predict" in client.get("/openapi.json").json()["paths"]


@pytest.mark.numeric
def test_predict_an_upload(client, mnist):
    digit = 255 - mnist.test.images[0].numpy()  # a 7 as dark ink on white paper, 10x larger
    big = np.asarray(Image.fromarray(digit).resize((280, 280)))
    response = client.post("/api/predict", files={"file": ("d.png", png(big), "image/png")})
    assert response.status_code == 200
    body = response.json()
    assert body["digit"] == 7 and body["confidence"] > 0.5  # 0.889-0.984 over 5 seeds x 2 kernel sets
    assert len(body["probs"]) == 10 and abs(sum(body["probs"]) - 1) < 1e-4
    assert "input" not in body  # the image the model saw comes only when asked
    asked = client.post("/api/predict?include=input", files={"file": ("d.png", png(big), "image/png")})
    assert np.array(asked.json()["input"]).shape == (28, 28) and asked.json()["probs"] == body["probs"]
    assert client.post("/api/predict?include=everything", json={"pixels": [0] * 784}).status_code == 422


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


@pytest.mark.numeric
def test_explain_the_input_a_prediction_returned(client, mnist):
    seen = client.post("/api/predict?include=input", json={"pixels": mnist.test.images[0].tolist()}).json()
    response = client.post("/api/explain", json={"pixels": seen["input"]})
    assert response.status_code == 200
    body = response.json()
    assert body["digit"] == seen["digit"] == body["top"][0]["digit"]
    # the same input and model, once alone and once in a batch of one: float32 softmax (~1e-7) and the
    # answers' rounding to 6 decimals (5e-7 each), well within 1e-5
    assert body["top"][0]["probability"] == pytest.approx(seen["confidence"], abs=1e-5)
    assert len(body["attribution"]) == 2 and "integrated gradients" in body["method"]
    erased = np.array(body["erased_input"])
    assert erased.shape == (28, 28) and (erased <= np.array(seen["input"])).all()  # only ink removed
    assert int((erased != np.array(seen["input"])).sum()) == body["erased"]["pixels"]


def test_explain_refuses_what_is_not_a_28x28_json_input(client):
    assert client.post("/api/explain", content=b"x", headers={"content-type": "image/png"}).status_code == 415
    assert client.post("/api/explain", json={"pixels": [1, 2, 3]}).status_code == 422
    assert client.post("/api/explain", json={"pixels": [[0] * 28] * 28}).json() == {"digit": None}


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"json": {"pixels": [1, 2, 3]}}, 422),
        ({"json": {"pixels": [[1] * 27] * 28}}, 422),
        ({"json": {"pixels": ["a"] * 784}}, 422),
        ({"json": {"image": []}}, 400),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ({"files": {"file": ("x.png", b"this is not an image", "image/png")}}, 415),
        ({"files": {"file": ("x.png", b"", "image/png")}}, 400),
        ({"files": {"other": ("x.png", b"abc", "image/png")}}, 400),
        ({"content": b"abc", "headers": {"content-type": "text/plain"}}, 400),
        ({"json": {"pixels": ["255"] * 784}}, 422),
        ({"json": {"pixels": [True] * 784}}, 422),
        ({"json": {"pixels": [None] * 784}}, 422),
        ({"json": {"pixels": [300] * 784}}, 422),
        ({"json": {"pixels": [-1] * 784}}, 422),
        ({"json": {"pixels": [[0] * 49] * 16}}, 422),  # 784 values, but not 28x28
        ({"content": b'{"pixels": [' + b"1" + b"0" * 400 + b"]}", "headers": JSON}, 422),  # 10**400
        ({"content": b'{"pixels": [1e400]}', "headers": JSON}, 422),  # a float overflowing to inf
        ({"content": b'{"pixels": [' + b"9" * 5001 + b"]}", "headers": JSON}, 400),  # too long to convert
        ({"content": b'{"pixels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "headers": JSON}, 400),
    ],
)
def test_bad_requests(client, kwargs, status):
    response = client.post("/api/predict", **kwargs)
    assert response.status_code == status
    assert response.json()["detail"] and "/" not in response.json()["detail"].split(":")[0]


def test_nan_tiff_and_decompression_bombs_are_4xx(client, tmp_path):
    nan = np.zeros((28, 28), np.float32)
    nan[5, 5] = np.nan
    buf = io.BytesIO()
    Image.fromarray(nan, mode="F").save(buf, format="TIFF")
    response = client.post("/api/predict", files={"file": ("n.tiff", buf.getvalue(), "image/tiff")})
    assert response.status_code == 422 and "NaN" in response.json()["detail"]
    gif = io.BytesIO()
    Image.new("P", (6000, 6000)).save(gif, format="GIF")  # 26 KB on the wire, 36 megapixels
    response = client.post("/api/predict", files={"file": ("g.gif", gif.getvalue(), "image/gif")})
    assert response.status_code == 400 and "over the limits" in response.json()["detail"]


def test_a_big_photo_correction_is_stored_small(client, tmp_path, mnist):
    photo = Image.fromarray(255 - mnist.test.images[0].numpy()).resize((3000, 3000)).convert("RGB")
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=95)
    response = client.post("/api/samples", data={"digit": "7"}, files={"file": ("p.jpg", buf.getvalue())})
    assert response.status_code == 200
    (saved,) = (tmp_path / "saved" / "7").glob("*.png")
    assert max(Image.open(saved).size) <= 280 and saved.stat().st_size < len(buf.getvalue())


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
    assert bad.status_code == 415 and not (tmp_path / "saved" / "3").exists()


def test_saving_is_off_without_save_dir_and_no_cors_by_default(predictor):
    client = TestClient(create_app(predictor), base_url=LOCAL)
    assert client.post("/api/samples", data={"digit": "1"}).status_code == 404
    response = client.get("/api/health", headers={"Origin": "http://example.test"})
    assert "access-control-allow-origin" not in response.headers
    cors = TestClient(create_app(predictor, cors_origins=["http://example.test"]), base_url=LOCAL)
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


def test_slow_headers_and_slow_bodies_are_cut_off_while_real_requests_are_served(predictor, monkeypatch):
    """Slowloris, on the headers and on the body: each request must arrive whole within the deadline."""
    import socket
    import threading
    import time

    import uvicorn

    from digitlab.web import server

    monkeypatch.setattr(server, "REQUEST_TIMEOUT", 1.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    srv = uvicorn.Server(server.server_config(create_app(predictor), "127.0.0.1", port))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    slow = []
    try:
        for i in range(30):
            conn = socket.create_connection(("127.0.0.1", port))
            if i % 2:  # headers that never end
                conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n")
            else:  # headers, then a body a byte at a time
                conn.sendall(b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\n"
                             b"Content-Type: image/png\r\nContent-Length: 1000\r\n\r\nx")  # fmt: skip
            slow.append(conn)
        started = time.monotonic()
        fine = socket.create_connection(("127.0.0.1", port))
        fine.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        fine.settimeout(10)
        assert fine.recv(1024).startswith(b"HTTP/1.1 200")  # served while the slow ones wait
        assert time.monotonic() - started < 1.0
        for conn in slow:
            conn.settimeout(10)
            assert conn.recv(1024) == b""  # the server hung up (a recv timeout would raise instead)
        assert time.monotonic() - started < 5
    finally:
        for conn in slow:
            conn.close()
        srv.should_exit = True
        thread.join(timeout=10)


class CountingPredictor(Predictor):
    """The same model, counting the images of every model call."""

    def __init__(self, predictor: Predictor):
        super().__init__(predictor.model, predictor.info)
        self.calls: list[int] = []

    def probs(self, images):
        self.calls.append(len(images))
        return super().probs(images)


def post_concurrently(app, bodies: list[dict]) -> list:
    import asyncio

    import httpx

    async def run():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # errors become 500s
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL) as c:
            return await asyncio.gather(*(c.post("/api/predict", json=b) for b in bodies))

    return asyncio.run(run())


@pytest.mark.numeric
def test_concurrent_requests_share_model_calls_and_get_their_own_answers(predictor, mnist):
    counting = CountingPredictor(predictor)
    images = mnist.test.images[:40].numpy()
    bodies = [{"pixels": img.reshape(-1).tolist()} for img in images]
    responses = post_concurrently(create_app(counting, batch_window=0.05), bodies)
    assert all(r.status_code == 200 for r in responses)
    for r, img in zip(responses, images, strict=True):  # as one request alone would get it
        alone = predictor.predict_image(Image.fromarray(img))
        assert r.json()["digit"] == alone.digit
        # batched and alone, oneDNN may sum in another order: measured at most 9.5e-7 apart over 5 seeds
        # x 2 kernel sets (AVX2, SSE4.1), two recipes; 1e-5 is 10x that, far below a wrong image's
        np.testing.assert_allclose(r.json()["probs"], alone.probs, atol=1e-5)
    assert sum(counting.calls) == 40 and len(counting.calls) < 10 and max(counting.calls) > 1, counting.calls


def test_without_a_batch_window_every_request_calls_the_model_itself(predictor, mnist):
    counting = CountingPredictor(predictor)
    bodies = [{"pixels": img.reshape(-1).tolist()} for img in mnist.test.images[:6].numpy()]
    responses = post_concurrently(create_app(counting, batch_window=0), bodies)
    assert [r.status_code for r in responses] == [200] * 6 and counting.calls == [1] * 6


def test_a_failing_batch_fails_each_of_its_requests_alone(predictor, mnist):
    class Broken(CountingPredictor):
        def probs(self, images):
            raise RuntimeError("model failure")

    bodies = [{"pixels": img.reshape(-1).tolist()} for img in mnist.test.images[:5].numpy()]
    responses = post_concurrently(create_app(Broken(predictor), batch_window=0.05), bodies)
    assert [r.status_code for r in responses] == [500] * 5
    blank = post_concurrently(create_app(Broken(predictor)), [{"pixels": [0] * 784}])[0]
    assert blank.status_code == 200 and blank.json()["digit"] is None  # no digit: no model call


def test_serve_on_a_port_in_use_or_out_of_range_is_one_line_before_anything_else(trained_model):
    """Left to uvicorn, a port in use was a log line after "serving on", and 99999 hung without a word."""
    import socket

    import torch

    threads = torch.get_num_threads()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", trained_model, "--port", port)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"error: cannot serve on 127.0.0.1:{port}: Address already in use\n"
    result = cli("serve", trained_model, "--port", 99999)  # a usage error now: the flag's declared range
    assert result.returncode == 2 and result.stderr.startswith("error: Invalid value for '--port': 99999 ")
    assert "0 <= x <= 65535" in result.stderr and result.stderr.count("\n") == 1
    assert torch.get_num_threads() == threads  # it failed before changing anything
