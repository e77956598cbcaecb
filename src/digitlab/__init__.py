"""digitlab: handwritten digit recognition built from scratch on PyTorch.

`import digitlab` loads nothing but this: the command line starts fast. The Python API's names
(`digitlab.train`, `digitlab.load`, `Model`, `RunResult`, `TrainConfig`, `Prediction`) are imported
when first used; the learner's names come from `from digitlab.all import *`; everything else from
its folder (docs/architecture.md, "Layout"). Each function's docstring has an example, run by the tests.
"""

import importlib
from typing import TYPE_CHECKING

from digitlab.version import __version__

if TYPE_CHECKING:  # for type checkers and editors: the same names, imported at once
    from digitlab.inference.predictor import Prediction
    from digitlab.run.api import Model, RunResult, load, train
    from digitlab.run.settings import TrainConfig

# name: the module it comes from, imported on first use (module __getattr__, PEP 562)
LAZY = {
    "train": "digitlab.run.api", "load": "digitlab.run.api", "Model": "digitlab.run.api",
    "RunResult": "digitlab.run.api", "TrainConfig": "digitlab.run.settings",
    "Prediction": "digitlab.inference.predictor",
}  # fmt: skip
__all__ = ["__version__", "Model", "Prediction", "RunResult", "TrainConfig", "load", "train"]


def __getattr__(name: str) -> object:
    if name not in LAZY:
        raise AttributeError(f"module 'digitlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(LAZY[name]), name)
    globals()[name] = value  # imported once: the next use finds it as any module attribute
    return value


def __dir__() -> list[str]:
    """What an editor or `dir(digitlab)` offers: the API, not this module's own helpers."""
    return sorted(__all__)
