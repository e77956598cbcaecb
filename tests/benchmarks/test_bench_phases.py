"""bench/phases.py: each phase is found by its function in a real profile, and the table's shares
are of the process's CPU time (on a made-up process; the real one trains for minutes)."""

import cProfile
import pstats
import time

import torch
from bench import phases

from digitlab.data.dataset import Dataset
from digitlab.data.holdout import hold_out


def test_a_profiled_holdout_is_charged_to_its_phase_alone():
    data = Dataset(torch.randint(0, 256, (200, 28, 28), dtype=torch.uint8), torch.randint(0, 10, (200,)))
    profile = cProfile.Profile(time.process_time)
    profile.runcall(hold_out, data, None, 0.1, 0)
    found = phases._phases(pstats.Stats(profile))
    assert found["holdout split"] > 0
    assert all(v == 0 for k, v in found.items() if k not in ("holdout split", "imports (all of the run's)"))


def test_the_table_gives_shares_of_the_process_cpu_time():
    found = dict.fromkeys(phases.PHASES, 0.0) | {
        "training (fit_one_cycle)": 6.0,
        "imports (all of the run's)": 1.0,
    }
    text = phases.section({"seed": 0, "wall": 9.0, "cpu": 10.0, "profiled": 8.0, "phases": found})
    assert "| training (fit_one_cycle) | 6.00 | 60.0% |" in text
    assert f"| {phases.OTHER} | 2.00 | 20.0% |" in text
    assert "| start-up and exit (outside the profile) | 2.00 | 20.0% |" in text
