"""The lesson: one source for the terminal, the HTML page and the notebook; the notes' fixed code."""

import html
import io
import json
import re
import subprocess
import sys

import pytest
import torch
from rich.console import Console

from digitlab.exercises.questions import QUESTIONS
from digitlab.exercises.quiz import numbered
from digitlab.lesson import run_lesson
from digitlab.lesson.cells import lesson_cells, parse_cells
from digitlab.lesson.notebook import notebook
from digitlab.modelfiles.model_file import load_model
from tests.helpers import PageParts, cli
from tests.lesson.claims import check_claims, flat

SECTIONS = [
    "1. The data",
    "2. A baseline: pixel similarity",
    "3. Stochastic gradient descent",
    "4. Mini-batches and a training loop",
    "5. PyTorch and the Learner",
    "6. A neural net",
    "7. What the net learnt",
    "8. All ten digits",
    "9. Going deeper",
    "10. What the notes got wrong",
]
FIGURES = 9  # digit, means, learning rates, sigmoid, unit 3, all units, softmax, top losses, the worst two
EPOCH_TABLES = 4  # linear, net, fine_tune x2


@pytest.fixture(scope="module")
def lesson_run(tmp_path_factory):
    """The whole lesson on all of MNIST, 0 versus 1."""
    out = tmp_path_factory.mktemp("lesson")
    console = Console(file=io.StringIO(), width=100)
    results = run_lesson((0, 1), out=out, console=console)
    return out, console.file.getvalue(), results


@pytest.mark.numeric
def test_the_lesson_meets_its_targets(lesson_run):
    _, _, r = lesson_run
    assert 0.9 < r["baseline_accuracy"] <= 1
    assert (
        r["scratch_accuracy"] >= 0.99 and r["learner_linear_accuracy"] >= 0.99 and r["net_accuracy"] >= 0.99
    )
    assert r["ten_valid_accuracy"] >= 0.93 and r["ten_test_accuracy"] >= 0.93
    assert r["ten_train_accuracy"] > r["ten_valid_accuracy"]  # the notes' number flatters the model
    assert (
        r["relu_accuracy"] > r["no_relu_accuracy"] + 0.01 and r["relu_accuracy"] > r["linear_accuracy"] + 0.01
    )
    assert r["fold_gap"] < 1e-4 and r["linear_layer_gap"] < 1e-4
    # measured: CNN 0.9701 / 0.9698, 784-128-64-10 0.9623 / 0.9626, 784-30-10 0.9422 / 0.9422 (AVX2 /
    # SSE4.1; the lesson seeds itself): the kernel sets move them by 0.0003, the margins are 2 points
    assert r["cnn_accuracy"] > r["relu_accuracy"] and r["deeper_accuracy"] > r["relu_accuracy"]


@pytest.fixture(scope="module")
def three_seven(tmp_path_factory):
    """The README's 3 versus 7 on its first 12,000 images, where sorted batches sat at a coin's 0.50."""
    console = Console(file=io.StringIO(), width=100)
    results = run_lesson((3, 7), out=tmp_path_factory.mktemp("lesson37"), subset=12_000, console=console)
    return console.file.getvalue(), results


def test_every_claim_of_the_lesson_is_the_runs(lesson_run, three_seven):
    _, text, r = lesson_run
    assert check_claims(text, r, (0, 1)) >= 12
    assert check_claims(*three_seven, (3, 7)) >= 12


@pytest.mark.numeric
def test_shuffled_loaders_reach_the_books_figure_on_three_and_seven(three_seven):
    _, r = three_seven
    # the book's linear model on 3s and 7s: about 0.97. Measured here (AVX2, the lesson seeds itself):
    # linear1 0.9741 (0.4964 with the notes' sorted loader), Learner(nn.Linear) 0.9880 (0.5020 sorted).
    # The bounds leave 1 point for other kernels; the sorted loader's collapse is 40 points, bounded at 20.
    assert r["scratch_accuracy"] >= 0.96 and r["learner_linear_accuracy"] >= 0.97
    assert r["learner_linear_accuracy"] - r["sorted_accuracy"] > 0.2


def test_every_figure_beside_the_notes_and_the_closing_tables_repeat_them(lesson_run):
    _, text, r = lesson_run
    compared = re.findall(r"^(.+?): here ([0-9.-]+), notes ([0-9.-]+) \(.+\)$", text, re.M)
    assert len(compared) == 20 and len({what for what, _, _ in compared}) == 20
    table = text[text.index("every figure the lesson measured that the notes also report") :]
    for what, here, notes in compared:
        assert re.search(rf"^{re.escape(what)}\s+{re.escape(here)}\s+{re.escape(notes)}$", table, re.M), what
    named = {what: here for what, here, _ in compared}
    assert float(named["Learner, nn.Linear, last epoch"]) == pytest.approx(
        r["learner_linear_accuracy"], abs=5e-5
    )
    assert float(named["accuracy on the training images"]) == pytest.approx(r["ten_train_accuracy"], abs=5e-5)
    # the notes' first fine_tune row (0.9465) is their frozen epoch: it stands beside ours, not the next row
    assert float(named["fine_tune, frozen epoch"]) == pytest.approx(r["frozen_epoch_accuracy"], abs=5e-5)
    assert r["frozen_epoch_accuracy"] != r["first_epoch_accuracy"]
    for what, notes in [
        ("training images of the second digit", "3764"),
        ("held-out images of the second digit", "920"),
        ("training images of the two digits", "7039"),
        ("bias.grad, one image", "-0.1160"),
        ("score of training image 2", "5.0252"),
    ]:
        assert [n for w, _, n in compared if w == what] == [notes], what
    accuracies = text[text.index("every accuracy this run measured on held-out images") :]
    for name, key in [("baseline, pixel similarity", "baseline_accuracy"), ("ten digits, CNN, one epoch",
                      "cnn_accuracy"), ("ten digits, fine_tune", "ten_valid_accuracy")]:  # fmt: skip
        assert re.search(rf"^{re.escape(name)}\s+{r[key]:.4f}$", accuracies, re.M), name


def test_the_lesson_asks_every_question_and_folds_the_answers_this_run_gives(lesson_run):
    out, text, r = lesson_run
    page = (out / "lesson.html").read_text()
    shown = html.unescape(re.sub(r"<details>.*?</details>", "", page, flags=re.S))
    asked = re.findall(r"(?:^|<pre>)Q(\d+)\. (.+)$", shown, re.M)
    assert asked == [(str(n), q.text) for n, q in numbered()]  # every question of the quiz, in its order
    assert re.findall(r"^Q(\d+)\. ", text, re.M) == [n for n, _ in asked]  # the terminal too (lines fold)
    folded = re.findall(
        r"<details><summary>answers \(open after answering\)</summary><pre>(.*?)</pre>", page, re.S
    )
    answers = dict(re.findall(r"^Q(\d+)\. (.+)$", html.unescape("".join(folded)), re.M))
    assert len(folded) == 4 and len(answers) == len(QUESTIONS)
    for n, question in numbered():
        assert f"Q{n}. {answers[str(n)]}" not in text  # the terminal shows no answer (digitlab quiz asks)
        if question.figure:
            assert answers[str(n)] == format(r[question.figure], question.form)  # this run's figure
    best = next(q for q in QUESTIONS if q.best_of)
    chosen = max(best.best_of, key=lambda pair: r[pair[1]])[0]
    assert answers[str(QUESTIONS.index(best) + 1)] == chosen  # named from this run's figures
    assert page.count("<code>digitlab exercises --out practice</code>") == 4  # each part: the exercises next


def test_the_notebook_folds_the_answer_cells():
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.from_dict(notebook(lesson_cells())))  # the folding keys are nbformat's own
    notebook_cells = notebook(lesson_cells())["cells"]
    folded = [c for c in notebook_cells if c["metadata"].get("tags") == ["answers"]]
    assert len(folded) == 4 and all("".join(c["source"]).startswith("quiz_answers(") for c in folded)
    assert all(c["metadata"]["jupyter"] == {"source_hidden": True, "outputs_hidden": True} for c in folded)
    assert all(c["metadata"]["collapsed"] for c in folded)
    asked = [c for c in notebook_cells if "\nquiz_questions(" in "".join(c["source"])]  # under its caption
    assert len(asked) == 4 and not any(c["metadata"].get("jupyter") for c in asked)  # questions: shown


def test_the_two_worst_held_out_images_are_explained(lesson_run):
    _, text, _ = lesson_run
    worst = re.findall(
        r"^held-out image (\d+): labelled (\d), the net said (\d) with \d+% \(loss ([0-9.]+)\)$", text, re.M
    )
    assert len(worst) == 2 and all(label != said for _, label, said, _ in worst)
    assert float(worst[0][3]) >= float(worst[1][3])  # the largest loss first


def test_code_in_the_terminal_is_never_broken_across_lines(lesson_run):
    _, text, _ = lesson_run
    lines = set(text.splitlines())
    for cell in lesson_cells():
        if cell.kind == "code" and not cell.parameters and not cell.hidden:  # answers: folded, not shown
            for line in cell.source.splitlines():
                assert line in lines or not line.strip(), line  # whole, unindented: copy-safe


def test_terminal_output_sections_in_order_and_each_table_once(lesson_run):
    _, text, _ = lesson_run
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    headers = re.findall(r"^epoch\s+train_loss\s+valid_loss\s+(\w+)\s+time$", text, re.M)
    assert headers == [
        "batch_accuracy",
        "batch_accuracy",
        "accuracy",
        "accuracy",
    ]  # linear, net, fine_tune x2
    assert len(headers) == EPOCH_TABLES
    for caption in (
        "epoch table of nn.Linear(784, 1)",
        "epoch table of simple_net",
        "two epoch tables of mnist_net",
    ):
        assert text.count(caption) == 1
    rows = re.findall(r"^\d+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+(\S+)$", text, re.M)
    assert rows and all(re.fullmatch(r"\d\d:\d\d", t) for t in rows)  # times as mm:ss
    assert "LEAKAGE: 48000 of the validation samples" in text
    assert "mat1 and mat2 shapes cannot be multiplied" in text


def test_the_terminal_names_each_figure_in_the_page(lesson_run):
    out, text, _ = lesson_run
    assert "see lesson.html" not in text
    for number in range(1, FIGURES + 1):
        where = f"(full size: figure {number} in {out / 'lesson.html'}, or the notebook)"
        assert flat(text).count(where) == 1
    assert f"figure {FIGURES + 1} in" not in text and "▀" not in text  # no colour here: the path alone


def test_a_colour_terminal_draws_each_figure_in_half_blocks():
    from digitlab.lesson import _show_figure
    from digitlab.lesson.tools import show_image

    colour = Console(file=io.StringIO(), width=100, force_terminal=True, color_system="truecolor")
    _show_figure(_take_figures_of(show_image, torch.eye(28)), colour, "figure 1 in x.html")
    lines = colour.file.getvalue().splitlines()
    assert len(lines) > 5 and all(line.count("▀") == 60 for line in lines[:-1])  # 60 columns, two pixels each
    assert "(full size: figure 1 in x.html, or the notebook)" in lines[-1]
    narrow = Console(file=io.StringIO(), width=40, force_terminal=True, color_system="256")
    _show_figure(_take_figures_of(show_image, torch.eye(28)), narrow, "figure 2 in x.html")
    drawn = [line.count("▀") for line in narrow.file.getvalue().splitlines() if "▀" in line]
    assert len(drawn) > 5 and set(drawn) == {40}  # never wider than the terminal


def _take_figures_of(draw, *args) -> bytes:
    from digitlab.lesson.runner import _take_figures

    draw(*args)
    return _take_figures()[0]


def test_the_weight_grid_has_tiles_of_100_px_and_readable_titles():
    from digitlab.lesson.tools import show_weights

    fig = show_weights(torch.randn(30, 784))
    fig.set_dpi(90)  # as the lesson saves it
    fig.canvas.draw()
    tiles = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(tiles) == 30
    assert min(ax.get_window_extent().width for ax in tiles) >= 100
    assert min(ax.title.get_fontsize() for ax in tiles) >= 9
    covered = sum(ax.get_window_extent().width * ax.get_window_extent().height for ax in tiles)
    assert covered / (fig.bbox.width * fig.bbox.height) > 0.5  # the tiles fill the canvas, not half of it


def test_html_page_has_prose_code_outputs_and_figures(lesson_run):
    out, _, _ = lesson_run
    html = (out / "lesson.html").read_text()
    page = PageParts(html)
    assert html.rstrip().endswith("</html>") and all(s in page.text for s in SECTIONS)
    prose = PageParts(re.sub(r"<pre.*?</pre>", "", html, flags=re.S)).text
    assert "`" not in prose and "<code>fine_tune</code>" in html  # Markdown rendered: no raw backticks
    assert html.count('<pre class="code">') == sum(c.kind == "code" and not c.hidden for c in lesson_cells())
    assert html.count("<h1>") == 1 and "This lesson follows" in page.text
    assert len(page.images) == FIGURES
    assert "figure drawn by the cell above" not in html  # each figure's alt text says what it shows
    assert '<span class="k">def</span>' in html  # code coloured by Pygments
    for image in page.images:
        image.load()
        assert image.size[0] > 100


def test_the_ten_digit_model_is_saved_and_predicts(lesson_run):
    out, _, results = lesson_run
    model, info = load_model(out)
    assert info.architecture == "mlp" and info.config["hidden"] == 30
    assert info.metrics["ten_valid_accuracy"] == results["ten_valid_accuracy"]
    from digitlab.data import load_source
    from digitlab.models import predict_probs

    test = load_source("mnist").test
    probs = predict_probs(model, test.floats()[:2000])
    assert (probs.argmax(1) == test.labels[:2000]).float().mean() > 0.9


def test_one_source_for_every_form():
    cells = lesson_cells("train.csv", (3, 7), 500)
    assert cells[0].kind == "markdown" and cells[1].parameters
    assert "DATA = 'train.csv'" in cells[1].source and "PAIR = (3, 7)" in cells[1].source
    assert "SUBSET = 500" in cells[1].source and "# the bundled MNIST" in cells[1].source
    parsed = parse_cells("intro\n\n```python caption: a table\nx = 1\n```\n\nafter\n")
    assert [(c.kind, c.source, c.caption) for c in parsed] == [
        ("markdown", "intro", ""),
        ("code", "x = 1", "a table"),
        ("markdown", "after", ""),
    ]


@pytest.mark.slow  # about 26 s (a kernel starts and imports torch): in `make slow`, which CI runs
def test_the_notebook_runs_top_to_bottom_with_the_command_the_lesson_prints(tmp_path):
    """The hint names programs the notebook extra installs (the dev install includes it)."""
    nbformat = pytest.importorskip("nbformat")
    path = tmp_path / "lesson.ipynb"
    result = cli("lesson", "--notebook", path, "--subset", "1200", "--pair", "3", "7")  # quick: a smaller run
    assert result.returncode == 0 and "--open" in result.stdout
    raw = json.loads(path.read_text())
    assert raw["nbformat"] == 4 and raw["cells"][1]["metadata"]["tags"] == ["parameters"]
    nbformat.validate(nbformat.read(path, as_version=4))
    command = " ".join(result.stdout.split()).split("without opening it: ", 1)[1]
    assert "nbconvert --to notebook --execute" in command
    run = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    nb = nbformat.read(path, as_version=4)  # executed in place: the outputs are in the file now
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
    kinds = [k for o in outputs for k in o.get("data", {})]
    assert kinds.count("image/png") == FIGURES  # every figure inline, once
    texts = [o.data["text/plain"] for o in outputs if list(o.get("data", {})) == ["text/plain"]]
    assert not [t for t in texts if t.startswith(("<Axes", "<Figure", "Text("))]  # no plotting reprs
    tables = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) == EPOCH_TABLES and all("<table>" in t and "train_loss" in t for t in tables)


def test_open_starts_jupyterlab_on_the_notebook_or_names_the_install(monkeypatch, tmp_path):
    from digitlab.lesson import jupyter

    started, argv = [], jupyter.jupyterlab_argv
    # a JupyterLab that stops at once, failing unless started with the current folder off its import path
    # (tests/run/test_child_processes.py starts the real one)
    fake = [sys.executable, "-c", "import os, sys; sys.exit(os.environ.get('PYTHONSAFEPATH') != '1')"]
    monkeypatch.setattr(jupyter, "jupyterlab_argv", lambda nb: started.append(argv(nb)) or fake)
    path = tmp_path / "lesson.ipynb"
    assert cli("lesson", "--notebook", path, "--open").returncode == 0
    assert started == [argv(path)] and started[0][-1] == str(path) and path.exists()
    monkeypatch.setattr(jupyter, "has_jupyterlab", lambda: False)
    result = cli("lesson", "--notebook", tmp_path / "other.ipynb", "--open")
    assert result.returncode == 1 and "digitlab[notebook]" in result.stderr
    assert not (tmp_path / "other.ipynb").exists() and len(started) == 1
    assert "first pip install 'digitlab[notebook]'" in cli("lesson", "--notebook", path).stdout
    assert cli("lesson", "--open").returncode == 2  # --open alone is a usage error


def test_lesson_reads_a_kaggle_csv_and_says_only_what_its_run_shows(mnist, tmp_path):
    from tests.helpers import csv_text

    csv = tmp_path / "train.csv"
    csv.write_text(csv_text(mnist.train.images[:3000].numpy(), mnist.train.labels[:3000].numpy()))
    console = Console(file=io.StringIO(), width=80)
    results = run_lesson((4, 9), out=tmp_path / "out", data=str(csv), console=console)
    text = console.file.getvalue()
    assert "3,000 labelled images -> 2,400 to train on, 600 held out" in flat(text)
    assert "this data source has no labelled test set" in flat(text)
    assert check_claims(text, results, (4, 9)) >= 12
    twice = cli("lesson", "--pair", "4", "4")  # a usage error, as a digit out of range is
    assert twice.returncode == 2 and "'--pair'" in twice.stderr and twice.stderr.count("\n") == 1


@pytest.mark.slow  # five more whole lessons, about 3 minutes: in `make slow`
@pytest.mark.parametrize("pair, subset", [((3, 7), None), ((4, 9), 6000), ((1, 7), 2000), ((5, 8), None),
                                          ((2, 6), 1500)])  # fmt: skip
def test_every_claim_holds_over_pairs_and_subsets(tmp_path, pair, subset):
    console = Console(file=io.StringIO(), width=90)
    results = run_lesson(pair, out=tmp_path / "out", subset=subset, console=console)
    assert check_claims(console.file.getvalue(), results, pair) >= 12
    if pair == (3, 7):  # the whole of 3 vs 7: measured linear1 0.98, the Learner 0.98 (the book: about 0.97)
        assert results["scratch_accuracy"] >= 0.96 and results["learner_linear_accuracy"] >= 0.97


def test_too_little_data_or_no_labels_is_one_line_and_writes_nothing(mnist, tmp_path):
    from tests.helpers import csv_text

    out = tmp_path / "out"
    result = cli("lesson", "--subset", "60", "--out", out)  # its 20% held out hold no 0
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: mnist: the lesson's held-out images hold no 0 (60 labelled")
    test_csv = tmp_path / "test.csv"
    test_csv.write_text(csv_text(mnist.train.images[:50].numpy(), None))
    result = cli("lesson", "--data", test_csv, "--out", out)
    no_labels = f"{test_csv}: has no labels; the lesson needs labelled images (train.csv)"
    assert result.returncode == 1 and result.stderr == f"error: {no_labels}\n"
    assert not out.exists()
