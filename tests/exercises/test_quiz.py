"""`digitlab quiz`: at least 30 questions, one at a time, each answer checked then shown; the figures
asked for are read from a lesson run (or measured now), never written in the questions."""

import io

import pytest

from digitlab.exercises.questions import QUESTIONS
from digitlab.exercises.quiz import Figures, figures_measured_now, is_right, model_answer, numbered, run_quiz
from digitlab.lesson import RESULTS
from digitlab.lesson.cells import lesson_text
from digitlab.modelfiles.model_file import ModelInfo, save_model
from digitlab.models import MLP
from tests.helpers import cli

FIGURES = {name: 0.9 + i / 1000 + 1e-5 for i, name in enumerate(RESULTS)} | {"fold_gap": 3.14e-7}


def test_thirty_questions_and_more_on_ideas_and_on_the_runs_figures():
    on_figures = [q for q in QUESTIONS if q.figure or q.best_of]
    assert len(QUESTIONS) >= 30 and len(on_figures) >= 9 and len(QUESTIONS) - len(on_figures) >= 25
    assert {q.figure for q in QUESTIONS if q.figure} <= set(RESULTS)
    assert all(f"## {q.section}. " in lesson_text() for q in QUESTIONS)
    for q in QUESTIONS:  # an idea has a model answer and keywords it meets itself
        assert q.figure or q.best_of or (q.answer and q.keywords and is_right(q, q.answer, {})), q.text


def test_a_figure_is_right_within_the_lessons_rounding_and_comes_from_the_run():
    question = next(q for q in QUESTIONS if q.figure == "baseline_accuracy")
    figures = {"baseline_accuracy": 0.98768}
    assert model_answer(question, figures) == "0.9877"
    assert all(is_right(question, typed, figures) for typed in ("0.9877", "0.98768", "98.77%", " 0.9877 "))
    assert not any(is_right(question, typed, figures) for typed in ("0.9876", "0.99", "98%", "ninety", ""))
    assert not is_right(question, "0.9877", {"baseline_accuracy": 0.95})  # another run, another answer
    gap = next(q for q in QUESTIONS if q.figure == "fold_gap")
    assert model_answer(gap, {"fold_gap": 3.14e-7}) == "3.1e-07"
    assert is_right(gap, "3.1e-7", {"fold_gap": 3.14e-7}) and not is_right(gap, "3e-6", {"fold_gap": 3.14e-7})


def test_the_best_model_is_named_from_the_runs_figures():
    question = next(q for q in QUESTIONS if q.best_of)
    figures = {"linear_accuracy": 0.91, "relu_accuracy": 0.95, "deeper_accuracy": 0.96, "cnn_accuracy": 0.97}
    assert model_answer(question, figures) == "cnn" and is_right(question, "The CNN", figures)
    figures["deeper_accuracy"] = 0.98
    assert model_answer(question, figures) == "784-128-64-10" and not is_right(question, "the CNN", figures)
    assert model_answer(question, {"cnn_accuracy": 0.97}) is None  # a run without them: not asked


def test_words_are_checked_by_keywords():
    zeroing = next(q for q in QUESTIONS if q.text.startswith("Why must the gradients be zeroed"))
    assert is_right(zeroing, "Because backward() ADDS to .grad", {})
    assert not is_right(zeroing, "to make it faster", {})


def test_the_quiz_asks_one_at_a_time_and_stops_when_the_input_ends():
    said, answers = [], iter(["0.9\n", "no idea\n", "\n"])
    questions = numbered((2,))
    figures = Figures({"baseline_accuracy": 0.9}, "Figures from a test.")
    right, asked = run_quiz((2,), figures, lambda: next(answers, ""), said.append)
    assert said[0] == "Figures from a test." and (right, asked) == (0, 3)
    assert [line for line in said if line.startswith("Q")] == [
        f"Q{n} (section 2). {q.text}" for n, q in questions
    ]
    assert said[-3].startswith("not yet. digitlab's answer: PyTorch treating a smaller tensor")  # "" shows it
    assert said[-1].startswith("Q6 (section 2).")  # asked, and then the input ended


@pytest.fixture
def lesson_folder(tmp_path):
    model = MLP(hidden=4, n_out=10)
    save_model(model, tmp_path, ModelInfo.describe(model, metrics=FIGURES | {"other": 1.0}))
    return tmp_path


def test_quiz_reads_the_figures_of_a_lesson_run_from_piped_answers(lesson_folder, monkeypatch):
    typed = [
        "numbers, one per pixel",
        "",
        "",
        "the negatives would cancel",
        "",
        f"{FIGURES['baseline_accuracy']:.4f}",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(typed) + "\n"))
    result = cli("quiz", "--section", "1", "--section", "2", "--run", lesson_folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Figures from the lesson run in {lesson_folder}.")
    assert result.stdout.count("> ") == 6 and result.stdout.endswith("3 of 6 answered right\n")
    assert f"digitlab's answer: {FIGURES['baseline_accuracy']:.4f}" in result.stdout


def test_quiz_refuses_a_folder_without_a_lesson_and_a_section_out_of_range(tmp_path, lesson_folder):
    model = MLP(hidden=4, n_out=10)
    save_model(model, tmp_path / "trained", ModelInfo.describe(model, metrics={"valid_accuracy": 0.9}))
    result = cli("quiz", "--run", tmp_path / "trained")
    assert result.returncode == 1 and "its model.json records no lesson figures" in result.stderr
    assert cli("quiz", "--section", "11", "--run", lesson_folder).returncode == 2


def test_without_a_run_the_quiz_measures_the_first_sections_as_the_lesson_does():
    figures = figures_measured_now((2,))
    assert set(figures.values) == {"baseline_accuracy"} and "sections 1-2" in figures.source
    assert 0.9 < figures.values["baseline_accuracy"] <= 1  # 0 against 1: the lesson's own target
    assert figures_measured_now((8,)).values == {}  # nothing cheap to measure for section 8
    assert figures_measured_now((3,)).values == {}  # section 3 asks for no figure


def test_quiz_refuses_a_run_whose_figure_is_not_a_finite_number(tmp_path):
    """A model.json may come from anyone: 1e400 is inf to JSON, and the quiz's answer would say 'inf'."""
    model = MLP(hidden=4, n_out=10)
    save_model(model, tmp_path / "run", ModelInfo.describe(model, metrics={"baseline_accuracy": 0.9}))
    text = (tmp_path / "run" / "model.json").read_text()
    (tmp_path / "run" / "model.json").write_text(
        text.replace('"baseline_accuracy": 0.9', '"baseline_accuracy": 1e400')
    )
    result = cli("quiz", "--run", tmp_path / "run")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "baseline_accuracy" in result.stderr and "not a finite number" in result.stderr
