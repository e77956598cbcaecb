"""The Python API's docstring examples run as written, and every public function has one."""

import doctest
import inspect
import io

import digitlab
import digitlab.inference.predictor
import digitlab.run.api
import digitlab.run.model
import digitlab.run.settings
import digitlab.run.training_run

MODULES = (
    digitlab.run.api,
    digitlab.run.model,
    digitlab.run.training_run,
    digitlab.inference.predictor,
    digitlab.run.settings,
)


def test_the_api_s_docstring_examples_run_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # train's example writes runs/doc-linear, which the others load
    finder, report = doctest.DocTestFinder(), io.StringIO()
    tests = [t for m in MODULES for t in finder.find(m, globs={"digitlab": digitlab}) if t.examples]
    tests.sort(key=lambda t: not t.name.endswith(".train"))  # train's first
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in tests:
        runner.run(test, out=report.write)
    ran = {t.name.removeprefix("digitlab.") for t in tests}
    expected = {"run.api.train", "run.api.load", "run.model.Model.predict", "inference.predictor.Prediction"}
    assert expected | {"run.settings.TrainConfig"} <= ran
    assert runner.failures == 0 and runner.tries >= 15, report.getvalue()


def public_functions() -> dict[str, object]:
    """digitlab's API functions and classes, and the public methods and properties of its Model."""
    names = {name: getattr(digitlab, name) for name in digitlab.__all__ if name != "__version__"}
    members = inspect.getmembers(digitlab.Model, lambda m: inspect.isfunction(m) or isinstance(m, property))
    return names | {f"Model.{n}": m for n, m in members if not n.startswith("_")}


def test_every_public_function_of_the_api_has_an_example():
    functions = public_functions()
    assert {"train", "load", "Model.predict", "Model.probs", "Model.evaluate", "Model.module"} <= set(
        functions
    )
    missing = [
        name
        for name, f in functions.items()
        if not inspect.isclass(f) and ">>>" not in (inspect.getdoc(f) or "")
    ]
    assert missing == []


def test_make_docs_shows_the_examples(tmp_path):
    import html
    import re

    import pdoc

    pdoc.pdoc("digitlab", "digitlab.run.api", output_directory=tmp_path)  # as `make docs` renders them
    examples = [
        line.strip()[4:] for line in inspect.getdoc(digitlab.run.api.train).splitlines() if ">>>" in line
    ]
    for page in ("digitlab.html", "digitlab/run/api.html"):  # the root's names are imported lazily
        text = html.unescape(re.sub(r"<[^>]+>", "", (tmp_path / page).read_text()))  # without the tags
        assert examples and all(example in text for example in examples), page
        assert ">>> model.predict(" not in text  # (the check can fail: no such example)
        assert "epochs: int | None = None" in re.sub(r"\s+", " ", text)  # each setting, typed
