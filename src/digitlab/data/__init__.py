"""Data: readers for every MNIST-style format, the Dataset, splits and the DataLoader.

The names below are imported when first used (PEP 562), as the package root's are: reading an image
file (`digitlab.data.decode`, `digitlab.data.images`) must not import torch, so that `predict` can
start decoding files in processes forked before torch is loaded.
"""

from typing import TYPE_CHECKING

from digitlab.lazy import lazy_names

if TYPE_CHECKING:  # for type checkers and editors: the same names, imported at once
    from digitlab.data.dataset import Dataset, LeakageWarning, Splits
    from digitlab.data.loader import DataLoader, DataLoaders
    from digitlab.data.sources import Source, load_source

# name: the module it comes from, imported on first use
LAZY = {
    "Dataset": "digitlab.data.dataset", "LeakageWarning": "digitlab.data.dataset",
    "Splits": "digitlab.data.dataset",
    "DataLoader": "digitlab.data.loader", "DataLoaders": "digitlab.data.loader",
    "Source": "digitlab.data.sources", "load_source": "digitlab.data.sources",
}  # fmt: skip
__all__ = ["DataLoader", "DataLoaders", "Dataset", "LeakageWarning", "Source", "Splits", "load_source"]

__getattr__, __dir__ = lazy_names(__name__, LAZY, __all__)
