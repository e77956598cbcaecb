"""What the fuzz suites share: Hypothesis's profiles (`make fuzz` sets HYPOTHESIS_PROFILE=fuzz), the property
every reader must have, and byte mutations of valid inputs."""

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from digitlab.errors import DigitlabError

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "digitlab-hypothesis")  # not in the repository
settings.register_profile("test", max_examples=40, deadline=None, derandomize=True, database=None)
settings.register_profile("fuzz", max_examples=3000, deadline=None, database=None)  # nothing left in the repo
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "test"))
SLOW = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def one_line_naming(error: Exception, name: str) -> None:
    assert isinstance(error, DigitlabError), repr(error)
    assert str(error).startswith(name) and "\n" not in str(error)


def mutated(data: bytes, draw) -> bytes:
    """`data` with a few bytes flipped, cut, inserted or dropped."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "drop"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at]
    return bytes(data)
