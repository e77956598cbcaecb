"""Learning-rate schedules as functions of training progress `pos` in [0, 1]."""

import math


def cosine(start: float, end: float, pos: float) -> float:
    """From `start` to `end` along half a cosine wave."""
    return end + (start - end) * (1 + math.cos(math.pi * pos)) / 2


def one_cycle(
    lr_max: float, pos: float, pct_start: float = 0.25, div: float = 25.0, final_div: float = 1e5
) -> float:
    """Warm up from lr_max/div to lr_max over `pct_start`, then anneal to lr_max/final_div."""
    if pos < pct_start:
        return cosine(lr_max / div, lr_max, pos / pct_start)
    return cosine(lr_max, lr_max / final_div, (pos - pct_start) / (1 - pct_start))


def exponential(start: float, end: float, pos: float) -> float:
    """Geometric steps from `start` to `end`: the learning-rate finder's sweep."""
    return float(start * (end / start) ** pos)
