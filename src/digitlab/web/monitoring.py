"""What a server in production reports: Prometheus metrics at /metrics, one log line per request.

Metrics (prometheus-client): requests by route and status, their latency, the size of each model
call's batch. A route is one of the app's own paths or "other": a client choosing the URL never
creates a new time series. With `serve --workers N` every worker writes its numbers to a shared
folder (prometheus-client's multiprocess mode) and /metrics adds them up, whichever worker answers.

The access log goes to stderr, one line per request: the time it came (ISO 8601, UTC), client,
method, path, status, milliseconds and its request id, as text (the path's control characters
escaped) or, with --log-json, as a JSON object. The request id is also the answer's `X-Request-ID`
header: a client's (or a proxy's) own id when it sends one of a safe form, else a new random one.
"""

import datetime
import json
import os
import re
import sys
import time
import uuid

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from digitlab.errors import plain

ROUTES = ("/", "/docs", "/api/predict", "/api/predict/batch", "/api/explain", "/api/samples",
          "/api/health", "/api/model", "/metrics", "/openapi.json")  # fmt: skip
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by `serve --workers` before the workers start
# A request id a client may choose: it goes into log lines and a header, so no spaces, quotes or
# control characters, and a bounded length
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

REGISTRY = CollectorRegistry()  # this app's own metrics, not the process-wide default registry
REQUESTS = Counter("digitlab_requests", "HTTP requests answered", ["route", "status"], registry=REGISTRY)
LATENCY = Histogram(
    "digitlab_request_seconds", "Time from a request's start to its answer", ["route"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
BATCH = Histogram(
    "digitlab_batch_images",
    "Images per model call",
    registry=REGISTRY,
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def route(path: str) -> str:
    if path in ROUTES:
        return path
    return "/static" if path.startswith("/static/") else "other"


def metrics_page() -> tuple[bytes, str]:
    """The text /metrics answers: this process's numbers, or every worker's added up."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class Monitor:
    """ASGI middleware: counts and times every HTTP request and writes its log line (or none)."""

    def __init__(self, app, log: str = "text"):
        self.app, self.log = app, log  # "text", "json" or "none"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]
        came = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        request_id = request_id_of(scope)

        async def watched_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            seconds = time.perf_counter() - start
            name = route(scope["path"])
            REQUESTS.labels(name, str(status[0])).inc()
            LATENCY.labels(name).observe(seconds)
            self._write(scope, came, request_id, status[0], seconds)

    def _write(self, scope, came: str, request_id: str, status: int, seconds: float) -> None:
        if self.log == "none":
            return
        client = (scope.get("client") or ("-", 0))[0]
        method, path = scope["method"], scope["path"]
        if self.log == "json":
            fields = {"time": came, "client": client, "method": method, "path": path, "status": status}
            line = json.dumps(fields | {"ms": round(seconds * 1000, 2), "request_id": request_id})
        else:
            line = f'{came} {client} "{method} {plain(path)}" {status} {seconds * 1000:.1f}ms {request_id}'
        print(line, file=sys.stderr, flush=True)


def request_id_of(scope) -> str:
    """The request's id: the client's `X-Request-ID` when it is of a safe form, else a new one."""
    sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
    return sent if CLIENT_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
