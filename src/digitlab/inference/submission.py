"""Kaggle digit-recognizer submissions: write one, or check one against the test file."""

from pathlib import Path

from digitlab.data.kaggle import read_kaggle_csv
from digitlab.errors import DigitlabError
from digitlab.fileio import read_regular, write_text_atomic
from digitlab.inference.predictor import Predictor

HEADER = "ImageId,Label"
MAX_SUBMISSION_BYTES = 16 << 20  # 28,000 rows take 250 KB; a million would take 13 MB


def write_submission(predictor: Predictor, test_csv: str | Path, out: str | Path) -> int:
    """Predict every row of the test CSV, in order; returns the row count."""
    if len(predictor.info.classes) != 10:  # Kaggle scores labels 0..9 only
        raise DigitlabError(
            f"the model has {len(predictor.info.classes)} classes; a digit-recognizer submission needs "
            "a model of the ten digits"
        )
    images, _ = read_kaggle_csv(test_csv)
    if images.shape[1:] != predictor.size:
        (h, w), (mh, mw) = images.shape[1:], predictor.size
        raise DigitlabError(f"{test_csv}: its images are {h}x{w}, and the model reads {mh}x{mw}")
    labels = predictor.probs(images).argmax(1).tolist()
    lines = [HEADER] + [f"{i},{label}" for i, label in enumerate(labels, start=1)]
    write_text_atomic(out, "\n".join(lines) + "\n")
    return len(labels)


def check_submission(path: str | Path, test_csv: str | Path) -> int:
    """Raise on the first problem (header, row count, ids, labels); returns the row count."""
    path = Path(path)
    data = read_regular(path, MAX_SUBMISSION_BYTES, follow_links=True, what="a submission needs")
    images, _ = read_kaggle_csv(test_csv)
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise DigitlabError(f"{path}: cannot read ({e})") from None
    if not lines or lines[0].strip() != HEADER:
        raise DigitlabError(f"{path}: line 1: header must be '{HEADER}'")
    rows = [line for line in lines[1:] if line.strip()]
    for number, line in enumerate(rows, start=1):
        cells = line.strip().split(",")
        if len(cells) != 2:
            raise DigitlabError(
                f"{path}: row {number} (line {number + 1}): expected 2 columns, got {len(cells)}"
            )
        if cells[0] != str(number):
            raise DigitlabError(
                f"{path}: row {number} (line {number + 1}), column ImageId: "
                f"{cells[0]!r} should be {number} (1-based, consecutive)"
            )
        if cells[1] not in {str(d) for d in range(10)}:
            raise DigitlabError(
                f"{path}: row {number} (line {number + 1}), column Label: {cells[1]!r} is not an integer 0..9"
            )
    if len(rows) != len(images):
        raise DigitlabError(f"{path}: {len(rows)} rows, but {test_csv} has {len(images)}")
    return len(rows)
