"""Issue 16: start-up and single-step speed work leaves results bit-identical.

tests/fixtures/speed_pins.json holds, per case of tests/speed_pin_cases.py, the SHA-256 of the
full result JSON (summary, actions, cost, units, every per-op row) computed by the code before
that work (main @ 64f99e8). Each case is simulated twice in one process, so memoised costs
must give the cold result again.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from speed_pin_cases import CASES, compute  # noqa: E402

PINS = json.loads((Path(__file__).parent / "fixtures" / "speed_pins.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_result_bit_identical_to_pin(case):
    pin = PINS[case[0]]
    for _ in range(2):  # cold, then with every memo warm
        got = compute(case)
        assert got["cycles"] == pin["cycles"]
        e, pe = got["energy_j"], pin["energy_j"]
        assert (math.isnan(e) and math.isnan(pe)) or e == pe
        assert got["sha256"] == pin["sha256"]
