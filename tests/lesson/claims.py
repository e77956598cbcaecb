"""Every sentence of the lesson that states a result, checked against the numbers of the run that printed it.

The lesson formats these sentences from its values or picks them by a branch; this checker reads
them back from the terminal text and re-derives each one from the run's results (and the numbers
printed beside it), with rules of its own, so a wrong branch, a wrong number or a sentence left
unguarded fails.
"""

import re


def flat(text: str) -> str:
    """The terminal text, each run of whitespace one space: a sentence the console folded is whole again."""
    return " ".join(text.split())


def one(pattern: str, text: str) -> re.Match:
    found = list(re.finditer(pattern, text))
    assert len(found) == 1, (pattern, len(found))
    return found[0]


def compared(a: float, b: float) -> str:
    """The lesson's ReLU comparison, re-derived: within half a point is 'about the same'."""
    gap = 100 * (a - b)
    return (
        "about the same as" if abs(gap) < 0.5 else f"{abs(gap):.1f} points {'above' if gap > 0 else 'below'}"
    )


def check_claims(text: str, r: dict, pair: tuple[int, int]) -> int:
    """Assert every guarded claim of one lesson run; returns how many sentences were checked."""
    t, checked = flat(text), 0
    first_batch = one(r"the first batch holds (\d+) images labelled 1 \(a (\d)\) of (\d+)", t)
    ones, digit, size = map(int, first_batch.groups())
    assert digit == pair[1] and 0 < ones < size  # shuffled: both digits in the first batch
    before = one(r"before training: ([0-9.]+); always answering the commoner digit scores ([0-9.]+)", t)
    assert float(before[1]) == round(r["before_training"], 4) and 0.5 <= float(before[2]) <= 1
    step = one(
        r"one epoch took it from ([0-9.]+) to ([0-9.]+) \(([+-][0-9.]+) points\): "
        r"(a big step|a step up|hardly a change)",
        t,
    )
    gain = r["after_one_epoch"] - r["before_training"]
    assert float(step[1]) == round(r["before_training"], 4) and float(step[2]) == round(
        r["after_one_epoch"], 4
    )
    assert abs(float(step[3]) - 100 * gain) < 0.051
    assert step[4] == ("a big step" if gain >= 0.1 else "a step up" if gain >= 0.01 else "hardly a change")
    checked += 4
    checked += _sorted_batches(t, r, pair)
    checked += _gradients(t)
    checked += _ten_digits(t, r)
    caption = f"trained with mnist_loss and SGD (lr 1.0) on {pair[0]}s and {pair[1]}s"
    assert caption in t and (pair == (0, 1) or "0s and 1s" not in t)
    if pair != (0, 1):  # the notes' two-digit figures are set beside this run's only for their pair
        assert not re.search(
            r"(L1|L2|baseline accuracy|score of training image|bias\.grad)[^:]*: here \S+, notes", t
        )
    return checked + 1


def _sorted_batches(t: str, r: dict, pair: tuple[int, int]) -> int:
    calls = one(rf"the sorted run's model calls (\d+)% of the held-out images a {pair[1]}; (\d+)% are", t)
    said, are = int(calls[1]), int(calls[2])
    leans = f"it leans towards the {pair[0]}s, the digit every sorted epoch ends with" in t
    assert (said <= are - 4) if leans else (said >= are - 6)  # the rule is 5 points; the % are rounded
    cost = r["learner_linear_accuracy"] - r["sorted_accuracy"]
    if cost > 0.01:
        assert float(one(r"sorting the batches cost ([0-9.]+) points", t)[1]) == round(100 * cost, 1)
    elif cost < -0.01:
        assert "the sorted batches ended" in t and "points higher: one run is no rule" in t
    else:
        assert "the order changed the last epoch's accuracy by" in t
    return 2


def _gradients(t: str) -> int:
    slope = float(one(r"this image's score -?[0-9.]+: sigmoid [0-9.]+, slope ([0-9.e+-]+)", t)[1])
    ratio = 0.1160 / max(slope, 1e-30)
    smaller = re.search(r"so this run's gradients are ([0-9,]+)x smaller than the notes'", t)
    larger = re.search(r"so this run's gradients are (\d+)x larger than the notes'", t)
    if ratio > 3.05:  # the slope is printed to 3 figures: a ratio within 2% of the rule's 3 goes either way
        assert smaller and abs(int(smaller[1].replace(",", "")) - ratio) <= 0.02 * ratio + 0.5
    elif ratio < 1 / 3.05:
        assert larger
    elif 1 / 2.95 < ratio < 2.95:
        assert "so this run's gradients are about the notes' size" in t
    return 1


def _ten_digits(t: str, r: dict) -> int:
    flatters = "the images it trained on flatter it, as they usually do" in t
    assert flatters == (r["ten_train_accuracy"] > r["ten_valid_accuracy"])
    assert ("the notes' 0.9975 is higher still" in t) == (r["ten_train_accuracy"] < 0.9975)
    relu = (
        "without ReLU the two Linears score "
        f"{compared(r['no_relu_accuracy'], r['linear_accuracy'])} one Linear; "
        f"with ReLU, {compared(r['relu_accuracy'], r['no_relu_accuracy'])} the net without"
    )
    assert relu in t
    counts = re.findall(r"784-128-64-10: [0-9.]+ with ([0-9,]+) weights", t)
    cnn = one(r"CNN, one epoch over [0-9,]+ images: [0-9.]+ with ([0-9,]+) weights", t)[1]
    ratio = int(counts[0].replace(",", "")) / int(cnn.replace(",", ""))
    assert f"the deeper net has {ratio:.0f}x the CNN's weights" in t if ratio >= 1 else "the CNN has" in t
    hidden = one(r"simple_net, 30 hidden units and a ReLU: ([0-9.]+) \(([+-][0-9.]+) points\)", t)
    assert float(hidden[1]) == round(r["net_accuracy"], 4)
    assert abs(float(hidden[2]) - 100 * (r["net_accuracy"] - r["learner_linear_accuracy"])) < 0.0051
    return 4
