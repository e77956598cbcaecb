"""Ensembles of one preset's models against their members, with and without test-time shifts:
accuracy and the price in prediction time."""

import statistics
import tempfile
from pathlib import Path

from bench.timing import command_line, timed
from digitlab.run.api import train as train_model
from digitlab.run.joining import make_ensemble
from digitlab.run.settings import TrainConfig


def section(preset: str = "fast", seeds: int = 5, command: str = "") -> str:
    """Ensembles of 3 and of `seeds` models of one preset against its members, on the test set; then
    1, 3 and `seeds` of them with test-time shifts (`digitlab ensemble --tta`)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        members = [Path(tmp) / f"seed{s}" for s in range(seeds)]
        configs = [TrainConfig(preset=preset, seed=s, out=str(m)) for s, m in enumerate(members)]
        train_s = [timed(train_model, config, quiet=True)[0] for config in configs]
        for n, tta in ((3, False), (seeds, False), (1, True), (3, True), (seeds, True)):
            r = make_ensemble(members[:n], Path(tmp) / f"ensemble{n}{'-tta' if tta else ''}", tta=tta)
            accs = [a for _, a, _ in r.members]
            single_s = statistics.median(s for *_, s in r.members)
            rows.append(
                f"| {n}{' + shifts' if tta else ''} | "
                f"{statistics.mean(accs):.4f} ({min(accs):.4f}-{max(accs):.4f}) | "
                f"**{r.evaluation.accuracy:.4f}** | {sum(train_s[:n]):.0f} | {r.seconds:.2f} "
                f"({r.seconds / single_s:.1f}x one member) |"
            )
    run = command_line(command)
    return (
        "## Ensembles\n\n" + run + f"`digitlab ensemble` over {preset}-preset models trained with seeds "
        f"0, 1, ...; test accuracy on the 10,000 official test images; prediction time for all of them "
        "(batches of 1,000) against the median member's. + shifts: `--tta`, each image and its four "
        "one-pixel moves averaged too (one model is then enough).\n\n"
        "| models | members' accuracy: mean (range) | ensemble accuracy | training seconds (sum) | "
        "prediction seconds |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
