"""Runs the lesson's code cells one after another in one namespace, as a Jupyter kernel would.

Each cell's printed output, the value of its last expression (unless the cell ends with `;`)
and the figures it drew are captured, so the terminal and the HTML page show exactly what
the notebook shows.
"""

import ast
import contextlib
import io
from dataclasses import dataclass, field

from matplotlib import pyplot as plt

HIDDEN_REPRS = ("matplotlib.",)  # Axes, Figure, Text: the figure itself is what matters


@dataclass
class Output:
    text: str = ""
    figures: list[bytes] = field(default_factory=list)  # PNGs, in the order drawn


def run_cell(source: str, namespace: dict) -> Output:
    """Execute `source` in `namespace`; returns what it printed, showed and drew."""
    tree = ast.parse(source)
    show_last = bool(tree.body) and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";")
    body = tree.body[:-1] if show_last else tree.body
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(ast.Module(body, type_ignores=[]), "<lesson>", "exec"), namespace)
        value = (
            eval(compile(ast.Expression(tree.body[-1].value), "<lesson>", "eval"), namespace)
            if show_last
            else None
        )
    text = printed.getvalue()
    if value is not None and not _is_plot(value):
        text += repr(value) + "\n"
    return Output(text, _take_figures())


def _is_plot(value) -> bool:
    items = value if isinstance(value, tuple | list) else [value]
    return any(type(v).__module__.startswith(HIDDEN_REPRS) for v in items)


def _take_figures() -> list[bytes]:
    """Every open pyplot figure as PNG, then closed (as Jupyter's inline backend does)."""
    pngs = []
    for number in plt.get_fignums():
        figure = plt.figure(number)
        buf = io.BytesIO()
        few_axes = len(figure.axes) <= 4  # trim the margins (labels kept whole): it draws a figure twice,
        figure.savefig(
            buf, format="png", dpi=90, **({"bbox_inches": "tight"} if few_axes else {})
        )  # 1 s for 30
        pngs.append(buf.getvalue())
        plt.close(figure)
    return pngs
