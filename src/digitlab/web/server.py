"""Running the app with uvicorn, with the limits a public server needs.

uvicorn closes idle keep-alive connections, but not a connection that sends its request
headers a byte at a time: thousands of those would be held open for ever. Here every
request must deliver its headers within HEADER_TIMEOUT seconds, and the number of
connections at once is capped (uvicorn answers 503 past the cap).
"""

import asyncio

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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


def serve(app, host: str, port: int) -> None:
    uvicorn.Server(server_config(app, host, port)).run()
