"""`digitlab ensemble`: trained models joined into one model folder that every command accepts."""

import time
from dataclasses import dataclass
from pathlib import Path

from digitlab.data.sources import source_location
from digitlab.errors import DigitlabError
from digitlab.inference.evaluation import Evaluation, evaluate
from digitlab.inference.held_out import HeldOut, held_out, recorded_source
from digitlab.modelfiles.model_file import ModelInfo, load_model, read_info
from digitlab.modelfiles.ownership import writing
from digitlab.modelfiles.publishing import publish_run
from digitlab.models import Ensemble
from digitlab.models.ensemble import MAX_MEMBERS, MEMBER_KINDS, fewest_members
from digitlab.report.html import Page
from digitlab.report.model_report import add_evaluation


@dataclass
class EnsembleResult:
    evaluation: Evaluation  # the ensemble's
    members: list[tuple[str, float, float]]  # (path, accuracy, seconds to predict the split)
    seconds: float  # the ensemble's time to predict the same split
    data: str  # what scored them: 'data: SRC, SPLIT split (N images)'


def make_ensemble(
    paths: list[str | Path], out: str | Path, data: str | None = None, tta: bool = False
) -> EnsembleResult:
    """Load the member models, join them, score all on held-out images, publish OUT.

    `data`: whose test split (else all its labelled images) scores them; None: the members' own data,
    held out as `evaluate` holds it out (`inference.held_out`).
    `tta`: the ensemble also averages each image's one-pixel shifts (then one model is enough).
    """
    fewest = fewest_members(tta)
    if not fewest <= len(paths) <= MAX_MEMBERS:
        hint = "" if tta else " (1 with --tta)"
        raise DigitlabError(f"an ensemble needs {fewest} to {MAX_MEMBERS} models{hint}, got {len(paths)}")
    for path in paths:  # before loading: a model of the user's own class is never imported here
        if (kind := read_info(path).architecture) not in MEMBER_KINDS:
            what = (
                "a model of a class from outside digitlab"
                if kind == "imported"
                else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
            )
            raise DigitlabError(f"{path}: {what} cannot join an ensemble (only {', '.join(MEMBER_KINDS)})")
    loaded = [load_model(p) for p in paths]
    for path, (_, info) in zip(paths, loaded, strict=True):
        first = loaded[0][1]
        if (info.classes, info.input_size, info.preprocessing, info.channels) != (
            first.classes,
            first.input_size,
            first.preprocessing,
            first.channels,
        ):
            raise DigitlabError(
                f"{path}: its classes or input size differ from {paths[0]}'s, or its channels or "
                "preprocessing "
                f"({len(info.classes)} classes of {info.input_size[0]}x{info.input_size[1]} images)"
            )
    scored_on = _held_out(paths, [info for _, info in loaded], data)
    with writing(out) as manifest:  # refused before any scoring when OUT is not digitlab's to write
        return _score_and_publish(paths, loaded, out, scored_on, tta, manifest)


def _held_out(paths: list, infos: list[ModelInfo], data: str | None) -> HeldOut:
    """The images every member is scored on: `data`'s, else the data the members share. A valid split
    is one member's own: the others may have trained on it unless all drew it alike."""
    if data is None:
        sources = {source_location(recorded_source(info)) for info in infos}
        if len(sources) > 1:
            raise DigitlabError(
                f"the members were trained on different data ({', '.join(sorted(sources))}): pass --data"
            )
    scored_on = held_out(infos[0], data)
    drawn = {(info.settings.get("valid_fraction"), info.settings.get("seed")) for info in infos}
    if scored_on.split == "valid" and len(drawn) > 1:
        raise DigitlabError(
            f"{scored_on.source} has no test split and the members held out different valid splits "
            "(each may have trained on another's): pass --data with labelled images none of them trained on"
        )
    return scored_on


def _score_and_publish(
    paths: list, loaded: list, out, scored_on: HeldOut, tta: bool, manifest
) -> EnsembleResult:
    split, dataset, data = scored_on.split, scored_on.data, scored_on.source
    members = []
    for path, (model, _) in zip(paths, loaded, strict=True):
        start = time.perf_counter()
        evaluation, _ = evaluate(model, dataset, split)
        members.append((str(path), evaluation.accuracy, time.perf_counter() - start))
    ensemble = Ensemble.of([model for model, _ in loaded], tta)
    start = time.perf_counter()
    evaluation, _ = evaluate(ensemble, dataset, split)
    seconds = time.perf_counter() - start
    fingerprints = {info.data_fingerprint for _, info in loaded}
    info = ModelInfo.describe(
        ensemble,
        classes=loaded[0][1].classes,
        preprocessing=loaded[0][1].preprocessing,
        settings={"members": [str(Path(p)) for p in paths], "data": data, "tta": tta},
        metrics={
            f"{split}_accuracy": evaluation.accuracy,
            "member_accuracies": [acc for _, acc, _ in members],
        },
        data_fingerprint=fingerprints.pop() if len(fingerprints) == 1 else "",
        data_source=source_location(data),
        seconds={"predict": round(seconds, 3), "members_predict": round(sum(s for *_, s in members), 3)},
    )
    page = Page(f"digitlab ensemble of {len(paths)} models{' with test-time shifts' if tta else ''}")
    page.table(
        [{"member": p, f"{split} accuracy": acc, "seconds": s} for p, acc, s in members]
        + [{"member": "ensemble", f"{split} accuracy": evaluation.accuracy, "seconds": seconds}],
        "members and the ensemble",
    )
    add_evaluation(page, evaluation, dataset, f"The ensemble on the {split} set")
    publish_run(out, manifest, ensemble, info, {"report.html": page.render()})
    return EnsembleResult(evaluation, members, seconds, scored_on.line())
