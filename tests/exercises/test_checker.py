"""`digitlab check`: every reference and a learner's right answers pass; each typical mistake gets its own
explanation and the section to reread."""

import math

import pytest
import torch

from digitlab.exercises.cases import fresh_args
from digitlab.exercises.catalogue import EXERCISES
from digitlab.exercises.checker import ATOL, check_function, find_exercise
from digitlab.lesson.cells import lesson_text
from tests.exercises.wrong_answers import WRONG


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_every_reference_passes_and_every_known_mistake_fails(exercise):
    assert check_function(exercise.reference, exercise).passed
    for mistake in exercise.mistakes:
        verdict = check_function(mistake.fn, exercise)
        assert not verdict.passed and mistake.message in verdict.message


@pytest.mark.parametrize("kind", list(WRONG))
def test_each_wrong_answer_is_explained_with_the_section_to_reread(kind):
    name, wrong, words = WRONG[kind]
    exercise = find_exercise(name)
    verdict = check_function(wrong, exercise)
    assert not verdict.passed and words in verdict.message, verdict.message
    assert verdict.message.endswith(f'reread section {exercise.section} ("{title(exercise.section)}")')


def test_every_wrong_answer_gets_its_own_message_and_every_exercise_has_one():
    messages = [check_function(wrong, find_exercise(name)).message for name, wrong, _ in WRONG.values()]
    assert len(set(messages)) == len(messages)
    assert {name for name, _, _ in WRONG.values()} == {e.name for e in EXERCISES}


def title(section: int) -> str:
    """The heading of that section in the lesson's text, as a learner sees it."""
    heading = next(line for line in lesson_text().splitlines() if line.startswith(f"## {section}. "))
    return heading.removeprefix(f"## {section}. ").split(" (notes:")[0]


def test_a_check_leaves_torchs_random_state_as_it_was():
    """In a notebook the learner's seeded cells go on as if nothing ran between them."""
    state = torch.get_rng_state()
    for exercise in EXERCISES:
        check_function(exercise.reference, exercise)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.numeric
@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e.mistakes], ids=lambda e: e.name)
def test_every_known_mistake_lies_far_outside_the_checkers_tolerance(exercise):
    """The checker's bound (RTOL 1e-4, ATOL 1e-5: float32 rounding over a few dozen operations) is
    safe only if each mistake moves some value by far more; measured here: 100x ATOL at least."""
    for mistake in exercise.mistakes:
        gaps = []
        for case in exercise.cases:
            want = exercise.observe(exercise.reference, fresh_args(case))
            got = exercise.observe(mistake.fn, fresh_args(case))
            gaps += [_gap(got[k], want[k]) for k in want]
        assert max(gaps) > 100 * ATOL, (mistake.fn.__name__, gaps)


def _gap(got, want) -> float:
    if got is None or want is None:
        return math.inf if (got is None) != (want is None) else 0.0
    return float((got.detach().float() - want.detach().float()).abs().max())
