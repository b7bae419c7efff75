"""Fold-class systolic costs equal the per-fold model they replace (tests/systolic_perfold_ref.py)
bit for bit: per-fold cycles and DRAM bytes (expanded), totals, actions and details, over a
seeded random sample of GEMM shapes x dataflows x array and SRAM sizes x options."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from systolic_perfold_ref import PerFoldSystolicArray  # noqa: E402

from accelsim.arch.folds import FoldClasses, Seq  # noqa: E402
from accelsim.arch.units.systolic import SystolicArray, SystolicConfig  # noqa: E402
from accelsim.workload.ops import Gemm  # noqa: E402


def _configs(rng: random.Random, n: int):
    for _ in range(n):
        yield dict(rows=rng.choice([1, 2, 3, 4, 8, 16, 32, 48, 128]),
                   cols=rng.choice([1, 2, 3, 5, 8, 16, 32, 64, 96]),
                   dataflow=rng.choice(["os", "ws", "is"]),
                   fold_overlap=rng.random() < 0.8,
                   stationary_double_buffer=rng.random() < 0.8,
                   stream_tiling=rng.random() < 0.7,
                   pe_dtype=rng.choice(["int8", "bf16"]),
                   weight_dequant=rng.random() < 0.2,
                   sram=dict(ifmap_kb=rng.choice([0.25, 1, 4, 64, 1024]),
                             filter_kb=rng.choice([0.25, 1, 4, 64, 1024]),
                             ofmap_kb=rng.choice([0.25, 1, 4, 64, 1024]),
                             double_buffered=rng.random() < 0.7))


def _op(rng: random.Random, pe: str) -> Gemm:
    dims = [1, 2, 3, 7, 16, 33, 64, 100, 257, 1000]
    batch = rng.choice([1, 1, 2, 3, 5])
    b_dt = rng.choice(["int8", "int4"]) if pe == "int8" else rng.choice(["bf16", "int4"])
    a_dt = "int8" if pe == "int8" else "bf16"
    gs = rng.choice([None, 32, 128]) if b_dt == "int4" else None
    return Gemm("g", m=rng.choice(dims), n=rng.choice(dims), k=rng.choice(dims), batch=batch,
                dtype=a_dt, w_dtype=b_dt, group_size=gs,
                b_shared=rng.random() < 0.5 if batch > 1 else False)


def _same(a, b) -> None:
    if a is None or b is None:
        assert (a is None or not a.any()) and (b is None or not b.any())
        return
    assert a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("seed", range(4))
def test_fold_classes_equal_per_fold(seed: int) -> None:
    rng = random.Random(seed)
    checked = 0
    for c in _configs(rng, 60):
        cfg = SystolicConfig(**c)
        new, old = SystolicArray("sa", cfg), PerFoldSystolicArray("sa", cfg)
        for _ in range(6):
            op = _op(rng, c["pe_dtype"])
            if not old.accepts(op):
                continue
            a, b = new._cost(op), old._cost(op)
            d = a.tiles.dense()
            assert a.tiles.classes is not None and a.tiles.n == b.tiles.n
            assert a.tiles.compute.shape[0] <= 2 * 27 * 2
            assert np.array_equal(d.compute, b.tiles.compute)
            assert d.tail == b.tiles.tail and d.double_buffered == b.tiles.double_buffered
            for ta, tb in zip(d.traffic, b.tiles.traffic):
                _same(ta.read, tb.read)
                _same(ta.write, tb.write)
            assert a.compute_cycles == b.compute_cycles
            assert a.actions == b.actions and a.detail == b.detail and a.bytes == b.bytes
            checked += 1
    assert checked > 150


def _pairs_of(ids) -> dict:
    want: dict = {}
    for x, y in zip(ids[:-1], ids[1:]):
        want[(int(x), int(y))] = want.get((int(x), int(y)), 0) + 1
    return want


def test_sequence_pairs_and_counts() -> None:
    order = Seq.cat([0, Seq.rep(Seq.cat([1, 2]), 3), 3])
    fc = FoldClasses(order, 4)
    ids = fc.expand()
    assert ids.tolist() == [0, 1, 2, 1, 2, 1, 2, 3]
    assert fc.counts.tolist() == [1, 3, 3, 1] and fc.n == 8 and (fc.first, fc.last) == (0, 3)
    pa, pb, pn = fc.pairs
    assert {(int(x), int(y)): int(n) for x, y, n in zip(pa, pb, pn)} == _pairs_of(ids)
    # runs of one class, nested repeats
    order = Seq.cat([0, Seq.rep(1, 4), Seq.rep(Seq.cat([2, Seq.rep(3, 2)]), 2), Seq.rep(4, 1)])
    fc = FoldClasses(order, 5)
    ids = fc.expand()
    assert ids.tolist() == [0, 1, 1, 1, 1, 2, 3, 3, 2, 3, 3, 4]
    assert fc.counts.tolist() == [1, 4, 2, 4, 1] and fc.n == 12
    pa, pb, pn = fc.pairs
    assert {(int(x), int(y)): int(n) for x, y, n in zip(pa, pb, pn)} == _pairs_of(ids)


def _per_fold(monkeypatch) -> None:
    for name in ("_cost", "_stream_plan", "_pass", "fold_schedule"):
        monkeypatch.setattr(SystolicArray, name, getattr(PerFoldSystolicArray, name))


@pytest.mark.parametrize("fidelity", ["analytical", "op", pytest.param("tile", marks=pytest.mark.slow)])
def test_simulated_results_equal_the_per_fold_model(monkeypatch, fidelity: str) -> None:
    """Whole runs: cycles of every op within 1e-12 (the latency sums over class pairs run in
    another order), DRAM bytes and energy equal, on LLM decode and prefill and odd GEMMs."""
    import accelsim
    from accelsim.workload import Trace, zoo
    from conftest import sa_arch

    def traces():
        yield zoo.build_trace("llama2-7b", phase="decode", batch=4, ctx=256)
        yield zoo.build_trace("opt-6.7b", phase="prefill", batch=1, prompt=96)
        yield Trace.from_ops("odd", [Gemm("g", m=300, n=77, k=1000, dtype="bf16"),
                                     Gemm("h", m=5, n=4096, k=333, dtype="bf16", batch=3)])

    archs = [lambda df=df, db=db: sa_arch(16, 24, df, overlap=True, bw=32, sram_kb=16,
                                          double_buffered=db, vector=True, pe="bf16")
             for df in ("os", "ws", "is") for db in (True, False)]
    got = [[accelsim.simulate(a(), tr, fidelity) for tr in traces()] for a in archs]
    _per_fold(monkeypatch)
    want = [[accelsim.simulate(a(), tr, fidelity) for tr in traces()] for a in archs]
    for rs, ws in zip(got, want):
        for r, w in zip(rs, ws):
            assert r.columns["end"].shape == w.columns["end"].shape
            assert np.allclose(r.columns["end"], w.columns["end"], rtol=1e-12, atol=0)
            sr, sw = r.summary(), w.summary()
            assert sr["bytes"] == sw["bytes"]
            assert sr.get("energy_j") == pytest.approx(sw.get("energy_j"), rel=1e-12)
