"""Tells the lesson twice at once: line by line on the console, and as one HTML page."""

from rich.console import Console

from digitlab.report.html import Page
from digitlab.train.callbacks import format_row


class Story:
    def __init__(self, title: str, console: Console):
        self.page, self.console = Page(title), console
        self.console.rule(title)

    def section(self, title: str) -> None:
        self.console.print(f"\n[bold]{title}[/bold]")
        self.page.heading(title)

    def say(self, text: str) -> None:
        self.console.print(text)
        self.page.text(text)

    def code(self, text: str) -> None:
        self.console.print(text, markup=False)
        self.page.pre(text)

    def table(self, rows: list[dict], caption: str = "") -> None:
        if caption:
            self.console.print(caption)
        widths = {k: max(len(k), 9 if k != "epoch" else 5) for k in rows[0]}
        self.console.print("  ".join(k.ljust(w) for k, w in widths.items()).rstrip())
        for row in rows:
            self.console.print(format_row(row, widths))
        self.page.table(rows, caption)

    def figure(self, png: bytes, caption: str) -> None:
        self.console.print(f"(figure: {caption})")
        self.page.image(png, caption)
