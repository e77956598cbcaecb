"""The quiz: the questions asked one at a time, each answer checked and then shown; and the lesson's
"check yourself" blocks, which print the questions and keep the answers for a folded cell.

The figures a question asks for come from a lesson run: the model.json that `digitlab lesson --out DIR`
wrote (it records every figure the lesson measured), or, without one, sections 1 to 4 of the lesson
run here and now (a few seconds); the later figures' questions then wait for a lesson run.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digitlab.errors import DigitlabError
from digitlab.exercises.catalogue import section_title
from digitlab.exercises.questions import QUESTIONS, Question
from digitlab.lesson import RESULTS
from digitlab.lesson.cells import lesson_cells
from digitlab.lesson.runner import run_cell
from digitlab.modelfiles.model_file import read_info

CHEAP_SECTIONS = 4  # sections 1-4 train only linear1 on two digits: seconds, not minutes


@dataclass(frozen=True)
class Figures:
    values: dict[str, float]
    source: str  # where they come from: the quiz's first line


def figures_of_run(folder: str | Path) -> Figures:
    """The figures a lesson run recorded in DIR/model.json (only the lesson's own names, as numbers)."""
    metrics = read_info(folder).metrics
    values = {k: float(v) for k, v in metrics.items() if k in RESULTS and isinstance(v, int | float)}
    odd = next((k for k, v in values.items() if not math.isfinite(v)), None)
    if odd is not None:  # JSON's 1e400 is inf: an answer would read 'inf'
        raise DigitlabError(f"{folder}: its model.json's figure {odd} is not a finite number ({values[odd]})")
    if "baseline_accuracy" not in values:
        raise DigitlabError(
            f"{folder}: its model.json records no lesson figures (digitlab lesson --out DIR writes them)"
        )
    return Figures(values, f"Figures from the lesson run in {folder}.")


def figures_measured_now(sections: tuple[int, ...] = (), data: str = "mnist") -> Figures:
    """The lesson's first sections, as far as the figures asked for in `sections` need (up to
    CHEAP_SECTIONS), run here without output: their figures."""
    asked = [q.section for _, q in numbered(sections) if q.figure or q.best_of]
    last = max((s for s in asked if s <= CHEAP_SECTIONS), default=0)
    if not last:
        return Figures({}, "No lesson run here (digitlab lesson --out runs/lesson makes one).")
    import matplotlib

    matplotlib.use("Agg")  # the cells draw: never to a window
    start, namespace = time.perf_counter(), {"__name__": "__lesson__"}
    for cell in lesson_cells(data):
        if cell.kind == "markdown" and f"\n## {last + 1}." in f"\n{cell.source}":
            break
        if cell.kind == "code" and not cell.hidden:
            run_cell(cell.source, namespace)
    values = {k: float(namespace[k]) for k in RESULTS if k in namespace}
    took = time.perf_counter() - start
    return Figures(values, f"Figures from sections 1-{last} of the lesson, run now on {data} ({took:.0f} s).")


def numbered(sections: tuple[int, ...] = ()) -> list[tuple[int, Question]]:
    """The questions of these sections (all when none), with their numbers in the whole quiz."""
    return [(n, q) for n, q in enumerate(QUESTIONS, 1) if not sections or q.section in sections]


def model_answer(question: Question, figures: dict[str, float]) -> str | None:
    """The answer as the quiz shows it, from the run's figures; None when the run lacks them."""
    if question.figure:
        value = figures.get(question.figure)
        return None if value is None else format(value, question.form)
    if question.best_of:
        if any(figure not in figures for _, figure in question.best_of):
            return None
        return max(question.best_of, key=lambda pair: figures[pair[1]])[0]
    return question.answer


def is_right(question: Question, typed: str, figures: dict[str, float]) -> bool:
    """A figure within the lesson's rounding of it (a % sign allowed); words by the accepted keywords."""
    typed = " ".join(typed.lower().split())
    if question.figure:
        return _near(typed, figures[question.figure], question.form)
    if question.best_of:
        return (model_answer(question, figures) or "\0") in typed
    return all(any(word in typed for word in group) for group in question.keywords)


def _near(typed: str, value: float, form: str) -> bool:
    """Whether `typed` is `value` as the lesson prints it: within half a unit of its last digit."""
    try:
        number = float(typed.removesuffix("%")) / (100 if typed.endswith("%") else 1)
    except ValueError:
        return False
    if form.endswith("e"):  # `.1e`: one decimal of the mantissa
        decimals = int(form[1:-1]) - math.floor(math.log10(abs(value))) if value else 12  # 0: exactly
    else:
        decimals = int(form[1:-1])
    return abs(number - value) <= 0.5 * 10.0**-decimals * (1 + 1e-9)


def run_quiz(
    sections: tuple[int, ...], figures: Figures, read: Callable[[], str], say: Callable[[str], None]
) -> tuple[int, int]:
    """Ask each question, read one line per answer (`read` returns "" when the input ends), say whether
    it is right and digitlab's answer. Ends after the last question or with the input; (right, asked)."""
    right = asked = waiting = 0
    say(figures.source)
    for number, question in numbered(sections):
        answer = model_answer(question, figures.values)
        if answer is None:
            waiting += 1
            continue
        say("")
        say(f"Q{number} (section {question.section}). {question.text}")
        line = read()
        if not line:  # the input ended (an empty answer is "\n": shown the answer, counted wrong)
            break
        asked += 1
        if is_right(question, line.strip(), figures.values):
            right += 1
            say(f"right. digitlab's answer: {answer}")
        else:
            say(f"not yet. digitlab's answer: {answer} (reread section {section_title(question.section)})")
    if waiting:
        say(f"({waiting} questions on figures this run lacks wait for a whole lesson run: digitlab lesson)")
    return right, asked


def quiz_questions(*sections: int) -> None:
    """In the lesson: the questions of these sections, numbered as `digitlab quiz` numbers them."""
    for number, question in numbered(sections):
        print(f"Q{number}. {question.text}")


def quiz_answers(*sections: int, figures: dict) -> None:
    """In the lesson's folded cell: each answer, the figures read from this run's variables."""
    values = {k: float(v) for k, v in figures.items() if k in RESULTS and isinstance(v, int | float)}
    for number, question in numbered(sections):
        answer = model_answer(question, values)
        if answer is not None:
            print(f"Q{number}. {answer}")
