"""A run's recipe fitted to its data: the augmentation digit-like data get or others do, the
optimizer and the user's callbacks, and the line `train` prints about them.

The preset declares an augmentation for each kind of data (`settings.PRESETS`); `data.kind` says
which kind the training data are, unless `--augmentation` said it. Classes of the user's own
(`--opt package.module:Class`, `--callback`) are imported here, once consent was given.
"""

from typing import Any

from digitlab.data.dataset import Splits
from digitlab.data.kind import digit_like
from digitlab.errors import DigitlabError
from digitlab.learning.torch_optim import OptFunc, check_opt_args, opt_func, optimizer_class
from digitlab.models.imported import import_class, is_import_path
from digitlab.run.settings import TrainConfig, as_text, kind_recipe


def fit_to_data(config: TrainConfig, splits: Splits) -> tuple[TrainConfig, str]:
    """The settings with their augmentation's kind and numbers, and why that kind (given, or the data's)."""
    if config.augmentation is not None:
        return config.with_augmentation(config.augmentation), "chosen by --augmentation"
    digits, why = digit_like(splits)
    return config.with_augmentation("digits" if digits else "mild"), why


def optimizer(config: TrainConfig) -> OptFunc:
    """The Learner's `opt_func`: the optimizer the settings name, with their arguments."""
    try:
        cls = (
            import_class(config.opt, object, "class")
            if is_import_path(config.opt)
            else optimizer_class(config.opt)
        )
        args = dict(config.opt_args or {})
        check_opt_args(cls, args)
        return opt_func(cls, args)
    except ValueError as e:
        raise DigitlabError(f"opt {config.opt}: {e}") from None


def user_callbacks(config: TrainConfig) -> list[Any]:
    """One instance of each callback class the settings name, made with no arguments."""
    made = []
    for path in config.callbacks:
        try:
            cb = import_class(path, object, "class")()
        except ValueError as e:
            raise DigitlabError(f"callback {path}: {e}") from None
        except Exception as e:  # noqa: BLE001 (the user's constructor may raise anything)
            raise DigitlabError(f"callback {path}: {path}() failed ({type(e).__name__}: {e})") from None
        if not isinstance(getattr(cb, "order", None), int | float):
            raise DigitlabError(
                f"callback {path}: has no number `order` (subclass digitlab.learning.callbacks.Callback)"
            )
        made.append(cb)
    return made


def recipe_line(config: TrainConfig, why: str) -> str:
    """What the run trains with, as it starts: the preset's recipe for its kind of data (and why that
    kind): the CNN's size where the kind has its own, the augmentation, label smoothing, optimizer and
    the user's callbacks."""
    if not config.augment or config.model in ("baseline", "linear", "mlp"):  # only the CNN's are augmented
        augment = "no augmentation"
    else:
        mirror = "half mirrored, " if config.augmentation == "mild" else ""
        augment = (
            f"augmented ({mirror}turns {config.rotate:g} deg, shifts {config.shift:g}, "
            f"zooms {config.zoom:g}, pens {config.stroke:g})"
        )
    own = f", callbacks {', '.join(config.callbacks)}" if config.callbacks else ""
    return (
        f"recipe: {config.augmentation} ({why}): {_size(config)}{augment}, "
        f"label smoothing {config.label_smoothing:g}, "
        f"optimizer {config.opt} {as_text(config.opt_args)}{own}"
    )


def _size(config: TrainConfig) -> str:
    """The CNN's size, where the preset gives each kind of data its own ('' where all kinds share one)."""
    assert config.augmentation is not None  # fitted to the data
    if config.model != "cnn" or not {"widths", "convs"} & set(
        kind_recipe(config.preset, config.augmentation)
    ):
        return ""
    assert config.widths is not None and config.convs is not None
    each = f"{config.convs} convolution{'s' if config.convs > 1 else ''} a stage"
    return f"CNN widths {'-'.join(map(str, config.widths))} ({each}), "


def refuse_untrusted(config: TrainConfig, where: str, trust_code: bool) -> None:
    """One line when settings read from `where` name code of the user's and consent was not given."""
    from digitlab.run.settings import code_named

    named = code_named(config)
    if named and not trust_code:
        raise DigitlabError(
            f"{where}: names {', '.join(named)}, classes from outside digitlab: training imports their "
            "modules and runs their code; if you trust it, pass --trust-code (in Python: trust_code=True)"
        )
