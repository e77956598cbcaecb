"""The serving capacity section's words come from its loads: the table, and where shedding started."""

from bench import serving
from bench.stamp import figures_in


def _load(clients: int, rps: float, p99: float, shed: int = 0) -> dict:
    return {"clients": clients, "answered": int(rps * 10), "shed": shed, "errors": 0, "seconds": 10.0,
            "requests_per_s": rps, "p50_ms": p99 / 3, "p99_ms": p99}  # fmt: skip


def test_the_section_gives_medians_minimums_and_where_shedding_started(monkeypatch):
    rounds = {(name, n): [_load(n, 100 + i, 50.0 * (i + 1)) for i in range(3)]
              for name in serving.SERVERS for n in serving.CLIENTS}  # fmt: skip
    monkeypatch.setattr(serving, "capacity", lambda model, r, q: rounds)
    levels = [_load(32, 150, 300), _load(64, 140, 600), _load(128, 120, 900, shed=40)]
    monkeypatch.setattr(serving, "ramp", lambda model, lv, s: levels)
    text = serving.capacity_section("model", "python -m bench --only serving")
    assert "| 2 workers | 32 | 101 | 100 | 33.3 | 100.0 | 0 | 0 |" in text  # medians of 3, the lowest req/s
    assert (
        "load shedding starts at **128 clients**, where 3.2% of the answers were 503 or 429; at 64 none was"
        in text
    )
    assert "| 128 | 1,200 | 120 | 300 | 900 | 40 | 0 |" in text
    assert "within 2 ms" in text and "over 50 ms late or 64 requests" in text
    figures = figures_in(text)
    assert figures["w1_c32_p99"] == "100.0 ms" and figures["off_c8_rps"] == "101"
    assert figures["shedding"] == "shedding started at 128 clients"


def test_a_ramp_that_never_shed_says_so():
    levels = [_load(32, 150, 300), _load(512, 140, 2600)]
    assert "no level up to 512 clients was shed" in serving._shedding(levels)
    assert serving._shed_figures(levels) == {"shedding": "no level was shed", "ramp_top": "512"}
