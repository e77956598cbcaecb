"""Whether training data look like MNIST's digits: what picks a preset's augmentation.

Digit-like data get the digits' augmentation (turns, pen widths, never a mirror image); any other
pictures a milder one. The rule, stated once here (and in docs/training.md): ten classes numbered
0..9 (no names but the digits'), grey, 28x28, and a blank background, at least `BLANK` of the pixels
darker than 0.1 (pen strokes on paper). MNIST has 83% of its pixels so dark, Fashion-MNIST 55%: its
ten numbered grey 28x28 classes are clothes, and the rule sees it.
"""

from digitlab.data.dataset import Splits

BLANK = 0.7  # between MNIST's 0.83 and Fashion-MNIST's 0.55 (their first 2,000 training images)
SAMPLE = 2000  # images the background is measured on: a few milliseconds


def digit_like(splits: Splits) -> tuple[bool, str]:
    """Whether `splits` look like digits, and why, in words made from the data."""
    images = splits.train.images
    channels = 1 if images.dim() == 3 else images.shape[1]
    labels = [str(c) for c in splits.class_labels()]  # names "0".."9" are digits' too
    size = "x".join(map(str, splits.image_size))
    blank = (images[:SAMPLE].float() < 0.1 * 255).float().mean().item()
    numbered = labels == [str(d) for d in range(10)]
    named = "named " if splits.train.classes is not None and not numbered else ""
    facts = [
        (numbered, "10 classes 0..9" if numbered else f"{len(labels)} {named}classes"),
        (channels == 1, f"{channels} channel{'s' if channels > 1 else ''}"),
        (size == "28x28", size),
        (blank >= BLANK, f"{blank:.0%} of pixels blank (digits: >= {BLANK:.0%})"),
    ]
    if all(ok for ok, _ in facts):
        return True, "digit-like: " + ", ".join(text for _, text in facts)
    return False, "not digit-like: " + ", ".join(text for ok, text in facts if not ok)
