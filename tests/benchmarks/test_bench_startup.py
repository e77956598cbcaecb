"""The start-up section says what its figures say."""

from bench.startup import TARGET, section


def figures(digitlab_median: float) -> dict:
    return {"repeats": 3, "digitlab_min": 0.1, "digitlab_median": digitlab_median, "torch_min": 1.4,
            "torch_median": 1.5, "ratio": digitlab_median / 1.5}  # fmt: skip


def test_the_section_says_within_the_target_only_when_the_ratio_is():
    fast, slow = section(figures(0.15)), section(figures(1.2))
    assert "0.10x" in fast and f"within issue #41's {TARGET}x" in fast and "| 0.150 |" in fast
    assert "0.80x" in slow and "above issue #41's" in slow and "within" not in slow
