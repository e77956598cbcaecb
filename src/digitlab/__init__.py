"""digitlab: handwritten digit recognition built from scratch on PyTorch.

`import digitlab` loads nothing but this: the command line starts fast. The learner's names come
from `from digitlab.all import *`; everything else from its folder (README, "Layout").
"""

__version__ = "0.1.0"
