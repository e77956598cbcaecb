"""The lesson as a Jupyter notebook (nbformat 4), written from the same cells the terminal runs."""

import json
import sys
from pathlib import Path

from digitlab.fileio import write_text_atomic
from digitlab.lesson.cells import Cell, lesson_cells


def notebook(cells: list[Cell]) -> dict:
    """The notebook as a JSON-ready dict: one notebook cell per lesson cell, nothing executed yet."""
    return {
        "cells": [_cell(c, i) for i, c in enumerate(cells)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": ".".join(map(str, sys.version_info[:3]))},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _cell(cell: Cell, index: int) -> dict:
    source = cell.source if not cell.caption else f"# Output: {cell.caption}\n{cell.source}"
    lines = source.splitlines(keepends=True)
    if cell.kind == "markdown":
        return {"cell_type": "markdown", "id": f"cell-{index}", "metadata": {}, "source": lines}
    tags = ["parameters"] if cell.parameters else []
    metadata: dict = {"tags": tags}
    if cell.hidden:  # folded, code and output, in JupyterLab (`jupyter`) and the classic notebook
        metadata = {"tags": ["answers"], "collapsed": True,
                    "jupyter": {"source_hidden": True, "outputs_hidden": True}}  # fmt: skip
    return {
        "cell_type": "code",
        "id": f"cell-{index}",
        "metadata": metadata,
        "execution_count": None,
        "outputs": [],
        "source": lines,
    }


def write_notebook(
    path: str | Path, pair: tuple[int, int] = (0, 1), data: str = "mnist", subset: int | None = None
) -> Path:
    """Write the lesson as FILE.ipynb, set to these parameters; it runs top to bottom in a kernel."""
    cells = lesson_cells(data, pair, subset)
    write_text_atomic(path, json.dumps(notebook(cells), indent=1) + "\n")
    return Path(path)
