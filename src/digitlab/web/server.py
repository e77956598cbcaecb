"""Running the app with uvicorn, with the limits a public server needs.

uvicorn closes idle keep-alive connections, but not a connection that sends its request a byte
at a time, its headers or its body: hundreds of those would hold every place of the server for
as long as they like. Here every request must arrive whole, headers and body, within
REQUEST_TIMEOUT seconds of its first byte (or of the connection); the connection is closed
otherwise. The number of connections at once is capped (uvicorn answers 503 past the cap), far
above what slow clients can hold within the deadline while real ones are served.
"""

import asyncio
import resource
import socket

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from digitlab.errors import DigitlabError

REQUEST_TIMEOUT = 20.0  # seconds for a request's headers and body to arrive (2 MB at 100 KB/s)
KEEP_ALIVE = 5  # seconds an idle connection stays open
MAX_CONNECTIONS = 2048  # connections and requests in flight at once


class RequestTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections whose request does not arrive whole in time."""

    request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self.request_timer = self.loop.call_later(REQUEST_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self.request_timer is not None:
            self.request_timer.cancel()
            self.request_timer = None

    def _too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def server_config(app, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", http=RequestTimeoutProtocol,
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
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < MAX_CONNECTIONS + 64:  # a socket is a file descriptor
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, MAX_CONNECTIONS + 64), hard))
    host, port = sock.getsockname()[:2]
    uvicorn.Server(server_config(app, host, port)).run(sockets=[sock])


def serve_workers(settings: dict, sock: socket.socket, workers: int) -> None:
    """`serve --workers N`: N processes answer on the one listening socket (the kernel hands each
    connection to one of them), each with its own model, batcher and event loop. Their metrics
    meet in a temporary folder, so /metrics adds up all of them; Ctrl+C stops them all.
    Workers stop when this process dies; when every worker has stopped unasked, this fails naming why.

    `settings`: what `worker` needs to build the app (model folder, engine, create_app's keywords).
    """
    import multiprocessing
    import os
    import shutil
    import signal
    import tempfile

    from digitlab.run.processes import clean_children
    from digitlab.web.monitoring import MULTIPROCESS_ENV

    folder = tempfile.mkdtemp(prefix="digitlab-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder  # inherited by the workers, read before they count anything
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads of ours forked
    processes = [spawn.Process(target=worker, args=(settings, sock)) for _ in range(workers)]
    stopping = []  # a stop was asked for (SIGTERM or Ctrl+C): workers ending then is no failure

    def stop(signum, frame) -> None:  # SIGTERM (a service manager's stop): each worker stops as on Ctrl+C
        stopping.append(signum)
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)
    try:
        with clean_children():  # each imports what this process would, never the current folder's modules
            for process in processes:
                process.start()
        for process in processes:
            process.join()
    except KeyboardInterrupt:  # the workers got the Ctrl+C too, and are finishing their requests
        stopping.append(signal.SIGINT)
        for process in processes:
            process.join(timeout=10)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        shutil.rmtree(folder, ignore_errors=True)
    if not stopping:
        ends = ", ".join(f"pid {p.pid} {_how_it_ended(p.exitcode)}" for p in processes)
        raise DigitlabError(f"every worker has stopped ({ends}): nothing is serving")


def _how_it_ended(code: int | None) -> str:
    """A process's exit code in words: 'exited with code 1', 'was killed by SIGKILL'."""
    if code is not None and code < 0:
        import signal

        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


GRACE = 10.0  # seconds a worker whose parent died has to finish its requests before it exits anyway


def _exit_with_parent() -> None:
    """Run in a thread of each worker: once the parent process is gone (its end of multiprocessing's
    pipe closes, whatever killed it), stop serving as on SIGTERM, and exit after GRACE seconds anyway."""
    import multiprocessing
    import os
    import signal
    import time

    parent = multiprocessing.parent_process()
    if parent is None:  # not started by serve_workers
        return
    parent.join()  # returns when the pipe closes: the parent has exited or was killed
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE)
    os._exit(1)


def worker(settings: dict, sock: socket.socket) -> None:
    """One worker of `serve_workers`: load the model, build the app, serve until stopped (or the
    parent is gone)."""
    import signal
    import threading

    import torch

    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app

    threading.Thread(target=_exit_with_parent, daemon=True, name="exit-with-parent").start()
    torch.set_num_threads(1)
    predictor = Predictor.load(
        settings["model"], settings["engine"], settings["trust_code"], settings["as_is"]
    )
    try:
        serve(create_app(predictor, **settings["app"]), sock)
    except KeyboardInterrupt:  # uvicorn raises the Ctrl+C again once it has shut down
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a stopped worker exits quietly
