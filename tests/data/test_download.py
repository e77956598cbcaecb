import functools
import hashlib
import http.server
import threading

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
    paths = download("mnist", tmp_path / "out", mirrors=[dead, mirror], checksums=md5_of_bundled())
    assert len(paths) == 4
    assert all(p.read_bytes() == (bundled_mnist_dir() / p.name).read_bytes() for p in paths)


def test_checksum_mismatch_writes_nothing(mirror, tmp_path):
    wrong = dict.fromkeys(md5_of_bundled(), "0" * 32)
    with pytest.raises(DigitlabError, match="checksum mismatch"):
        download("mnist", tmp_path / "out", mirrors=[mirror], checksums=wrong)
    assert not any((tmp_path / "out").glob("*.gz"))


def test_unknown_dataset(tmp_path):
    with pytest.raises(DigitlabError, match="unknown dataset"):
        download("cifar", tmp_path)
