"""`explain`: why the model said what it said, image by image."""

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import typer
from rich.table import Table
from rich.text import Text

from digitlab.cli.common import (
    OWN_DATA_HELP,
    SRC_HELP,
    as_is_option,
    number_option,
    out,
    say,
    trust_code_option,
)
from digitlab.errors import plain


def explain(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    paths: list[Path] = typer.Argument(
        None, help="Image files or folders of images (none: the model's worst mistakes on its held-out data)."
    ),
    out_dir: Path = typer.Option(None, "--out", help="Write a figure per image here (PNG)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array, maps as 28x28 rows."),
    engine: Literal["torch", "onnx"] = typer.Option(
        "torch", help="torch, or onnx (occlusion instead of gradients)."
    ),
    data: str = typer.Option(
        None,
        help=SRC_HELP + ": with no IMAGE, the data whose worst mistakes are explained" + OWN_DATA_HELP,
        show_default=False,
    ),
    top: int = number_option("top", 3, "--top", help="With no IMAGE: how many of the worst mistakes."),
    trust_code: bool = trust_code_option(),
    as_is: bool = as_is_option(),
):
    """The input digitlab used, the top 3 digits, and which pixels pushed towards the prediction and
    the runner-up (red) or away (blue); then the evidence erased and the model asked again. With no
    IMAGE: the model's worst mistakes on its own held-out data (or --data's)."""
    from digitlab.inference.predictor import Predictor
    from digitlab.modelfiles.ownership import OwnedFiles
    from digitlab.report.attribution import explanation_png

    predictor = Predictor.load(model, engine, trust_code, as_is)
    cases = _images(predictor, paths) if paths else _mistakes(predictor, data, top, as_json)
    names = [f"{number:04d}-{stem}.png" for number, (stem, _) in enumerate(cases)]
    writer = OwnedFiles(out_dir) if out_dir is not None else None
    defined: list[str] = []  # the terms explained so far: each once, where it is first used
    results = []
    if writer is not None:
        writer.claim(names)  # refused here, before anything is written, if a name is the user's
    for name, (_, explained) in zip(names, cases, strict=True):
        prediction, explanation = explained()
        path = prediction.path
        results.append((prediction, explanation))
        if writer is not None and explanation is not None and prediction.input is not None:
            writer.write(name, explanation_png(explanation, prediction.input, str(path)))
        if prediction.error:  # on stderr with --json too: the array's entry holds it, the reader is told
            print(f"error: {plain(prediction.error)}", file=sys.stderr)
        elif as_json:
            continue
        elif explanation is None:
            say(f"{path}: {'nothing' if predictor.info.named else 'no digit'} (the image is blank)")
        else:
            _show(str(path), explanation, prediction.input, defined)
    if as_json:
        print(json.dumps([_json(p, e) for p, e in results], allow_nan=False))
    if writer is not None:
        _saved(writer, sum(e is not None for _, e in results), as_json)
    if any(p.error for p, _ in results):
        sys.exit(1)


def _images(predictor, paths: list[Path]) -> list[tuple[str, Callable]]:
    """Each image file (folders expanded, sorted): its name's stem and how to explain it."""
    from digitlab.inference.explanation import explain_file
    from digitlab.inference.preparing import image_files

    files = [found for path in paths for found in (image_files(path, []) if path.is_dir() else [path])]
    return [(path.stem, functools.partial(explain_file, predictor, str(path))) for path in files]


def _mistakes(predictor, data: str | None, top: int, as_json: bool) -> list[tuple[str, Callable]]:
    """The `top` worst mistakes on the model's held-out data (or `data`'s), the data named first."""
    from digitlab.inference.explanation import explain_top_losses
    from digitlab.inference.held_out import held_out

    scored = held_out(predictor.info, data)
    explained = explain_top_losses(predictor, scored.data, scored.split, top)
    none = [f"no mistakes on these {len(scored.data):,} images to explain: give IMAGE files"]
    for line in [scored.line(), *([] if explained else none)]:  # with --json, stdout holds the array alone
        print(plain(line), file=sys.stderr) if as_json else say(line)
    return [(f"{scored.split}-{index}", _done(p, e)) for index, p, e in explained]


def _done(prediction, explanation) -> Callable:
    """An explanation already made, in the form `_images` gives one still to make."""
    return lambda: (prediction, explanation)


def _saved(writer, written: int, as_json: bool) -> None:
    """Record the figures as digitlab's (a later run replaces them only if unchanged), and say so."""
    writer.save()
    if not as_json:
        say(f"wrote {written} figures to {writer.folder}/")


def _json(prediction, explanation) -> dict:
    return {**prediction.to_json(), **(explanation.to_json() if explanation is not None else {})}


def _show(name_of_file: str, explanation, digit_image, defined: list[str]) -> None:
    """One image's answer and maps; `defined`: the terms already explained (each new one is, once)."""
    from digitlab.inference.explanation import terms_in
    from digitlab.report.attribution import terminal_map

    (digit, p), rest = explanation.top[0], explanation.top[1:]
    name = explanation.name
    others = ", ".join(f"{name(d)} ({q:.3f})" for d, q in rest)
    say(f"{name_of_file}: {name(digit)} ({p:.3f}); then {others}")
    say(f"  method: {explanation.method}")
    for term in terms_in(explanation.method):
        if term not in defined:
            say(f"    {term}")
            defined.append(term)
    runner_up = explanation.top[1][0]
    grid = Table.grid(padding=(0, 3))
    grid.add_row(Text(plain(f"why {name(digit)}")), Text(plain(f"why {name(runner_up)}")))  # text, not markup
    colour = out.color_system is not None
    grid.add_row(
        terminal_map(explanation.maps[digit], digit_image, colour),
        terminal_map(explanation.maps[runner_up], digit_image, colour),
    )
    out.print(grid)
    what = "class" if explanation.named else "digit"
    say(
        f"  red: pushed towards the {what}; blue: pushed away; each map on its own scale"
        if colour
        else f"  # + pushed towards the {what}, = - pushed away (strong, weak); . ink that did little"
    )
    e_digit, e_p = explanation.erased_top
    verdict = "changed its mind" if e_digit != digit else "still says the same"
    n = explanation.erased_pixels
    say(f"  the evidence erased ({n} pixels): {name(e_digit)} ({e_p:.3f}), the model {verdict}")
