"""The plain PyTorch loop `bench.bulk_predict` times `digitlab predict` against, as its own process:
`python bench/plain_predict.py MODEL FOLDER [--invert] [--threads N]`.

What anyone would write: open each file in sorted order with PIL, grey, resize to 28x28 (inverted
for dark ink on white paper), call the model 256 images at a time, print each file's digit.
"""

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from digitlab.modelfiles.model_file import load_model


def main(model_path: str, folder: str, invert: bool, threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)
    model, _ = load_model(model_path)
    model.eval()
    files = sorted(Path(folder).glob("*.png"))
    with torch.inference_mode():
        for start in range(0, len(files), 256):
            names = files[start : start + 256]
            batch = np.stack(
                [
                    np.asarray(Image.open(f).convert("L").resize((28, 28), Image.Resampling.BILINEAR))
                    for f in names
                ]
            )
            x = torch.from_numpy(255 - batch if invert else batch).float().div(255).unsqueeze(1)
            digits = model(x).argmax(1).tolist()
            sys.stdout.write("".join(f"{f}\t{d}\n" for f, d in zip(names, digits, strict=True)))


if __name__ == "__main__":
    options = sys.argv[3:]
    threads = int(options[options.index("--threads") + 1]) if "--threads" in options else None
    main(sys.argv[1], sys.argv[2], "--invert" in options, threads)
