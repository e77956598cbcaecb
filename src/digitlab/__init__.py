"""digitlab: handwritten digit recognition built from scratch on PyTorch.

`import digitlab` loads nothing but this: the command line starts fast. The Python API is here
(`digitlab.train`, `digitlab.load`, their `Model`: see digitlab.run.api), imported when first
called; the learner's names come from `from digitlab.all import *`; everything else from its
folder (docs/architecture.md, "Layout").
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors only: nothing is imported at run time
    from digitlab.run.api import Model
    from digitlab.run.settings import TrainConfig

__version__ = "0.1.0"
__all__ = ["__version__", "load", "train"]


def train(config: "TrainConfig | None" = None, /, quiet: bool = False, **settings: Any) -> "Model":
    """Train a model as `digitlab train` does and return it, saved in `out` (see digitlab.run.api)."""
    from digitlab.run.api import train as train_model

    return train_model(config, quiet=quiet, **settings)


def load(path: str, engine: str = "torch", trust_code: bool = False, as_is: bool = False) -> "Model":
    """A model folder that `train` wrote, ready to `predict` and `evaluate` (see digitlab.run.api);
    `trust_code` for a model of a class from outside digitlab (importing it runs its code)."""
    from digitlab.run.api import load as load_model

    return load_model(path, engine, trust_code, as_is)
