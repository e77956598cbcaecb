"""Inference speed, and a bounded load test of the web API on 127.0.0.1."""

import http.client
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
from PIL import Image

from bench.timing import command_line, timed
from digitlab.data import load_source
from digitlab.data.decode import open_image, png_bytes
from digitlab.inference.predictor import Predictor


def drawing_png() -> bytes:
    """A test digit as a 280x280 canvas export would send it: dark strokes on white."""
    digit = load_source("mnist").test.images[0].numpy()
    return png_bytes(Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BICUBIC))


def inference(model_dir, repeats: int = 3, singles: int = 200) -> dict:
    predictor = Predictor.load(model_dir)
    images = load_source("mnist").test.images
    batched = statistics.median(timed(predictor.probs, images)[0] for _ in range(repeats))
    png = drawing_png()
    latencies = [timed(lambda: predictor.predict_image(open_image(png)))[0] for _ in range(singles)]
    return {
        "batched_images_per_s": len(images) / batched,
        "single_p50_ms": 1000 * statistics.median(latencies),
        "single_p99_ms": 1000 * float(np.percentile(latencies, 99)),
        "singles": singles,
    }


def web_load(
    model_dir,
    requests: int = 1000,
    clients: int = 8,
    timeout_s: float = 120,
    engine: str = "torch",
    batch_ms: float = 2.0,
    max_in_flight: int | None = None,
    workers: int = 1,
) -> dict:
    """`requests` POSTs of a drawing from `clients` concurrent keep-alive connections (or as many as
    `timeout_s` allows). A 503 is the server shedding load: counted apart from errors, and timed."""
    port = _free_port()
    command = ["serve", str(model_dir), "--port", str(port), "--engine", engine, "--batch-ms", str(batch_ms),
               "--workers", str(workers), "--no-access-log"]  # fmt: skip
    start_server = ["-m", "digitlab"]
    if max_in_flight is not None:  # the server's load-shedding threshold moved (a huge one: none)
        start_server = ["-c", "import sys, digitlab.web.app as a; "
                        f"a.MAX_IN_FLIGHT = a.MAX_LAG = {max_in_flight}; "
                        "from digitlab.cli import main; sys.argv[0] = 'digitlab'; main()"]  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, *start_server, *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(port)
        body, boundary = _multipart(drawing_png())
        latencies, shed, errors, lock = [], [], [], threading.Lock()
        per_client = [requests // clients + (i < requests % clients) for i in range(clients)]
        deadline = time.monotonic() + timeout_s

        def client(count):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for _ in range(count):
                if time.monotonic() > deadline:
                    break
                start = time.perf_counter()
                try:
                    conn.request(
                        "POST",
                        "/api/predict",
                        body,
                        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
                    )
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except OSError as e:
                    status, conn = None, http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    errors.append(str(e))
                with lock:
                    if status == 200:
                        latencies.append(time.perf_counter() - start)
                    elif status == 503:
                        shed.append(time.perf_counter() - start)
                    elif status is not None:
                        errors.append(f"status {status}")
                if status == 503:  # as the page does: ask again when the server says to
                    time.sleep(float(response.getheader("Retry-After") or 1))

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in per_client]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=10)
    ms = np.array(latencies) * 1000
    shed_ms = np.array(shed or [0.0]) * 1000
    return {
        "requests": len(latencies) + len(shed),
        "clients": clients,
        "errors": len(errors),
        "shed": len(shed),
        "shed_p99_ms": float(np.percentile(shed_ms, 99)),
        "seconds": wall,
        "requests_per_s": len(latencies) / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def batching(model_dir, requests: int = 1000, clients=(8, 50), repeats: int = 3) -> dict:
    """The web API with and without request batching, alternating, at each number of clients.

    Per setting the run with the median p99 of `repeats` runs is kept.
    """
    runs = {(n, ms): [] for n in clients for ms in (0.0, 2.0)}
    for _ in range(repeats):
        for n, ms in runs:
            runs[(n, ms)].append(web_load(model_dir, requests, n, batch_ms=ms))
    return {key: sorted(rs, key=lambda r: r["p99_ms"])[len(rs) // 2] for key, rs in runs.items()}


def many_clients(model_dir, clients: int = 200, seconds: float = 30, repeats: int = 2) -> dict:
    """`clients` keep-alive clients posting drawings for `seconds`, with and without load shedding,
    alternating; per setting the run with the lower p99 of `repeats` is kept. A client told 503
    waits as long as Retry-After says, as the page does."""
    runs = {"shedding (64 in flight)": [], "no shedding": []}
    for _ in range(repeats):
        for name in runs:
            limit = None if name.startswith("shedding") else 1 << 30
            runs[name].append(web_load(model_dir, clients * 100_000, clients, seconds, max_in_flight=limit))
    return {name: min(rs, key=lambda r: r["p99_ms"]) for name, rs in runs.items()}


def many_clients_section(model_dir, command: str = "") -> str:
    r = many_clients(model_dir)
    rows = "\n".join(
        f"| {name} | {v['requests'] - v['shed']:,} | {v['requests_per_s']:.0f} | {v['p50_ms']:.0f} | "
        f"{v['p99_ms']:.0f} | {v['max_ms']:.0f} | {v['shed']:,} | {v['shed_p99_ms']:.0f} | {v['errors']} |"
        for name, v in r.items()
    )
    n = next(iter(r.values()))["clients"]
    return (
        f"## Web server under {n} clients: load shedding\n\n" + command_line(command) + "`digitlab serve` "
        f"with the fast preset's model; {n} keep-alive clients (threads on the same 2-core machine, taking "
        "CPU from the server) post a 280x280 PNG drawing in a loop for 30 s; told 503, a client waits "
        "as long as Retry-After says, as the page does. With shedding (the default) the server answers "
        "503 at once while its event loop runs over 50 ms late or 64 requests are being decoded or "
        "predicted; without, every request queues. Runs alternate; per setting the run with the lower "
        "p99 of 2 is shown.\n\n"
        "| server | answered | answered/s | p50 ms | p99 ms | max ms | 503s | 503 p99 ms | errors |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + rows + "\n"
    )


def _multipart(png: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return head + png + f"\r\n--{boundary}--\r\n".encode(), boundary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not start")


def section(inf: dict, load: dict, command: str = "") -> str:
    return (
        "## Inference and the web API\n\n" + command_line(command) + "A 1-epoch fast-preset CNN.\n\n"
        "- batched prediction (10,000 test images, batches of 1,000): "
        f"**{inf['batched_images_per_s']:,.0f}** images/s\n"
        f"- one 280x280 PNG drawing, decode + MNIST-style preprocessing + prediction: p50 "
        f"{inf['single_p50_ms']:.1f} ms, p99 {inf['single_p99_ms']:.1f} ms ({inf['singles']} runs)\n"
        f"- load test on 127.0.0.1: {load['requests']:,} POST /api/predict requests of that drawing from "
        f"{load['clients']} concurrent clients: {load['errors']} errors, {load['requests_per_s']:.0f} req/s, "
        f"p50 {load['p50_ms']:.1f} ms, **p99 {load['p99_ms']:.1f} ms**, max {load['max_ms']:.1f} ms\n"
    )


def batching_section(model_dir, command: str = "") -> str:
    r = batching(model_dir)
    rows = "\n".join(
        f"| {n} | {'off (one model call per request)' if ms == 0 else f'{ms:g} ms window'} | "
        f"{v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {v['requests_per_s']:.0f} | {v['errors']} |"
        for (n, ms), v in r.items()
    )
    run = command_line(command)
    return (
        "## Web server under load: request batching\n\n" + run + "`digitlab serve` with the fast preset's "
        "model; 1,000 POSTs of a 280x280 PNG drawing per run from N concurrent keep-alive clients (threads "
        "on the same 2-core machine, so the clients take CPU from the server); batching off is what the "
        "server did before (`--batch-ms 0`), on is the default (`--batch-ms 2`: digits arriving within "
        "2 ms share one model call, run in a worker thread). Runs alternate; per setting the run with "
        "the median p99 of 3 is shown.\n\n"
        "| clients | batching | p50 ms | p99 ms | requests/s | errors |\n|---|---|---|---|---|---|\n"
        f"{rows}\n"
    )


def workers_section(model_dir, command: str = "", requests: int = 2000, clients: int = 16) -> str:
    """The same load on `serve --workers 1` and `--workers 2`, alternating, two rounds each."""
    rows: dict[int, list[dict]] = {1: [], 2: []}
    for _ in range(2):
        for workers in (1, 2):
            rows[workers].append(web_load(model_dir, requests, clients, workers=workers))
    lines = [
        f"| {w} | {statistics.median(r['requests_per_s'] for r in runs):.0f} | "
        f"{statistics.median(r['p50_ms'] for r in runs):.1f} | "
        f"{statistics.median(r['p99_ms'] for r in runs):.1f} | "
        f"{sum(r['errors'] for r in runs)} |"
        for w, runs in rows.items()
    ]
    return (
        "## Serving with one and two worker processes\n\n"
        + command_line(command)
        + f"{requests} POSTs of a 280x280 drawing from {clients} keep-alive clients on 127.0.0.1 to "
        "`digitlab serve --workers N` (fast model, batching on), medians of two rounds, alternating; "
        "the clients run on the same 2 cores as the server.\n\n"
        "| workers | requests/s | p50 ms | p99 ms | errors |\n| --- | --- | --- | --- | --- |\n"
        + "\n".join(lines)
        + "\n"
    )
