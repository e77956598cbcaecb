"""The `digitlab` command: parses flags, calls the library, formats the output. Nothing more.

Each command is a plain function in the module of its group; they are all registered here, in the
order `digitlab --help` lists them.
"""

import atexit
import contextlib
import os
import sys
import threading
import warnings
from typing import Any, NoReturn

import typer
from rich.markup import escape

from digitlab.cli import (
    data_commands,
    explain_command,
    model_commands,
    practice_commands,
    streams,
    tool_commands,
    train_commands,
)
from digitlab.cli.common import legacy_channels
from digitlab.errors import DigitlabError, TrainingDiverged, plain

app = typer.Typer(
    add_completion=True,  # digitlab --install-completion / --show-completion
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Handwritten digit recognition built from scratch on PyTorch.",
)
data_app = typer.Typer(no_args_is_help=True, help="Inspect, show and download data sources.")


class State:
    debug = False  # set by --debug, read by main()


def _version(value: bool) -> None:
    if value:
        from digitlab.version import __version__

        print(f"digitlab {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print digitlab's version and exit."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Results and errors only: no tables or progress."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also the resolved settings and the seconds per stage."
    ),
):
    """digitlab: the fast.ai MNIST lesson, done right, and a digit recogniser that works."""
    from digitlab.cli.common import Verbosity

    State.debug = debug
    Verbosity.quiet, Verbosity.verbose = quiet, verbose


app.command()(train_commands.lesson)
app.command()(practice_commands.quiz)
app.command()(practice_commands.exercises)
app.command()(practice_commands.check)
app.command("train")(train_commands.train_cmd)
app.command("lr-find")(train_commands.lr_find)
app.command()(model_commands.evaluate)
app.command()(model_commands.ensemble)
app.command()(model_commands.predict)
app.command()(explain_command.explain)
app.command()(model_commands.submit)
app.command()(tool_commands.serve)
app.command()(model_commands.export)
app.add_typer(data_app, name="data")
data_app.command("info")(data_commands.data_info)
data_app.command("show")(data_commands.data_show)
data_app.command("download")(data_commands.data_download)


def _literal_help(command: Any) -> Any:
    """Escape every help text in Click's tree: Rich takes `[notebook]` for a style tag and drops it."""
    command.help = command.help and escape(command.help)
    for param in command.params:
        if isinstance(getattr(param, "help", None), str):  # options, and Typer's arguments
            param.help = escape(param.help)
    for sub in getattr(command, "commands", {}).values():
        _literal_help(sub)
    return command


def _format_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def main() -> NoReturn:
    """The `digitlab` program (its console script, `python -m digitlab`): the command, then the process
    ends at once (`_end`). In a process that goes on after a command (tests, notebooks), call `run`."""
    try:
        run()
        code: Any = 0
    except SystemExit as e:
        code = e.code
    if not isinstance(code, int) and code is not None:  # sys.exit("a message"): Python's own exit says it
        sys.exit(code)
    _end(code or 0)


def _end(code: int) -> NoReturn:
    """Exit without tearing the interpreter down: the command's files are written and renamed into
    place, its output flushed, Python's exit functions (`atexit`) run; what is left is tearing modules
    and objects down, memory the system frees anyway, which took 0.9-1.2 s of wall time after `train`'s
    last line (a busy 2-core Xeon, 2 runs each, `train --preset fast --epoch-size 128`: 0.06-0.10 s
    this way). A thread still at work (not a daemon) is waited for as Python's own exit waits for it."""
    if any(not t.daemon and t is not threading.main_thread() for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # as Python's exit, a stream that fails now is left alone
            stream.flush()
    os._exit(code)


def run() -> None:
    """The command line in `sys.argv`, run in this process: one-line errors and exit status 1 (as
    SystemExit), tracebacks only with --debug."""
    warnings.formatwarning = _format_warning
    if not streams.prepare():
        print("error: standard output is closed: nowhere to write the results", file=sys.stderr)
        sys.exit(1)
    try:
        command = _literal_help(typer.main.get_command(app))
        code = command(
            legacy_channels(sys.argv[1:]), standalone_mode=False
        )  # Click's own errors come back here, to be said in one line
        sys.stdout.flush()  # here, where a failed write is said in one line
    except typer.TyperException as e:  # Click's usage errors: a flag or argument that does not parse
        if type(e).__name__ != "NoArgsIsHelpError":  # (`digitlab` alone: the help is already shown)
            command = getattr(e, "ctx", None) and e.ctx.command_path
            hint = f" (see {command} --help)" if command else ""
            print(f"error: {plain(e.format_message())}{hint}", file=sys.stderr)
        sys.exit(e.exit_code)
    except streams.OutputFailed as e:
        from digitlab.cli.common import out

        streams.drop_output(out)
        if isinstance(e.error, BrokenPipeError):  # the reader has what it wanted (`| head -1`): as cat does
            sys.exit(streams.SIGPIPE_STATUS)
        print(f"error: standard output: {e.error.strerror}", file=sys.stderr)
        sys.exit(1)
    except (DigitlabError, TrainingDiverged, OSError) as e:
        if State.debug:
            raise
        named = isinstance(e, OSError) and e.filename and e.strerror  # "x.onnx: Permission denied"
        print(f"error: {plain(f'{e.filename}: {e.strerror}' if named else str(e))}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # a bug: still one line, and the way to see more
        if State.debug:
            raise
        print(
            f"error: {type(e).__name__}: {plain(str(e))} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
    if isinstance(code, int):  # --help, or a command that ends with typer.Exit(code)
        sys.exit(code)
