"""Data: readers for every MNIST-style format, the Dataset, splits and the DataLoader."""

from digitlab.data.dataset import Dataset, LeakageWarning, Splits
from digitlab.data.loader import DataLoader, DataLoaders
from digitlab.data.sources import Source, load_source

__all__ = ["DataLoader", "DataLoaders", "Dataset", "LeakageWarning", "Source", "Splits", "load_source"]
