"""Runs a learner's exercise function beside digitlab's reference on the same cases, and explains the
first difference: an exception, an input changed in place, a known mistake, then the type, shape,
dtype, autograd tracking, gradient and value of what each returns (in that order)."""

import inspect
import traceback
import types
from dataclasses import dataclass

import torch

from digitlab.exercises.cases import Exercise, Observed, fresh_args
from digitlab.exercises.catalogue import EXERCISES, section_title

RTOL, ATOL = 1e-4, 1e-5  # float32 rounds at ~6e-8 per operation; the cases take at most a few dozen in a
# chain (2 epochs of 3 batches), so a right answer stays within 1e-5; every mistake in the catalogue
# moves some value by more than 1e-3 (tests/exercises check both)


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    message: str  # "matches the reference on N cases", or the first difference and the section to reread

    def line(self) -> str:
        return f"{self.name}: {'ok' if self.passed else 'wrong'}: {self.message}"


def check_function(fn, exercise: Exercise) -> Verdict:
    """`fn` against `exercise.reference` on every case; the first difference explained. torch's random
    state is the same after as before (a notebook's seeded cells stay as they were)."""
    fn = _isolated(fn, exercise.deps)
    for case in exercise.cases:
        with torch.random.fork_rng():
            problem = _first_difference(fn, exercise, case)
        if problem:
            section = section_title(exercise.section)
            where = f"with {case.label}: " if not problem.startswith("is ") else ""
            return Verdict(exercise.name, False, f"{where}{problem}; reread section {section}")
    n = len(exercise.cases)
    return Verdict(exercise.name, True, f"matches the reference on {n} case{'s' if n > 1 else ''}")


def find_exercise(name: str) -> Exercise | None:
    return next((e for e in EXERCISES if e.name == name), None)


def _first_difference(fn, exercise: Exercise, case) -> str | None:
    want = exercise.observe(exercise.reference, fresh_args(case))
    args = fresh_args(case)
    try:
        got = exercise.observe(fn, args)
    except NotImplementedError:
        return "is not written yet (it raises NotImplementedError)"
    except Exception as e:  # noqa: BLE001 (the learner's code: any error is what to explain)
        return f"raised {type(e).__name__}: {_one_line(e)}{_where(e, fn)}{_hint_for(e, exercise)}"
    except SystemExit as e:  # exit() in the learner's function would end `check` without a word
        return f"called exit(){_where(e, fn)}; a function returns its result instead"
    if exercise.pure:
        before = fresh_args(case)
        changed = [n for n, v in args.items() if isinstance(v, torch.Tensor) and not _same(v, before[n])]
        if changed:
            return f"changes its input `{changed[0]}` in place; work on a new tensor (a - b, not a -= b)"
    known = next((m.message for m in exercise.mistakes if _made(m.fn, got, exercise, case)), None)
    if known:
        return known
    return next((d for key in want if (d := _difference(key, got.get(key), want[key]))), None)


def _made(mistake, got: Observed, exercise: Exercise, case) -> bool:
    """Whether the learner's function observed as `got` did what the known mistake does."""
    try:
        return _all_same(got, exercise.observe(mistake, fresh_args(case)))
    except Exception:  # noqa: BLE001 (a mistake that raises on this case is not what the learner did)
        return False


def _difference(key: str, got, want) -> str | None:
    """The first way `got` differs from `want`, for the observed value named `key`."""
    if key.endswith(".grad") and want is not None and got is None:
        return f"{key} is None: no gradient reached it (a missing backward(), or .data/.detach() on the way)"
    if key.endswith("after zero_grad()") and got is not None and bool(got.abs().sum()):
        return f"{key} still holds the gradient: a missing p.grad.zero_() (or p.grad = None)"
    if key.endswith("after zero_grad()"):
        return None  # zeros or None: both clear the gradient
    if want is None:
        return None if got is None else f"{key} is {_kind(got)} where the reference leaves None"
    if not isinstance(want, torch.Tensor):
        if not isinstance(got, type(want)):
            return f"{key} is {_kind(got)} where the reference gives a {type(want).__name__} ({_short(want)})"
        same = abs(got - want) <= ATOL + RTOL * abs(want)
        return None if same else f"{key} is {_short(got)} where the reference gives {_short(want)}"
    if not isinstance(got, torch.Tensor):
        return f"{key} is {_kind(got)} where the reference gives a tensor of shape {tuple(want.shape)}"
    if got.shape != want.shape:
        return f"{key} has shape {tuple(got.shape)} where the reference's has {tuple(want.shape)}"
    if got.dtype != want.dtype:
        return f"{key} has dtype {got.dtype} where the reference's has {want.dtype}"
    if want.requires_grad and not got.requires_grad:
        return f"{key} is not tracked by autograd (requires_grad is False): call .requires_grad_() on it"
    if not _same(got, want):
        index = _first_bad_index(got, want)
        at = f"{key}[{', '.join(map(str, index))}]" if index else key
        gradient = " (the gradient)" if key.endswith(".grad") else ""
        return f"{at}{gradient} is {_short(got[index])} where the reference gives {_short(want[index])}"
    return None


def _same(got: torch.Tensor, want: torch.Tensor) -> bool:
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if not want.is_floating_point():
        return bool((got == want).all())
    return torch.allclose(got.detach(), want.detach(), rtol=RTOL, atol=ATOL, equal_nan=True)


def _all_same(got: Observed, want: Observed) -> bool:
    """Whether two observations agree in every value (a learner's output against a known mistake's)."""
    if got.keys() != want.keys():
        return False
    for key, value in want.items():
        other = got[key]
        if isinstance(value, torch.Tensor) != isinstance(other, torch.Tensor):
            return False
        if isinstance(value, torch.Tensor) and not _same(other, value):
            return False
        if not isinstance(value, torch.Tensor) and _difference(key, other, value):
            return False
    return True


def _first_bad_index(got: torch.Tensor, want: torch.Tensor) -> tuple[int, ...]:
    if got.ndim == 0:
        return ()
    if want.is_floating_point():
        bad = ~torch.isclose(got.detach(), want.detach(), rtol=RTOL, atol=ATOL, equal_nan=True)
    else:
        bad = got != want
    return tuple(int(i) for i in bad.nonzero()[0])


def _isolated(fn, deps: tuple[str, ...]):
    """`fn` with the exercises it calls (`calc_grad` in `train_epoch`) bound to the references, so each
    exercise is checked on its own: a mistake is reported where it is, once."""
    if not deps or not isinstance(fn, types.FunctionType):
        return fn
    references = {name: e.reference for name in deps if (e := find_exercise(name))}
    copy = types.FunctionType(fn.__code__, {**fn.__globals__, **references}, fn.__name__,
                              fn.__defaults__, fn.__closure__)  # fmt: skip
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def _where(error: BaseException, fn) -> str:
    """` (line N of FILE)`: the last line of the learner's own file that the error passed through."""
    functions = [fn, *vars(fn).values()] if isinstance(fn, type) else [fn]
    files = {f.__code__.co_filename for f in functions if hasattr(f, "__code__")}
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename in files]
    return f" (line {frames[-1].lineno} of {frames[-1].filename})" if frames else ""


def _hint_for(error: Exception, exercise: Exercise) -> str:
    text = str(error)
    if "leaf Variable that requires grad" in text:
        return "; an update of a parameter goes under `with torch.no_grad():` (or through p.data)"
    if "shapes cannot be multiplied" in text:
        return f"; check which tensor each layer multiplies ({exercise.shapes})"
    if isinstance(error, TypeError) and "argument" in text:  # a signature other than the exercise's
        return f"; the exercise is {exercise.name}{inspect.signature(exercise.reference)}"
    return ""


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]


def _kind(value) -> str:
    return "None" if value is None else f"a {type(value).__name__} ({_short(value)})"


def _short(value) -> str:
    if isinstance(value, torch.Tensor) and value.ndim == 0:
        value = value.item()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value)[:80]
