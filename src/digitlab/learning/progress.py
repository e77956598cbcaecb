"""The epoch table while a Learner trains: text in a terminal (with a progress bar), HTML in Jupyter."""

import html
import sys
from typing import TYPE_CHECKING, Any, cast

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from digitlab.learning.callbacks import Callback

if TYPE_CHECKING:  # the Learner imports this module: its name for hints only
    from digitlab.learning.learner import Learner


def format_cell(key: str, value: Any) -> str:
    if key == "time":
        return f"{int(value) // 60:02d}:{int(value) % 60:02d}"
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """An epoch table as aligned text lines, header first (times as mm:ss)."""
    widths = {k: max(len(k), 9 if k != "epoch" else 5) for k in rows[0]}
    lines = ["  ".join(k.ljust(w) for k, w in widths.items()).rstrip()]
    for row in rows:
        lines.append("  ".join(format_cell(k, row[k]).ljust(w) for k, w in widths.items()).rstrip())
    return lines


def table_html(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_cell(k, v))}</td>" for k, v in r.items()) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class ProgressTable(Callback):
    """The epoch table, row by row: text in a terminal (with a progress bar), HTML in Jupyter.

    `quiet` silences it; `console` is where the text goes.
    """

    order = 20

    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.quiet = quiet

    def before_fit(self, learn: "Learner") -> None:
        self.rows: list[dict[str, Any]] = []
        self.notebook, self.display = _in_notebook(), cast(Any, None)
        self.live = not self.quiet and not self.notebook and self.console.is_terminal
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            disable=not self.live,
        )
        self.bar.start()

    def before_epoch(self, learn: "Learner") -> None:
        self.task = self.bar.add_task(
            f"epoch {learn.epoch}", total=len(learn.dls.train) + len(learn.dls.valid)
        )

    def after_batch(self, learn: "Learner") -> None:
        if self.live:  # a bar nobody sees costs a lock and a clock read per batch
            self.bar.advance(self.task)

    def after_epoch(self, learn: "Learner") -> None:
        self.bar.remove_task(self.task)
        self.rows.append(learn.epoch_row)
        if self.quiet:
            return
        if self.notebook:
            self._show_html()
            return
        lines = table_lines(self.rows)
        if len(self.rows) == 1:
            self.console.print(lines[0])
        self.console.print(lines[-1])

    def _show_html(self) -> None:
        from IPython.display import HTML, display

        if self.display is None:
            self.display = display(HTML(table_html(self.rows)), display_id=True)
        else:
            self.display.update(HTML(table_html(self.rows)))

    def cleanup_fit(self, learn: "Learner") -> None:
        self.bar.stop()


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython is only looked at when it is already loaded)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    return type(shell).__name__ == "ZMQInteractiveShell"
