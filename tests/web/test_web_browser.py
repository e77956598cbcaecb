"""End-to-end: the page in a real headless Chromium, driven by Playwright."""

import io
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from PIL import Image

from digitlab.data.decode import png_bytes
from digitlab.inference.predictor import Predictor
from digitlab.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_model, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("saved")
    port = free_port()
    app = create_app(Predictor.load(trained_model), save_dir=save_dir)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", save_dir
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 900, "height": 800})
        page.add_init_script(  # every Content-Security-Policy violation the page causes, kept for a test
            "window.cspViolations = []; document.addEventListener('securitypolicyviolation',"
            " e => window.cspViolations.push(e.violatedDirective));"
        )
        page.goto(server[0])
        yield page
        browser.close()


def draw(page, strokes):
    """Strokes as lists of (x, y) in the pad's 0..1 coordinates, drawn as pointer drags."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        page.mouse.up()


def shown_probs(page) -> list[float]:
    return [float(v) for v in page.locator("#bars li").evaluate_all("els => els.map(e => e.dataset.p)")]


def test_draw_predict_clear_and_upload(page, server, mnist, tmp_path):
    expect = sync_api.expect
    expect(page.locator("#guess")).to_have_text("draw a digit")
    draw(page, [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]])  # a seven: top bar, then the stem
    expect(page.locator("#guess")).to_have_attribute("data-digit", "7", timeout=10_000)
    assert page.locator("#confidence").inner_text().endswith("% sure")
    probs = shown_probs(page)
    assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-3
    percents = [float(t.rstrip("%")) for t in page.locator("#bars .pct").all_inner_texts()]
    assert abs(sum(percents) - 100) < 1.0
    seen = page.evaluate(
        "Array.from(document.getElementById('seen').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 == 0 && v > 0).length"
    )
    assert seen > 20  # the 28x28 preview shows the digit
    shot = Image.open(io.BytesIO(page.screenshot()))
    assert shot.size == (900, 800)  # what a person would see, checked without writing into the repo

    page.click("#clear")
    expect(page.locator("#guess")).to_have_text("draw a digit")
    assert page.locator("#bars li").count() == 0

    upload = tmp_path / "two.png"
    Image.fromarray(255 - np.asarray(Image.fromarray(mnist.test.images[1].numpy()).resize((200, 200)))).save(
        upload
    )
    page.set_input_files("#file", str(upload))
    expect(page.locator("#guess")).to_have_attribute("data-digit", "2", timeout=10_000)
    assert Image.open(io.BytesIO(page.screenshot())).size == (900, 800)


def test_thats_wrong_saves_the_drawing(page, server):
    _, save_dir = server
    page.click("#clear")
    draw(page, [[(0.5, 0.15), (0.5, 0.85)]])
    sync_api.expect(page.locator("#wrong")).to_be_visible(timeout=10_000)
    page.click("#wrong")
    page.click("#picker button:text-is('4')")
    sync_api.expect(page.locator("#thanks")).to_have_text("saved as a 4, thank you")
    assert len(list((save_dir / "4").glob("*.png"))) == 1


def test_why_panel_shows_the_maps_and_erasing_the_evidence_asks_again(page):
    expect = sync_api.expect
    page.click("#clear")
    expect(page.locator("#why")).to_be_hidden()
    draw(page, [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]])
    expect(page.locator("#guess")).to_have_attribute("data-digit", "7", timeout=10_000)
    expect(page.locator("#why")).to_be_visible(timeout=10_000)
    expect(page.locator("#why-top-label")).to_contain_text("why 7")
    pixels = page.evaluate(  # the map for 7, as drawn: (red, green) of each pixel
        "Array.from(document.getElementById('why-top').getContext('2d').getImageData(0, 0, 28, 28).data)"
    )
    reds = sum(r == 255 and g < 255 for r, g in zip(pixels[::4], pixels[1::4], strict=True))  # white: no
    ink = page.evaluate("lastInput.flat().filter((v) => v > 0).length")  # the input's inked pixels
    # Integrated Gradients gives a blank pixel nothing (its maps are (x - blank) x gradient), so the red
    # ones are inked ones; a drawing of a 7 has some (64 of its 128 here, Chromium, seed 0).
    assert 0 < reds <= ink
    assert "integrated gradients" in page.locator("#method").inner_text()
    page.check("#erase")
    expect(page.locator("#erased")).to_contain_text("without the", timeout=5_000)
    assert page.locator("#erased").get_attribute("data-digit") in [str(d) for d in range(10)]
    grey = page.evaluate(  # the erased pixels are greyed out in the 28x28 preview
        "Array.from(document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data)"
        ".filter((v, i) => i % 4 == 0 && v == 150).length"
    )
    erased = int(page.locator("#erased").inner_text().split("without the ")[1].split()[0])
    assert 0 < erased <= grey  # each erased pixel grey (an untouched pixel of level 150 would add one)
    page.uncheck("#erase")
    expect(page.locator("#erased")).to_have_text("")


def test_the_page_and_its_why_panel_fit_a_phone(page, server):
    context = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    phone.goto(server[0])
    draw(phone, [[(0.5, 0.15), (0.5, 0.85)]])  # a one
    sync_api.expect(phone.locator("#why")).to_be_visible(timeout=10_000)
    phone.check("#erase")
    sync_api.expect(phone.locator("#erased")).to_contain_text("without the", timeout=5_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sideways
    box = phone.locator("#why").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    context.close()


def test_the_api_reference_is_drawn_offline(page, server):
    page.goto(server[0] + "/docs")
    sync_api.expect(page.locator("#endpoints")).to_contain_text("POST /api/predict", timeout=10_000)
    assert "request: multipart/form-data" in page.locator("#endpoints").inner_text()
    assert page.evaluate("window.cspViolations") == []
    page.goto(server[0])


def test_the_page_works_under_its_security_policy_and_another_origin_cannot_save(page, server, mnist):
    """Run after the tests above: drawing, predicting, uploading and saving raised no CSP violation.
    A page of another site (another server, another port) posts a real drawing: refused."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    url, save_dir = server
    assert page.evaluate("window.cspViolations") == []
    response = page.request.get(url)
    assert "script-src 'self'" in response.headers["content-security-policy"]

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!DOCTYPE html><title>another site</title>")

        def log_message(self, *args):
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
    png = list(png_bytes(255 - mnist.test.images[2].numpy()))  # a real drawing of a 1
    status = page.evaluate(
        """async ([target, png]) => {
            const form = new FormData();
            form.append("digit", "1");
            form.append("file", new Blob([new Uint8Array(png)], {type: "image/png"}), "d.png");
            try { return (await fetch(target + "/api/samples", {method: "POST", body: form})).status; }
            catch (e) { return "blocked: " + e; }  // the browser hides a cross-origin answer
        }""",
        [url, png],
    )
    evil.shutdown()
    assert status != 200 and not (save_dir / "1").exists(), status
