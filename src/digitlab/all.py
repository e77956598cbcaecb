"""The learner's one import: `from digitlab.all import *`, as `from fastai.vision.all import *` in the notes.

It brings what the lesson's code uses: torch, numpy, pandas and their usual short names, plotting, the data
loaders, the Learner and SGD, metrics, losses written from scratch, the models and the
lesson's helpers. Nothing else in the library star-imports.
"""

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib import pyplot as plt
from torch import nn

from digitlab.data import DataLoader, DataLoaders, Dataset, LeakageWarning, load_source
from digitlab.exercises import check
from digitlab.exercises.quiz import quiz_answers, quiz_questions
from digitlab.inference.explanation import integrated_gradients
from digitlab.learning.callbacks import Callback, CSVLogger
from digitlab.learning.guards import EarlyStopping, KeepBest
from digitlab.learning.learner import Learner
from digitlab.learning.losses import cross_entropy, log_softmax, mnist_loss, softmax
from digitlab.learning.lr_finder import SuggestionMethod, minimum, slide, steep, valley
from digitlab.learning.metrics import accuracy
from digitlab.learning.optim import SGD
from digitlab.lesson.tools import (
    BesideTheNotes,
    first,
    plot_function,
    show_image,
    show_images,
    show_maps,
    show_probs,
    show_weights,
    tensor,
)
from digitlab.models import CNN, MLP, Linear, PixelSimilarity, predict_probs, to_probs
from digitlab.models.baseline import l1_distance, l2_distance
from digitlab.run.api import Model, RunResult, load
from digitlab.run.api import train as train_model
from digitlab.run.settings import TrainConfig

__all__ = [
    "BesideTheNotes", "check", "CNN", "MLP", "SGD", "CSVLogger", "Callback", "DataLoader",
    "DataLoaders", "Dataset", "EarlyStopping", "F", "integrated_gradients", "KeepBest",
    "LeakageWarning", "Learner", "Linear", "PixelSimilarity", "accuracy", "cross_entropy", "first",
    "l1_distance", "l2_distance", "load_source", "log_softmax", "mnist_loss", "nn", "np", "pd",
    "plot_function", "plt", "predict_probs", "show_image", "show_images", "show_maps", "show_probs",
    "show_weights", "softmax", "tensor", "to_probs", "torch", "Model", "RunResult", "TrainConfig", "load",
    "train_model", "quiz_answers", "quiz_questions", "SuggestionMethod", "minimum", "slide", "steep",
    "valley",
]  # fmt: skip
