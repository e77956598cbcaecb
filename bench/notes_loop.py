"""The notes' code with only their bugs fixed (tests/lesson/notes_fixed_code.py: batches of 5,
`fine_tune(10, 0.1)`) on a 42,000-row Kaggle CSV, as the notes ran it: its honest validation accuracy
and time. (Their batch-size-5 loop timed against fastai's: bench/fastai_oracle.py.)
"""

import runpy
import tempfile
import warnings
from pathlib import Path

from bench.stamp import figures
from bench.timing import command_line, timed


def notes_as_written(rows: int = 42_000) -> dict:
    """The notes' code, bugs fixed and nothing else, on a Kaggle-format CSV of `rows` MNIST digits."""
    from bench.csv_speed import write_kaggle_train_csv

    script = Path(__file__).parent.parent / "tests" / "lesson" / "notes_fixed_code.py"
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "train.csv"
        write_kaggle_train_csv(csv, rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds, names = timed(runpy.run_path, str(script), {"CSV": str(csv)})
    return {"rows": rows, "seconds": seconds, "accuracy": names["ten_valid_accuracy"]}


def notes_section(notes: dict, command: str = "") -> str:
    return (
        f"## The notes' code as written, on {notes['rows']:,} rows\n\n"
        + command_line(command)
        + "The notes' code with only their bugs fixed (`tests/lesson/notes_fixed_code.py`: batches of 5, "
        f"`fit(5, 0.1)`, `fine_tune(10, 0.1)`, the binary part included) on a {notes['rows']:,}-row "
        f"Kaggle-format CSV of MNIST digits: ten-digit accuracy {notes['accuracy']:.4f} on the honest 20% "
        f"held out, {notes['seconds']:.0f} s in all.\n" + figures(accuracy=f"{notes['accuracy']:.4f}")
    )
