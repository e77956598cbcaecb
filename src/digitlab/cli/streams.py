"""The standard streams as a command-line tool needs them, set up before any command runs.

A name the terminal's encoding cannot show is printed escaped (`PYTHONIOENCODING=ascii`: `\\xe9`), never a
UnicodeEncodeError; a reader that stops early (`digitlab predict ... | head -1`) ends the command quietly,
as it ends `cat`; standard output that cannot be written (closed, a full disk) is one line naming it.
"""

import contextlib
import io
import os
import signal
import sys

# The status a shell reports for a program stopped by writing to a pipe nobody reads (cat's: 141)
SIGPIPE_STATUS = 128 + signal.SIGPIPE


class OutputFailed(Exception):
    """Writing standard output failed: its reader has gone, or it takes no more (`error` says which).

    Not an OSError: Click would end the command on a broken pipe with exit 1 and no word, whatever the pipe.
    """

    def __init__(self, error: OSError):
        super().__init__(error.strerror)
        self.error = error


def prepare() -> bool:
    """Hold descriptors 0-2, escape what the encoding lacks, watch standard output; False: it is closed."""
    _hold_standard_descriptors()
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")  # a name in any encoding: escaped, never an error
    if sys.stdout is None:  # started with `>&-`: the results would go nowhere
        return False
    if not isinstance(sys.stdout, _WatchedOutput):
        sys.stdout = _WatchedOutput(sys.stdout)
    return True


def drop_output(console) -> None:
    """What is still buffered for standard output goes nowhere: no second error when Python exits, and
    no stale line from the Rich console (what its failed print kept) at the front of a later print."""
    console.begin_capture()
    console.end_capture()  # Rich's own way to take its buffer out: returned here, and dropped
    with contextlib.suppress(AttributeError, OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def _hold_standard_descriptors() -> None:
    """A closed descriptor 0, 1 or 2 gets /dev/null: the next file digitlab opens must not take its
    number, or what is meant for the terminal (a child process's output) would land in that file."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: `fd` itself
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


class _WatchedOutput:
    """sys.stdout, whose failed write or flush raises OutputFailed; everything else is the stream's own."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as e:
            raise OutputFailed(e) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as e:
            raise OutputFailed(e) from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
