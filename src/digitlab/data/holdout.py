"""The one rule for holding out validation data: `train` applies it and `data info` states it, so the
counts one prints are the counts the other uses (same fraction, same seed, same images)."""

import math
from dataclasses import dataclass

from digitlab.data.dataset import Dataset

# Below this many validation images an accuracy is a rough guide: at 99% on 500 images its standard
# error is sqrt(0.99 * 0.01 / 500) = 0.45 points, on 80 images 1.1 points. Small data get a tenth.
MIN_VALID_IMAGES = 500
MIN_VALID_SHARE = 0.1


@dataclass(frozen=True)
class Holdout:
    """Training data and the validation data held out of them, and how."""

    train: Dataset
    valid: Dataset
    fraction: float | None  # None: the source's own valid/ folder, nothing drawn at random
    seed: int

    def line(self) -> str:
        """'split: train 58,800 / valid 1,200 (2% of 60,000 held out at random, seed 0)'."""
        counts = f"split: train {len(self.train):,} / valid {len(self.valid):,}"
        if self.fraction is None:
            return f"{counts} (the source's own valid/ folder)"
        whole = len(self.train) + len(self.valid)
        return f"{counts} ({self.fraction * 100:g}% of {whole:,} held out at random, seed {self.seed})"

    def warning(self) -> str | None:
        """One line when the validation split is under the stated minimum, else None."""
        whole = len(self.train) + len(self.valid)
        least = min(MIN_VALID_IMAGES, math.ceil(MIN_VALID_SHARE * whole))
        if len(self.valid) >= least:
            return None
        return (
            f"valid split: {len(self.valid):,} images, under the {least:,} "
            f"(the smaller of {MIN_VALID_IMAGES} and {MIN_VALID_SHARE:.0%}) that make its accuracy more "
            "than a rough guide; hold out more with --valid-fraction or a valid/ folder"
        )


def hold_out(train: Dataset, valid: Dataset | None, fraction: float, seed: int) -> Holdout:
    """The source's own `valid` split when it has one, else `fraction` of `train` drawn with `seed`."""
    if valid is not None:
        return Holdout(train, valid, None, seed)
    kept, held = train.split(fraction, seed=seed)
    return Holdout(kept, held, fraction, seed)
