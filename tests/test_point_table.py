"""``dse.point_table``: a sweep's planned points as columns equal ``planned_points``' points."""
from __future__ import annotations

import pytest

from accelsim.dse import load_experiment
from accelsim.dse.point_table import planned_table
from accelsim.dse.strategies import planned_points

EXP = "experiments/llama2_7b_decode_10k.yaml"
SMALL_AXES = ("axes={units.sa.rows: [32, 48, 64], units.sa.cols: [16, 128], "
              "units.sa.sram.ifmap_kb: [64, 100.5, 512], memory.dram.bandwidth_gb_s: [128, 256]}")


def _same(exp) -> None:
    slow = planned_points(exp)
    fast = planned_table(exp)
    assert fast is not None
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert a == b and list(a.values) == list(b.values)
        assert [type(v) for v in a.values.values()] == [type(v) for v in b.values.values()]
    for name in slow[0].values:   # whole columns as a list comprehension gives them
        import numpy as np
        ref = np.array([p.values[name] for p in slow])
        got = fast.column(name)
        assert got.dtype == ref.dtype and (got == ref).all(), name


@pytest.mark.parametrize("extra", [
    [],
    ["strategy={kind: random, samples: 7, seed: 3}"],
    ["strategy={kind: random, samples: 1000, seed: 1}"],   # more than there are
])
def test_table_equals_points(extra):
    _same(load_experiment(EXP, [SMALL_AXES, *extra]))


def test_constraints_and_chained_derived_values():
    """An input constraint and a derived value that reads another derived value and a fixed
    config value (``units.sa.sram.double_buffered`` is not swept)."""
    exp = load_experiment(EXP, [SMALL_AXES,
                                "derived={units.sa.sram.filter_kb: units.sa.sram.ifmap_kb * 2, "
                                "units.sa.sram.ofmap_kb: 'units.sa.sram.filter_kb / 4 + "
                                "(1 if units.sa.sram.double_buffered else 0)'}",
                                "archs.sa.constraints=['units.sa.rows * units.sa.cols <= 4096']"])
    pts = planned_points(exp)
    assert 0 < len(pts) < exp.space.size
    _same(exp)
    _same(load_experiment(EXP, [SMALL_AXES, "archs.sa.constraints=['units.sa.rows <= 40']",
                                "strategy={kind: random, samples: 5, seed: 2}"]))


def test_falls_back_where_it_does_not_apply():
    """Several workloads (blocks), or an expression that fails on some point: None (the
    per-point enumeration then raises the located error)."""
    assert planned_table(load_experiment(EXP, [
        SMALL_AXES, "workloads={a: {model: llama2-7b, phase: decode, batch: 1, ctx: 64}, "
        "b: {model: llama2-7b, phase: decode, batch: 2, ctx: 64}}"])) is None
    bad = load_experiment(EXP, [SMALL_AXES, "derived={units.sa.sram.filter_kb: "
                                "'units.sa.sram.ifmap_kb / (units.sa.rows - 48)'}"])
    assert planned_table(bad) is None
    with pytest.raises(Exception, match="cannot compute"):
        planned_points(bad)
