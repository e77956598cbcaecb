"""What the server does to defend the user's browser and itself.

A server on 127.0.0.1 is reachable from every web page the user opens: a page on another site can
POST to it (cross-site request forgery) and, through a DNS name it points at 127.0.0.1, read its
answers (DNS rebinding). So requests must name an allowed host, state-changing ones must come from
the server's own page, and every response tells the browser to run nothing else and frame nothing.
"""

from starlette.datastructures import MutableHeaders
from starlette.requests import Request

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
