"""digitlab: handwritten digit recognition built from scratch on PyTorch.

`import digitlab` loads nothing but this: the command line starts fast. The Python API's names
(`digitlab.train`, `digitlab.load`, `Model`, `RunResult`, `TrainConfig`, `Prediction`) are imported
when first used; the learner's names come from `from digitlab.all import *`; everything else from
its folder (docs/architecture.md, "Layout"). Each function's docstring has an example, run by the tests.
"""

from typing import TYPE_CHECKING

from digitlab.lazy import lazy_names
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

__getattr__, __dir__ = lazy_names(__name__, LAZY, __all__)
