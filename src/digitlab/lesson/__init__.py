"""`digitlab lesson`: the whole MNIST-basics lesson, measured live, printed and saved as one page."""

import time
from pathlib import Path

import torch
from rich.console import Console

from digitlab.checkpoint import save_model
from digitlab.data import load_source
from digitlab.fileio import write_text_atomic
from digitlab.lesson import binary, ten
from digitlab.lesson.story import Story


def run_lesson(
    pair: tuple[int, int] = (0, 1),
    out: str | Path = "runs/lesson",
    subset: int | None = None,
    console: Console | None = None,
) -> dict:
    """Run every section; returns the measured numbers. `subset` caps the training images (tests)."""
    start = time.perf_counter()
    console = console or Console(highlight=False)
    if pair[0] == pair[1] or not all(0 <= d <= 9 for d in pair):
        raise ValueError(f"--pair needs two different digits 0..9, got {pair[0]} {pair[1]}")
    story = Story(f"The MNIST basics lesson, digits {pair[0]} and {pair[1]}", console)
    source = load_source("mnist")
    data = source.train if subset is None else source.train.select(torch.arange(subset))
    train, valid = data.split(0.2, seed=1337)
    results = {"pair": list(pair), "train_size": len(train), "valid_size": len(valid)}

    dls = binary.pair_data(story, train, valid, pair)
    results["baseline_accuracy"] = binary.baseline(story, dls, pair)
    results["scratch_linear_accuracy"] = binary.linear_from_scratch(story, dls)
    results["learner_linear_accuracy"] = binary.linear_with_learner(story, dls)
    results["mlp_binary_accuracy"] = binary.two_layer_net(story, dls)

    splits, ten_dls = ten.ten_digit_loaders(train, valid)
    learn, ten_results = ten.all_ten_digits(story, splits, ten_dls, source.test)
    results.update(ten_results)
    results.update(ten.what_the_notes_got_wrong(story, splits, ten_dls))

    out = Path(out)
    save_model(
        learn.model,
        out,
        classes=list(range(10)),
        metrics=ten_results,
        normalization={"mean": splits.mean, "std": splits.std},
        data_fingerprint=train.fingerprint(),
    )
    results["seconds"] = time.perf_counter() - start
    story.section("Done")
    story.say(
        f"The lesson took {results['seconds']:.1f} s. The 10-digit model is saved in {out}/ "
        f"(try: digitlab predict {out} some-digit.png)."
    )
    write_text_atomic(out / "lesson.html", story.page.render())
    console.print(f"wrote {out / 'lesson.html'}")
    return results
