"""Running the app with uvicorn, with the limits a public server needs.

uvicorn closes idle keep-alive connections, but not a connection that sends its request
headers a byte at a time: thousands of those would be held open for ever. Here every
request must deliver its headers within HEADER_TIMEOUT seconds, and the number of
connections at once is capped (uvicorn answers 503 past the cap).
"""

import asyncio
import socket

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from digitlab.errors import DigitlabError

HEADER_TIMEOUT = 10.0  # seconds for a request's headers to arrive
KEEP_ALIVE = 5  # seconds an idle connection stays open
MAX_CONNECTIONS = 256  # connections and requests in flight at once


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections whose headers do not arrive in time."""

    header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self.header_timer = self.loop.call_later(HEADER_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def server_config(app, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", http=HeaderTimeoutProtocol,
        timeout_keep_alive=KEEP_ALIVE, limit_concurrency=MAX_CONNECTIONS,
    )  # fmt: skip


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` before the server says it is serving. Left to uvicorn, a port in
    use is a log line after "serving on", and a port past 65535 hangs the server without a word."""
    sock = None
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)  # as uvicorn picks
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
        sock.bind((host, port))
        return sock
    except (OSError, OverflowError) as e:  # in use, not this machine's, no such name, out of range
        if sock is not None:
            sock.close()
        raise DigitlabError(f"cannot serve on {host}:{port}: {getattr(e, 'strerror', None) or e}") from None


def serve(app, sock: socket.socket) -> None:
    """Serve `app` on the socket `listen` bound until Ctrl+C."""
    host, port = sock.getsockname()[:2]
    uvicorn.Server(server_config(app, host, port)).run(sockets=[sock])
