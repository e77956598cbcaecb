"""digitlab: handwritten digit recognition built from scratch on PyTorch.

`from digitlab import Learner` (or any name of `digitlab.all`) works too: such names are
imported on first use, so `import digitlab` (and the command line) stays light.
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name: str):
    if name.startswith("_") or name == "all":  # submodules and dunders go the usual way
        raise AttributeError(f"module 'digitlab' has no attribute {name!r}")
    everything = importlib.import_module("digitlab.all")
    if name in everything.__all__:
        return getattr(everything, name)
    raise AttributeError(f"module 'digitlab' has no attribute {name!r}")
