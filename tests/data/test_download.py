import functools
import hashlib
import http.server
import socket
import threading
import time

import pytest

from digitlab.data.download import download
from digitlab.data.sources import bundled_mnist_dir
from digitlab.errors import DigitlabError


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server on 127.0.0.1 serving the bundled files, as a mirror would."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=bundled_mnist_dir())
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def md5_of_bundled() -> dict[str, str]:
    root = bundled_mnist_dir()
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(root.glob("*.gz"))}


def test_download_verifies_and_falls_back_to_the_next_mirror(mirror, tmp_path):
    dead = "http://127.0.0.1:9/"  # nothing listens on the discard port
    seen = []
    paths = download(
        "mnist", tmp_path / "out", mirrors=[dead, mirror], checksums=md5_of_bundled(),
        progress=lambda name, size, total: seen.append((name, size, total)),
    )  # fmt: skip
    assert len(paths) == 4
    assert all(p.read_bytes() == (bundled_mnist_dir() / p.name).read_bytes() for p in paths)
    for p in paths:  # each file reported as it arrived, up to its whole size, which the server announced
        sizes = [size for name, size, total in seen if name == p.name]
        assert sizes == sorted(sizes) and sizes[-1] == p.stat().st_size
        assert {total for name, _, total in seen if name == p.name} == {p.stat().st_size}


def test_a_mirror_that_sends_too_much_is_cut_off(mirror, tmp_path, monkeypatch):
    import digitlab.data.download as module

    monkeypatch.setattr(module, "MAX_BYTES", 1000)
    with pytest.raises(DigitlabError, match="over 1,000 bytes"):
        download("mnist", tmp_path / "out", mirrors=[mirror], checksums=md5_of_bundled())


def test_checksum_mismatch_writes_nothing(mirror, tmp_path):
    wrong = dict.fromkeys(md5_of_bundled(), "0" * 32)
    with pytest.raises(DigitlabError, match="checksum mismatch"):
        download("mnist", tmp_path / "out", mirrors=[mirror], checksums=wrong)
    assert not any((tmp_path / "out").glob("*.gz"))


def test_a_file_of_the_users_under_a_datasets_name_is_refused_not_replaced(mirror, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "t10k-labels-idx1-ubyte.gz"
    mine.write_bytes(b"my own labels")
    with pytest.raises(DigitlabError, match="exists and is not mnist's t10k-labels-idx1-ubyte.gz"):
        download("mnist", out, mirrors=[mirror], checksums=md5_of_bundled())
    assert mine.read_bytes() == b"my own labels" and sorted(p.name for p in out.iterdir()) == [mine.name]
    mine.unlink()
    download("mnist", out, mirrors=[mirror], checksums=md5_of_bundled())  # the dataset's: kept, not fetched
    again = download("mnist", out, mirrors=["http://127.0.0.1:9/"], checksums=md5_of_bundled())
    assert len(again) == 4


def test_unknown_dataset(tmp_path):
    with pytest.raises(DigitlabError, match="unknown dataset"):
        download("cifar", tmp_path)


@pytest.fixture
def silent_mirror():
    """A server on 127.0.0.1 that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"


@pytest.fixture
def trickling_mirror():
    """A server on 127.0.0.1 that announces a file, then sends it a byte every 50 ms."""
    server, stop = socket.create_server(("127.0.0.1", 0)), threading.Event()

    def answer():
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not stop.wait(0.05):
                try:
                    connection.sendall(b"x")
                except OSError:  # the client gave up
                    return

    threading.Thread(target=answer, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    stop.set()
    server.close()


def test_a_mirror_that_never_answers_costs_the_timeout(silent_mirror, tmp_path):
    start = time.monotonic()
    with pytest.raises(DigitlabError, match="timed out"):
        download("mnist", tmp_path, mirrors=[silent_mirror], checksums=md5_of_bundled(), timeout=0.5)
    assert time.monotonic() - start < 0.5 + 1  # one file's request, then no mirror is left; 1 s of slack


def test_a_mirror_that_sends_a_byte_at_a_time_is_given_up_at_the_deadline(
    trickling_mirror, tmp_path, monkeypatch
):
    import digitlab.data.download as module

    monkeypatch.setattr(module, "DEADLINE", 1.0)
    start = time.monotonic()
    with pytest.raises(DigitlabError, match=r"took over 1 s, with \d+ bytes of .* received"):
        download("mnist", tmp_path, mirrors=[trickling_mirror], checksums=md5_of_bundled(), timeout=5)
    assert time.monotonic() - start < 1.0 + 1  # each read waits 50 ms (under the 5 s timeout); 1 s of slack
    assert not any(tmp_path.glob("*.gz"))
