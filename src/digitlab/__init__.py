"""digitlab: handwritten digit recognition built from scratch on PyTorch.

`from digitlab import Learner` (or any name of `digitlab.all`) works too: such names are
imported on first use, so `import digitlab` (and the command line) stays light.
"""

import importlib
import importlib.util

__version__ = "0.1.0"


def __getattr__(name: str):
    # `from digitlab import training` asks this first: a submodule must not pull in all of digitlab.all
    # (matplotlib's pyplot and the lesson, a second of start-up for every command).
    if name.startswith("_") or name == "all" or importlib.util.find_spec(f"{__name__}.{name}"):
        raise AttributeError(f"module 'digitlab' has no attribute {name!r}")
    everything = importlib.import_module("digitlab.all")
    if name in everything.__all__:
        return getattr(everything, name)
    raise AttributeError(f"module 'digitlab' has no attribute {name!r}")
