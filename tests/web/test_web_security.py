"""The server defends the user's browser: other sites may not write, other hosts are not answered,
every response carries its security headers, unknown formats are refused, and load is shed fast."""

import asyncio
import io
import threading

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitlab.data.decode import png_bytes
from digitlab.inference.predictor import Predictor
from digitlab.web import app as web_app
from digitlab.web.app import create_app
from digitlab.web.safeguards import HEADERS
from tests.helpers import cli
from tests.web.conftest import LOCAL


def drawing(mnist) -> bytes:
    return png_bytes(255 - mnist.test.images[0].numpy())


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-site"},  # a sibling subdomain's page
    ],
)
def test_a_cross_site_post_is_refused_and_saves_nothing(client, tmp_path, mnist, headers):
    files = {"file": ("d.png", drawing(mnist), "image/png")}
    response = client.post("/api/samples", data={"digit": "7"}, files=files, headers=headers)
    assert response.status_code == 403 and "own page" in response.json()["detail"]
    assert not (tmp_path / "saved").exists()


@pytest.mark.parametrize("headers", [{}, {"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}])
def test_the_pages_own_post_and_a_script_without_origin_are_accepted(client, tmp_path, mnist, headers):
    files = {"file": ("d.png", drawing(mnist), "image/png")}
    response = client.post("/api/samples", data={"digit": "7"}, files=files, headers=headers)
    assert response.status_code == 200 and len(list((tmp_path / "saved" / "7").glob("*.png"))) == 1


def test_only_allowed_hosts_are_answered(predictor):
    """DNS rebinding: evil.example pointed at 127.0.0.1 would otherwise read the answers."""
    for host, status in (("localhost", 200), ("127.0.0.1", 200), ("evil.example", 400)):
        client = TestClient(create_app(predictor), base_url=f"http://{host}")
        assert client.get("/api/health").status_code == status, host
    named = TestClient(create_app(predictor, allowed_hosts=["digits.lan"]), base_url="http://digits.lan:8000")
    assert named.get("/api/health").status_code == 200
    assert (
        TestClient(create_app(predictor, allowed_hosts=["*"]), base_url="http://any.thing")
        .get("/")
        .status_code
        == 200
    )


def test_every_response_carries_the_security_headers(predictor, client):
    responses = [
        client.get("/"),
        client.get("/api/health"),
        client.get("/nothing-here"),
        client.post("/api/predict", content=b"x", headers={"content-length": "99999999"}),
        TestClient(create_app(predictor), base_url="http://evil.example").get("/"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 413, 400]
    for response in responses:
        for name, value in HEADERS.items():
            assert response.headers[name] == value


def ico_wrapping_a_big_png() -> bytes:
    """An ICO whose one entry is a PNG declaring 16384x10922 pixels (Pillow decodes ICOs when opening)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 16384, 10922, 8, 0, 0, 0, 0)  # 8-bit grey: the size is in the header
    inner = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16385))
        + chunk(b"IEND", b"")
    )
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(inner), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + inner


@pytest.mark.parametrize(
    "make",
    [
        lambda: _saved("ICO"),
        lambda: _saved("SPIDER", "F"),
        lambda: _saved("DDS", "RGBA"),
        lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n",  # Ghostscript would run on it
        ico_wrapping_a_big_png,
    ],
)
def test_formats_digitlab_does_not_read_get_415_without_being_decoded(client, make):
    response = client.post("/api/predict", files={"file": ("x.img", make(), "image/png")})
    assert response.status_code == 415 and "PNG, JPEG, BMP, GIF, WebP or TIFF" in response.json()["detail"]


def _saved(fmt: str, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (32, 32)).save(buf, format=fmt)
    return buf.getvalue()


def test_a_file_of_another_format_never_hides_the_good_files_results(trained_model, tmp_path, mnist):
    good = tmp_path / "seven.png"
    Image.fromarray(mnist.test.images[0].numpy()).save(good)
    (tmp_path / "icon.png").write_bytes(_saved("ICO"))
    (tmp_path / "bomb.png").write_bytes(ico_wrapping_a_big_png())
    result = cli("predict", trained_model, good, tmp_path / "icon.png", tmp_path / "bomb.png", good)
    assert result.returncode == 1
    assert result.stdout.count("seven.png: 7") == 2
    assert result.stderr.count("not an image digitlab reads") == 2 and result.stderr.count("\n") == 2


def test_past_its_capacity_the_server_answers_503_at_once(predictor, mnist, monkeypatch):
    """Load shedding: with every place taken, a request is told to come back, not queued for seconds."""
    import httpx

    monkeypatch.setattr(web_app, "MAX_IN_FLIGHT", 2)
    release = threading.Event()

    class Slow(Predictor):
        def __init__(self):
            super().__init__(predictor.model, predictor.info)

        def probs(self, images):
            release.wait(10)
            return super().probs(images)

    app = create_app(Slow(), batch_window=0.01)  # the model runs in a worker thread
    body = {"pixels": mnist.test.images[0].numpy().reshape(-1).tolist()}

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL) as c:
            held = [asyncio.create_task(c.post("/api/predict", json=body)) for _ in range(2)]
            await asyncio.sleep(0.3)  # both are inside, waiting on the model
            shed = await c.post("/api/predict", json=body)
            release.set()
            return shed, await asyncio.gather(*held)

    shed, held = asyncio.run(run())
    assert shed.status_code == 503 and shed.headers["retry-after"] == "1"
    assert [r.status_code for r in held] == [200, 200]
