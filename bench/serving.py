"""Serving capacity: `digitlab serve` on 127.0.0.1 under clients posting PNG drawings, at the loads a
reader sizes a deployment by (1 and 2 workers at 8 and 32 clients), and the load where it starts
shedding requests (503, or 429) instead of queueing them."""

import contextlib
import functools
import http.client
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
from PIL import Image

from bench.stamp import figures
from bench.timing import command_line, interleaved
from digitlab.data import load_source
from digitlab.data.decode import png_bytes
from digitlab.web.app import MAX_IN_FLIGHT, MAX_LAG

Load = dict[str, float]  # one load's figures: answered, shed, errors, requests/s, p50 and p99 ms ...
SHED = (503, 429)  # the server's "come back later" answers: counted apart from errors, and timed
# name: (serve --workers, --batch-ms); batching off is the comparison that shows what batching buys
SERVERS = {"1 worker": (1, 2.0), "2 workers": (2, 2.0), "1 worker, batching off": (1, 0.0)}
CLIENTS = (8, 32)
RAMP = (32, 64, 128, 256, 512)  # clients, each for RAMP_S, until the server sheds
RAMP_S = 10.0


def drawing_png() -> bytes:
    """A test digit as a 280x280 canvas export would send it: dark strokes on white."""
    digit = load_source("mnist").test.images[0].numpy()  # type: ignore[union-attr]  # MNIST has a test set
    return png_bytes(Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BICUBIC))


@contextlib.contextmanager
def server(model_dir: str, workers: int = 1, batch_ms: float = 2.0, engine: str = "torch") -> Iterator[int]:
    """`digitlab serve` in a process of its own, as a user starts it; yields its port."""
    port = _free_port()
    flags = ["--port", str(port), "--engine", engine, "--batch-ms", str(batch_ms), "--workers", str(workers)]
    command = [sys.executable, "-m", "digitlab", "serve", str(model_dir), *flags, "--no-access-log"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(port)
        yield port
    finally:
        process.terminate()  # SIGTERM: the workers stop with it, as a user's Ctrl+C stops them
        try:
            process.wait(timeout=60)  # a busy machine takes its time
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load(port: int, requests: int, clients: int, timeout_s: float = 120) -> Load:
    """`requests` POSTs of a drawing from `clients` concurrent keep-alive connections (or as many as
    `timeout_s` allows). Told 503 or 429, a client waits as long as Retry-After says, as the page does."""
    body, boundary = _multipart(drawing_png())
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    answered: list[float] = []
    shed: list[float] = []
    errors: list[float] = []  # no answer (the connection failed), or one neither 200 nor a shed
    lock = threading.Lock()
    deadline = time.monotonic() + timeout_s

    def client(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            start, wait = time.perf_counter(), 0.0
            try:
                conn.request("POST", "/api/predict", body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                wait = float(response.getheader("Retry-After") or 1) if status in SHED else 0.0
            except OSError:
                status, conn = None, http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            seconds = time.perf_counter() - start
            with lock:
                (answered if status == 200 else shed if status in SHED else errors).append(seconds)
            time.sleep(wait)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(requests // clients + (i < requests % clients),))
               for i in range(clients)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _summary(answered, shed, len(errors), clients, time.perf_counter() - start)


def _summary(answered: list[float], shed: list[float], errors: int, clients: int, wall: float) -> Load:
    ms = np.array(answered or [float("nan")]) * 1000
    return {
        "clients": clients,
        "answered": len(answered),
        "shed": len(shed),
        "errors": errors,
        "seconds": wall,
        "requests_per_s": len(answered) / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def web_load(model_dir: str, requests: int = 1000, clients: int = 8, engine: str = "torch") -> Load:
    """One server, one load: `requests` POSTs from `clients` clients."""
    with server(model_dir, engine=engine) as port:
        return load(port, requests, clients)


def capacity(model_dir: str, rounds: int = 3, requests: int = 600) -> dict[tuple[str, int], list[Load]]:
    """Per server kind and number of clients, `rounds` loads of `requests` POSTs: the server kinds
    interleaved round by round (one start a round serves both numbers of clients)."""

    def one(workers: int, batch_ms: float) -> dict[int, Load]:
        with server(model_dir, workers, batch_ms) as port:
            load(port, 2 * max(CLIENTS), max(CLIENTS))  # warm-up: the model's first calls are slow
            return {n: load(port, requests, n) for n in CLIENTS}

    sides = {name: functools.partial(one, w, b) for name, (w, b) in SERVERS.items()}
    runs = interleaved(sides, rounds)
    return {(name, n): [r[n] for r in rs] for name, rs in runs.items() for n in CLIENTS}


def ramp(model_dir: str, levels: tuple[int, ...] = RAMP, seconds: float = RAMP_S) -> list[Load]:
    """`serve` as it starts by default (1 worker), under more clients a level, each level for
    `seconds`, until a level where the server sheds load: the levels measured, in order."""
    measured = []
    with server(model_dir) as port:
        for clients in levels:
            measured.append(load(port, clients * 1_000_000, clients, timeout_s=seconds))
            if measured[-1]["shed"]:
                break
    return measured


SLUGS = {"1 worker": "w1", "2 workers": "w2", "1 worker, batching off": "off"}  # figure keys


def capacity_section(model_dir: str, command: str = "", quick: bool = False) -> str:
    """The capacity table, then the ramp to the load where shedding starts."""
    rounds, requests = (1, 100) if quick else (3, 600)
    runs = capacity(model_dir, rounds, requests)
    levels = ramp(model_dir, (16, 64) if quick else RAMP, 2.0 if quick else RAMP_S)
    rows, figs = [], dict[str, str]()
    for (name, n), rs in runs.items():
        rps = [r["requests_per_s"] for r in rs]
        p50, p99 = (statistics.median(r[k] for r in rs) for k in ("p50_ms", "p99_ms"))
        shed, errors = (sum(r[k] for r in rs) for k in ("shed", "errors"))
        rows.append(
            f"| {name} | {n} | {statistics.median(rps):.0f} | {min(rps):.0f} | {p50:.1f} | {p99:.1f} "
            f"| {shed:.0f} | {errors:.0f} |"
        )
        key = f"{SLUGS[name]}_c{n}"
        figs |= {f"{key}_rps": f"{statistics.median(rps):.0f}", f"{key}_p99": f"{p99:.1f} ms"}
    ramp_rows = [
        f"| {r['clients']} | {r['answered']:,} | {r['requests_per_s']:.0f} | {r['p50_ms']:.0f} | "
        f"{r['p99_ms']:.0f} | {r['shed']:,} | {r['errors']} |"
        for r in levels
    ]
    return (
        "## Serving capacity: workers, clients and where load shedding starts\n\n"
        + command_line(command)
        + f"`digitlab serve` with a 1-epoch fast-preset model on 127.0.0.1; clients are keep-alive "
        "connections (threads of the bench, on the same cores as the server) each posting a 280x280 PNG "
        "drawing (single-image `POST /api/predict`) as soon as the last answer came. Batching is the "
        "default (`--batch-ms 2`: digits arriving within 2 ms share one model call); batching off is "
        f"`--batch-ms 0`. The server sheds (503 with Retry-After) while its event loop runs over "
        f"{MAX_LAG * 1000:.0f} ms late or {MAX_IN_FLIGHT} requests are being decoded or predicted. "
        f"Per row {rounds} round(s) of "
        f"{requests} requests after a warm-up, the three servers interleaved round by round; medians of "
        "the rounds, and the lowest requests/s; 503/429 and errors: summed over the rounds.\n\n"
        "| server | clients | requests/s (median) | requests/s (min) | p50 ms | p99 ms | 503/429 | errors |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n" + _shedding(levels) + "\n\n"
        "| clients | answered | answered/s | p50 ms | p99 ms | 503/429 | errors |\n"
        "|---|---|---|---|---|---|---|\n"
        + "\n".join(ramp_rows)
        + "\n"
        + figures(**figs, **_shed_figures(levels))
    )


def _shedding(levels: list[Load]) -> str:
    """Where shedding started in the ramp, as the ramp measured it."""
    seconds = f"{levels[0]['seconds']:.0f} s a level"
    last = levels[-1]
    if not last["shed"]:
        return (
            f"Ramp (`serve` with 1 worker, {seconds}): no level up to {last['clients']} clients was "
            f"shed; the server queued every request (p99 {last['p99_ms']:.0f} ms at {last['clients']})."
        )
    before = f"; at {levels[-2]['clients']} none was" if len(levels) > 1 else ""
    share = last["shed"] / (last["shed"] + last["answered"])
    return (
        f"Ramp (`serve` with 1 worker, {seconds}, stopped at the first level shed): load shedding starts "
        f"at **{last['clients']} clients**, where {100 * share:.1f}% of the answers were 503 or 429{before}."
    )


def _shed_figures(levels: list[Load]) -> dict[str, str]:
    """Where shedding started, as the words a page quotes: the ramp decides which."""
    last = levels[-1]
    said = f"shedding started at {last['clients']} clients" if last["shed"] else "no level was shed"
    return {"shedding": said, "ramp_top": f"{last['clients']}"}


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
        return int(s.getsockname()[1])


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
