"""The model as MLflow users load it: `mlflow.pyfunc.load_model("runs:/<run id>/model")`.

MLflow's Python-model format (pyfunc): the run's model folder travels as the artifact `folder`,
and a model of the user's own class travels with its module's source (MLflow puts it on the path
when it loads the model), so another machine with digitlab installed loads it without the user's
checkout. Loading it imports that code, as loading any MLflow Python model runs code: load only
models you trust.
"""

import sys
import warnings
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from digitlab.models.imported import is_import_path
from digitlab.version import __version__


class DigitlabModel(mlflow.pyfunc.PythonModel):
    """`predict` takes digits as rows of pixels (N, 784) or images (N, 28, 28) (the model's input
    size), 0..255 or 0..1, white ink on black, and answers a row per image: digit (its class),
    confidence and the probabilities."""

    def load_context(self, context: Any) -> None:
        from digitlab.run.api import load

        self.model = load(context.artifacts["folder"], trust_code=True)  # see the module's docstring

    # no type hints: MLflow reads predict's hints as the input's schema, and this takes any array
    def predict(self, context, model_input, params=None):  # -> pd.DataFrame
        probs = self.model.probs(np.asarray(model_input, dtype=np.float64)).numpy()
        classes = self.model.info.classes
        return pd.DataFrame(
            {
                "digit": [classes[i] for i in probs.argmax(1)],
                "confidence": probs.max(1),
                "probs": list(probs),
            }
        )


def save_pyfunc(path: Path, folder: Path, model: str) -> None:
    """The model folder at `folder` as an MLflow Python model at `path`, with the source of the
    user's own module when `model` names one (`package.module:Class`)."""
    with warnings.catch_warnings():  # MLflow asks for type hints on predict (see there)
        warnings.simplefilter("ignore")
        mlflow.pyfunc.save_model(
            path,
            python_model=DigitlabModel(),
            artifacts={"folder": str(folder)},
            code_paths=_own_source(model),
            pip_requirements=[f"digitlab=={__version__}"],
        )


def _own_source(model: str) -> list[str]:
    """The file or package folder of the user's module, as it was imported for training; none for
    digitlab's models or a module installed in the environment (its package is a requirement)."""
    if not is_import_path(model):
        return []
    top = sys.modules.get(model.split(":")[0].split(".")[0])
    source = getattr(top, "__file__", None)
    if source is None or {"site-packages", "dist-packages"} & set(Path(source).parts):
        return []
    path = Path(source)
    return [str(path.parent if path.name == "__init__.py" else path)]
