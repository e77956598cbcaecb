"""What a production server needs: metrics, an access log, a batch endpoint, request schemas, workers."""

import datetime
import inspect
import json
import re
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from fastapi.testclient import TestClient

import digitlab.web.app
from digitlab.cli.tool_commands import serve
from digitlab.data.decode import png_bytes
from digitlab.inference.predictor import Predictor
from digitlab.web.app import MAX_BATCH_FILES, create_app
from tests.helpers import cli
from tests.web.conftest import LOCAL


def _metric(text: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}}" if labels else f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_route_and_status_and_batch_sizes(predictor, mnist):
    client = TestClient(create_app(predictor), base_url=LOCAL)
    before = client.get("/metrics").text
    for i in range(3):
        assert client.post("/api/predict", json={"pixels": mnist.test.images[i].tolist()}).status_code == 200
    assert client.post("/api/predict", json={"pixels": [1]}).status_code == 422
    assert client.get("/no/such/page/%1b[31m").status_code == 404
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    count = "digitlab_requests_total"
    expected = [
        ({"route": "/api/predict", "status": "200"}, 3),
        ({"route": "/api/predict", "status": "422"}, 1),
        ({"route": "other", "status": "404"}, 1),
    ]
    for labels, more in expected:
        assert _metric(after.text, count, **labels) - _metric(before, count, **labels) == more, labels
    assert "no/such" not in after.text  # a client's URL never becomes a label
    seconds = _metric(after.text, "digitlab_request_seconds_count", route="/api/predict")
    assert seconds - _metric(before, "digitlab_request_seconds_count", route="/api/predict") == 4
    assert (
        _metric(after.text, "digitlab_batch_images_count") - _metric(before, "digitlab_batch_images_count")
        >= 1
    )


def test_the_access_log_is_one_line_per_request_as_text_or_json(predictor, capsys):
    text = TestClient(create_app(predictor, log="text"), base_url=LOCAL)
    before = datetime.datetime.now(datetime.UTC)
    answer = text.get("/api/health")
    text.get("/x%1b[2Jy")  # the server sees ESC in the decoded path
    lines = capsys.readouterr().err.splitlines()
    came, rest = lines[0].split(" ", 1)
    assert len(lines) == 2 and rest.startswith('testclient "GET /api/health" 200 ')
    assert (
        before - datetime.timedelta(seconds=1)
        < datetime.datetime.fromisoformat(came)
        <= before + (datetime.timedelta(seconds=60))
    )  # an ISO 8601 time stamp in UTC ("Z"), of the moment the request came
    assert came.endswith("Z") and lines[0].endswith(" " + answer.headers["x-request-id"])
    assert "\x1b" not in lines[1] and " 404 " in lines[1]  # a path's escapes are shown, never run
    as_json = TestClient(create_app(predictor, log="json"), base_url=LOCAL)
    answer = as_json.get("/api/health", headers={"X-Request-ID": "proxy-42.a"})  # a proxy's id goes on
    entry = json.loads(capsys.readouterr().err)
    assert entry["path"] == "/api/health" and entry["status"] == 200 and entry["ms"] >= 0
    assert entry["request_id"] == answer.headers["x-request-id"] == "proxy-42.a"
    assert datetime.datetime.fromisoformat(entry["time"]).tzinfo == datetime.UTC
    TestClient(create_app(predictor), base_url=LOCAL).get("/api/health")
    assert capsys.readouterr().err == ""  # the library's default: no log


def test_every_answer_has_its_own_request_id_and_a_client_s_is_kept_only_when_safe(predictor):
    client = TestClient(create_app(predictor), base_url=LOCAL)
    ids = [client.get("/api/health").headers["x-request-id"] for _ in range(3)]
    assert len(set(ids)) == 3 and all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)
    refused = client.get("/api/health", headers={"Host": "evil.example"})  # refusals are counted too
    assert refused.status_code == 400 and re.fullmatch("[0-9a-f]{32}", refused.headers["x-request-id"])
    for hostile in ('a" 200 0.1ms forged', "x" * 65, ""):  # a forged log line, too long, empty
        sent = client.get("/api/health", headers={"X-Request-ID": hostile}).headers["x-request-id"]
        assert sent != hostile and re.fullmatch("[0-9a-f]{32}", sent)


def test_the_batch_endpoint_answers_each_image_in_order(predictor, mnist):
    client = TestClient(create_app(predictor), base_url=LOCAL)
    files = [("files", (f"{i}.png", png_bytes(mnist.test.images[i].numpy()), "image/png")) for i in range(5)]
    files.insert(2, ("files", ("bad.png", b"not an image", "image/png")))
    files.append(("files", ("blank.png", png_bytes(np.zeros((28, 28), np.uint8)), "image/png")))
    response = client.post("/api/predict/batch", files=files)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 7 and "error" in results[2] and results[6]["digit"] is None
    digits = [r["digit"] for i, r in enumerate(results[:6]) if i != 2]
    assert digits == [
        Predictor.probs(predictor, mnist.test.images[i][None].numpy())[0].argmax().item() for i in range(5)
    ]
    too_many = [
        ("files", (f"{i}.png", png_bytes(mnist.test.images[0].numpy()), "image/png"))
        for i in range(MAX_BATCH_FILES + 1)
    ]
    assert client.post("/api/predict/batch", files=too_many).status_code == 422
    assert client.post("/api/predict/batch", json={"pixels": [0] * 784}).status_code == 415
    assert all("input" not in r for r in results)  # the images the model saw, only when asked
    asked = client.post("/api/predict/batch?include=input", files=files[:2]).json()["results"]
    assert [np.array(r["input"]).shape for r in asked] == [(28, 28)] * 2


def test_the_batch_cap_is_the_server_s_setting_and_the_schema_gives_its_number(predictor, mnist):
    client = TestClient(create_app(predictor, max_batch=3), base_url=LOCAL)
    files = [("files", (f"{i}.png", png_bytes(mnist.test.images[i].numpy()), "image/png")) for i in range(4)]
    assert len(client.post("/api/predict/batch", files=files[:3]).json()["results"]) == 3
    refused = client.post("/api/predict/batch", files=files)
    assert refused.status_code == 422 and "1 to 3 images" in refused.json()["detail"]
    schema = client.get("/openapi.json").text
    assert "Up to 3 images" in json.loads(schema)["paths"]["/api/predict/batch"]["post"]["description"]
    constants = [name for name in vars(digitlab.web.app) if re.fullmatch("[A-Z][A-Z_]{3,}", name)]
    assert "MAX_BATCH_FILES" in constants and [c for c in constants if c in schema] == []
    # the flag's default is the library's (written as a number in the CLI, which must not import fastapi)
    assert inspect.signature(serve).parameters["max_batch"].default.default == MAX_BATCH_FILES


def test_serve_max_batch_reaches_the_app_and_zero_is_a_usage_error(trained_model, monkeypatch):
    import torch

    import digitlab.web.server

    served = []
    monkeypatch.setattr(digitlab.web.server, "serve", lambda app, sock: served.append(app) or sock.close())
    threads = torch.get_num_threads()
    try:
        result = cli("serve", str(trained_model), "--port", "0", "--max-batch", "5")
    finally:
        torch.set_num_threads(threads)  # serve sets one thread for the process it runs in
    assert result.returncode == 0, result.stderr
    schema = TestClient(served[0], base_url=LOCAL).get("/openapi.json").json()
    assert schema["paths"]["/api/predict/batch"]["post"]["description"].startswith("Up to 5 images")
    refused = cli("serve", str(trained_model), "--max-batch", "0")
    assert refused.returncode == 2 and "--max-batch" in refused.stderr


def test_openapi_describes_the_request_bodies(predictor):
    paths = TestClient(create_app(predictor), base_url=LOCAL).get("/openapi.json").json()["paths"]
    predict = paths["/api/predict"]["post"]["requestBody"]["content"]
    assert set(predict) == {"multipart/form-data", "application/json"}
    assert "pixels" in predict["application/json"]["schema"]["properties"]
    batch = paths["/api/predict/batch"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert batch["schema"]["properties"]["files"]["type"] == "array"


@pytest.mark.slow  # two worker processes start (torch imported in each): about 15 s
def test_two_workers_share_the_port_and_add_up_their_metrics(trained_model, mnist, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "digitlab", "serve", str(trained_model), "--port", str(port), "--workers", "2",
         "--no-access-log"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "/api/health", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        body = json.dumps({"pixels": mnist.test.images[0].tolist()}).encode()
        for _ in range(20):
            request = urllib.request.Request(url + "/api/predict", body, {"Content-Type": "application/json"})
            assert json.loads(urllib.request.urlopen(request).read())["digit"] == 7
        metrics = urllib.request.urlopen(url + "/metrics").read().decode()
        assert _metric(metrics, "digitlab_requests_total", route="/api/predict", status="200") == 20
    finally:
        server.terminate()  # SIGTERM, as a service manager stops it: the workers stop with it
        out, err = server.communicate(timeout=30)
    assert "2 worker processes" in out and "Traceback" not in err
    with pytest.raises(OSError):  # nobody answers any more: no worker was left behind
        urllib.request.urlopen(url + "/api/health", timeout=2)
