"""What the server does to defend the user's browser and itself.

A server on 127.0.0.1 is reachable from every web page the user opens: a page on another site can
POST to it (cross-site request forgery) and, through a DNS name it points at 127.0.0.1, read its
answers (DNS rebinding). So requests must name an allowed host, state-changing ones must come from
the server's own page, and every response tells the browser to run nothing else and frame nothing.
"""

import asyncio

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse

# The page loads its own script and style and draws on canvases; uploads are shown through blob: URLs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",  # an upload is never sniffed into a script
    "x-frame-options": "DENY",  # no other page frames this one (clickjacking)
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


class SecurityHeaders:
    """ASGI middleware adding HEADERS to every response, errors and refusals included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def default_hosts(bind: str) -> list[str]:
    """The Host headers a server bound to `bind` answers by default: its address and localhost."""
    hosts = list(LOCAL_HOSTS)
    if bind not in ("0.0.0.0", "::", "") and bind not in hosts:
        hosts.append(f"[{bind}]" if ":" in bind else bind)
    return hosts


def same_origin(request: Request, allowed_origins: list[str]) -> bool:
    """Whether a request comes from the server's own page (or from no browser page at all).

    Browsers say where a request comes from: `Sec-Fetch-Site` (modern ones) and `Origin` (on every
    POST). A script or curl sends neither and is the user's own doing.
    """
    origin = request.headers.get("origin")
    if origin is not None and origin in allowed_origins:
        return True
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    host = request.headers.get("host", "")
    return origin is None or origin in (f"http://{host}", f"https://{host}")


class DrainBody:
    """ASGI middleware: an answer given before the request's body was read to its end (a 413, a 503
    of ShedLoad, any early refusal) first reads and drops the rest of it, up to `most` bytes.

    A server that answers and closes while its client is still sending resets the connection, and
    the client (Python's urllib, which always asks to close) sees a broken pipe, not the answer.
    Past `most` bytes the connection is closed anyway: a client may not make the server read forever.
    """

    def __init__(self, app, most: int):
        self.app, self.most = app, most

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ended = False  # the body was read to its end, or the client left

        async def receiving():
            nonlocal ended
            message = await receive()
            ended = ended or message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def sending(message):
            nonlocal ended
            if message["type"] == "http.response.start" and not ended:
                ended = True
                await _drain(receive, self.most)
            await send(message)

        await self.app(scope, receiving, sending)


async def _drain(receive, most: int) -> None:
    """Read and drop the rest of a request's body: until its end, the client leaves, or `most` bytes."""
    seen = 0
    while seen <= most:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        seen += len(message.get("body", b""))


class ShedLoad:
    """ASGI middleware answering 503 with Retry-After to requests for `paths` while `capacity` is full,
    before anything of them is read or routed: a refusal must cost far less than an answer."""

    def __init__(self, app, capacity: "Capacity", paths: tuple[str, ...]):
        self.app, self.capacity, self.paths = app, capacity, paths

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] in self.paths and self.capacity.full():
            busy = JSONResponse({"detail": "busy: try again in a second"}, 503, {"Retry-After": "1"})
            return await busy(scope, receive, send)
        return await self.app(scope, receive, send)


class Capacity:
    """Whether the server is past what it can answer promptly, judged before a request is read.

    Requests queue in two places: before the event loop reads them (it is busy decoding others),
    and in the app, waiting for the model. A timer measures the first: how late the loop runs a
    callback due every TICK seconds (its lag, smoothed); the app counts the second. Past either
    limit a request is answered 503 at once, at the cost of its headers alone: a fast "come back"
    rather than seconds in a queue. Slow clients cost neither: an idle socket adds no lag.
    """

    TICK = 0.01

    def __init__(self, max_in_flight: int, max_lag: float):
        self.max_in_flight, self.max_lag = max_in_flight, max_lag
        self.in_flight, self.lag, self.watcher = 0, 0.0, None

    def full(self) -> bool:
        if self.watcher is None:  # the first request starts the watch, on the server's own loop
            self.watcher = asyncio.get_running_loop().create_task(self._watch())
        return self.lag > self.max_lag or self.in_flight >= self.max_in_flight

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.TICK
            await asyncio.sleep(self.TICK)
            self.lag = 0.7 * self.lag + 0.3 * max(0.0, loop.time() - due)
