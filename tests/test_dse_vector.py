"""The vectorised systolic evaluator (accelsim.dse.vector) equals one-point simulation bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from accelsim import simulate
from accelsim.dse import load_experiment
from accelsim.dse import evaluate as ev
from accelsim.dse.vector import NotVectorisable, SystolicGrid
from accelsim.workload.zoo import build_trace

EXP = "experiments/llama2_7b_decode_1m.yaml"


@pytest.fixture(scope="module")
def exp():
    return load_experiment(EXP)


def _points(seed: int, n: int) -> np.ndarray:
    """Random points: odd and even shapes, SRAM from tiny (streaming) to large (resident)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice([16, 17, 48, 80, 127, 128, 144, 320], n)
    cols = rng.choice([16, 32, 61, 112, 128, 304], n)
    sram = rng.choice([1, 8, 64, 256, 513, 2048, 12800], n).astype(float)
    bw = rng.choice([64, 100, 640, 1111, 3200], n).astype(float)
    return np.stack([rows, cols, sram, sram, sram / 2, bw], axis=1)


def _reference(exp, fixed: dict, p: np.ndarray, trace) -> dict[str, float]:
    r, c, s1, s2, s3, bw = p
    vals = dict(fixed)
    vals.update({"units.sa.rows": int(r), "units.sa.cols": int(c),
                 "units.sa.sram.ifmap_kb": float(s1), "units.sa.sram.filter_kb": float(s2),
                 "units.sa.sram.ofmap_kb": float(s3), "memory.dram.bandwidth_gb_s": float(bw)})
    s = simulate(ev.point_arch(exp, exp.bases["sa"], vals), trace, "analytical").summary()
    out = {k: s[k] for k in ("cycles", "latency_s", "compute_cycles", "stall_cycles", "macs",
                             "flops")}
    out.update({f"bytes.{k}": v for k, v in s["bytes"].items()})
    return out


CASES = [
    ("ws", {}, dict(phase="decode", batch=16, ctx=2048)),
    ("os", {"units.sa.dataflow": "os"}, dict(phase="decode", batch=16, ctx=2048)),
    ("is", {"units.sa.dataflow": "is"}, dict(phase="decode", batch=4, ctx=512)),
    ("ws-no-overlap", {"units.sa.fold_overlap": False}, dict(phase="decode", batch=16, ctx=256)),
    ("is-single-buffer", {"units.sa.dataflow": "is", "units.sa.sram.double_buffered": False,
                          "units.sa.stationary_double_buffer": False},
     dict(phase="decode", batch=8, ctx=256)),
    # prefill: the streamed M exceeds the rows, so the stream plan compares chunkings
    ("ws-prefill", {}, dict(phase="prefill", batch=1, ctx=192)),
]


@pytest.mark.parametrize("name,fixed,wl", CASES, ids=[c[0] for c in CASES])
def test_rows_equal_per_point_simulation(exp, name, fixed, wl):
    trace = build_trace("llama2-7b", **wl)
    pts = _points([c[0] for c in CASES].index(name), 6)
    grid = SystolicGrid(ev.point_arch(exp, exp.bases["sa"], fixed), trace)
    out = grid.evaluate(*pts.T)
    for i, p in enumerate(pts):
        ref = _reference(exp, fixed, p, trace)
        got = {k: float(out[k][i]) for k in ref}
        assert got == {k: float(v) for k, v in ref.items()}, (name, p)


def test_shared_configs_and_order_do_not_change_values(exp):
    """A point's values do not depend on which other points are evaluated with it."""
    trace = build_trace("llama2-7b", phase="decode", batch=16, ctx=2048)
    grid = SystolicGrid(ev.point_arch(exp, exp.bases["sa"], {}), trace)
    pts = _points(7, 40)
    whole = grid.evaluate(*pts.T, chunk=7)
    perm = np.random.default_rng(3).permutation(len(pts))
    part = grid.evaluate(*pts[perm].T)
    for k, v in whole.items():
        assert np.array_equal(v[perm], part[k]), k


def test_refuses_what_it_cannot_evaluate(exp):
    trace = build_trace("llama2-7b", phase="decode", batch=1, ctx=128)
    arch = ev.point_arch(exp, exp.bases["sa"], {})
    with pytest.raises(NotVectorisable):
        SystolicGrid(arch, trace, unit="vec")


def test_bad_point_shapes_are_one_clear_error(exp):
    from accelsim.errors import AccelsimError
    trace = build_trace("llama2-7b", phase="decode", batch=1, ctx=128)
    grid = SystolicGrid(ev.point_arch(exp, exp.bases["sa"], {}), trace)
    with pytest.raises(AccelsimError, match="one value per point"):
        grid.evaluate([16, 32], [16], [256], [256], [128], [64])


@pytest.mark.parametrize("name,fixed,wl", CASES[:3] + CASES[4:5], ids=[c[0] for c in CASES[:3] + CASES[4:5]])
def test_cost_columns_equal_per_point_rows(exp, name, fixed, wl):
    """Energy, power, area, efficiency and token columns equal ``Evaluator.run``'s metrics."""
    from accelsim.dse.vector_cost import price
    trace = build_trace("llama2-7b", **wl)
    pts = _points(10 + [c[0] for c in CASES].index(name), 6)
    grid = SystolicGrid(ev.point_arch(exp, exp.bases["sa"], fixed), trace)
    out = grid.evaluate(*pts.T)
    tokens = exp.workloads["decode"].tokens(trace, {})
    out.update(price(grid, out["latency_s"], out["macs"], out["cycles"], out["flops"], tokens))
    for i, p in enumerate(pts):
        r, c, s1, s2, s3, bw = p
        vals = dict(fixed)
        vals.update({"units.sa.rows": int(r), "units.sa.cols": int(c),
                     "units.sa.sram.ifmap_kb": float(s1), "units.sa.sram.filter_kb": float(s2),
                     "units.sa.sram.ofmap_kb": float(s3), "memory.dram.bandwidth_gb_s": float(bw)})
        summary = simulate(ev.point_arch(exp, exp.bases["sa"], vals), trace,
                           "analytical").summary()
        ref = ev.metrics_of(summary, tokens)
        for k, v in ref.items():
            if k in out:
                got = float(out[k][i])
                assert got == v or (np.isnan(got) and np.isnan(v)), (name, p, k, got, v)
        missing = {k for k in ref if k not in out} - {"ops", "clock_hz", "fits_memory",
                                                      "resident_bytes"}
        assert not missing, missing


def test_experiment_columns_equal_evaluator_rows():
    """Every metric column of ``Evaluator.run``'s rows on a random sample of the 1M-point
    experiment, and the parameter values, from ``vector_sweep.evaluate_columns``."""
    from accelsim.dse.strategies import planned_points
    from accelsim.dse.vector_sweep import applies, evaluate_columns
    exp = load_experiment(EXP, ["strategy={kind: random, samples: 12, seed: 5}"])
    assert applies(exp) is None
    points = planned_points(exp)
    cols = evaluate_columns(exp, points)
    evr = ev.Evaluator(exp)
    skip = {"key", "config", "config_hash", "base", "family", "workload", "status", "error",
            "fidelity", "accelsim_version", "arch_name", "trace_name"}
    for i, p in enumerate(points):
        row = evr.run(ev.resolve(exp, p))
        assert row["status"] == "ok"
        for k, v in row.items():
            if k in skip:
                continue
            got = cols[k][i]
            assert got == v or (np.isnan(float(got)) and np.isnan(float(v))), (k, got, v)
        assert set(cols) - {"point"} <= set(row), set(cols) - set(row)


def test_applies_says_why_not(exp):
    """Tile fidelity is refused (an op alone replays the tile recurrence); op fidelity, whose
    chains are the closed forms back to back, is taken (the 10k op-fidelity experiment)."""
    from accelsim.dse.vector_sweep import applies
    assert "fidelity" in applies(load_experiment(EXP, ["fidelity=tile"]))
    assert applies(load_experiment(EXP, ["fidelity=op"])) is None
    assert applies(load_experiment("experiments/llama2_7b_decode_10k.yaml")) is None
    moe = load_experiment(EXP, ["workloads={moe: {model: mixtral-8x7b, phase: decode, "
                                "batch: 4, ctx: 256}}", "fidelity=op"])
    from accelsim.dse.strategies import planned_points
    from accelsim.dse.vector_sweep import evaluate_columns
    with pytest.raises(NotVectorisable, match="chain"):   # experts overlap: not a chain
        evaluate_columns(moe, planned_points(moe)[:3])


@pytest.mark.parametrize("path,fidelity", [(EXP, "analytical"),
                                           ("experiments/llama2_7b_decode_10k.yaml", "op")])
def test_full_rows_equal_evaluator_rows(path, fidelity):
    """Every column of ``Evaluator.run``'s rows, keys and configs included, from
    ``vector_sweep.row_columns`` on a random sample (values and types), at analytical
    fidelity and on the op-fidelity 10k experiment."""
    from accelsim.dse.strategies import planned_points
    from accelsim.dse.vector_sweep import row_columns
    exp = load_experiment(path, ["strategy={kind: random, samples: 10, seed: 9}"])
    assert exp.fidelity == fidelity
    points = planned_points(exp)
    cols = row_columns(exp, points)
    evr = ev.Evaluator(exp)
    for i, p in enumerate(points):
        task = ev.resolve(exp, p)
        row = evr.run(task)
        assert cols["key"][i] == task.key
        assert list(cols) == list(row), (list(cols), list(row))
        for k, v in row.items():
            got = cols[k][i]
            got = got.item() if isinstance(got, np.generic) else got
            if isinstance(v, float) and np.isnan(v):
                assert np.isnan(got), k
            else:
                assert got == v and type(got) is type(v), (k, got, v)


def test_store_columns_equal_store_rows(tmp_path):
    """A store written by ``append_columns`` from the vectorised columns loads as the store
    ``append`` writes from per-point rows (in several parts, a stored key skipped)."""
    import pandas as pd

    from accelsim.dse.runner import _manifest
    from accelsim.dse.store import ResultStore
    from accelsim.dse.strategies import planned_points
    from accelsim.dse.vector_sweep import row_columns
    exp = load_experiment(EXP, ["strategy={kind: random, samples: 9, seed: 2}"])
    points = planned_points(exp)
    cols = row_columns(exp, points)
    evr = ev.Evaluator(exp)
    rows = [evr.run(ev.resolve(exp, p)) for p in points]
    a = ResultStore.create(tmp_path / "a", _manifest(exp))
    a.append(rows)
    b = ResultStore.create(tmp_path / "b", _manifest(exp))
    b.append(rows[:2])
    assert b.append_columns(cols, chunk_rows=3) == len(rows) - 2
    assert len(b._index) == 4
    pd.testing.assert_frame_equal(a.load(status=None), b.load(status=None))


def test_head_tail_texts_equal_hole_by_hole_texts():
    """``_texts``' shared-prefix hashing gives the texts and digests of filling every hole."""
    from accelsim.dse.vector_sweep import _split, _texts
    tpl = '{"a":"@@accelsim-param-1@@","b":{"x":"@@accelsim-param-0@@"},"c":"@@accelsim-param-2@@"}'
    pieces, order = _split(tpl, 3)
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, 3, 50) for _ in range(3)]
    texts = [["1", "2.5", "null"], ["10", "20", "30"], ['"s"', "0", "7"]]
    fast = _texts(pieces, order, pieces, order, codes, texts, [False, True, False])
    slow = _texts(pieces, order, pieces, order, codes, texts, [False, False, False])
    assert fast == slow
    assert fast[0][0] == _texts(pieces, order, pieces, order, [c[:1] for c in codes], texts,
                                [True, False, False])[0][0]


def test_run_sweep_takes_the_vector_path_with_equal_rows(tmp_path):
    """``run_sweep`` on an applicable experiment stores the rows the per-point path stores."""
    import pandas as pd

    from accelsim.dse import load_results, run_sweep
    exp = load_experiment(EXP, ["strategy={kind: random, samples: 25, seed: 4}"])
    fast = run_sweep(exp, tmp_path / "v")
    slow = run_sweep(exp, tmp_path / "p", batch=False)
    assert fast.evaluated == slow.evaluated == 25
    assert (fast.failed, fast.infeasible) == (slow.failed, slow.infeasible)
    import json
    runs = json.loads((tmp_path / "v" / "manifest.json").read_text())["runs"]
    assert runs[-1]["evaluator"] == "vector" and runs[-1]["status"] == "finished"
    pd.testing.assert_frame_equal(load_results(tmp_path / "v", status=None),
                                  load_results(tmp_path / "p", status=None))


def test_run_sweep_falls_back_where_the_vector_path_does_not_apply(tmp_path):
    """Tile fidelity, or a point the schema rejects: the per-point path runs (and reports)."""
    import json

    from accelsim.dse import run_sweep
    from accelsim.errors import ConfigError
    exp = load_experiment(EXP, ["strategy={kind: random, samples: 2, seed: 1}",
                                "fidelity=tile"])
    run_sweep(exp, tmp_path / "tile")
    runs = json.loads((tmp_path / "tile" / "manifest.json").read_text())["runs"]
    assert "evaluator" not in runs[-1]
    bad = load_experiment(EXP, ["strategy=grid", "axes={units.sa.rows: [16, 65536], "
                                "units.sa.cols: [16, 65536], units.sa.sram.ifmap_kb: [256], "
                                "memory.dram.bandwidth_gb_s: [64, 128]}"])
    with pytest.raises(ConfigError) as fast:
        run_sweep(bad, tmp_path / "bad1")
    with pytest.raises(ConfigError) as slow:
        run_sweep(bad, tmp_path / "bad2", batch=False)
    assert str(fast.value) == str(slow.value)


def test_run_sweep_in_chunks_stores_the_same_rows(tmp_path, monkeypatch):
    """Chunk by chunk (each chunk a committed part) gives the frame of one chunk; a chunk that
    cannot be evaluated this way leaves the earlier chunks stored and the sweep finishes point
    by point as a resume of the store, with the rows the per-point path stores."""
    import json

    import pandas as pd

    from accelsim.dse import load_results, run_sweep
    from accelsim.dse import vector_run, vector_sweep
    exp = load_experiment(EXP, ["strategy={kind: random, samples: 25, seed: 4}"])
    whole = run_sweep(exp, tmp_path / "whole")
    monkeypatch.setattr(vector_run, "CHUNK", 7)
    chunked = run_sweep(exp, tmp_path / "chunked")
    assert whole.evaluated == chunked.evaluated == 25
    want = load_results(tmp_path / "whole", status=None)
    pd.testing.assert_frame_equal(load_results(tmp_path / "chunked", status=None), want)

    real, calls = vector_sweep.row_columns, []

    def second_chunk_refused(e, points):
        calls.append(len(points))
        if len(calls) == 2:
            raise vector_run.NotVectorisable("refused for the test")
        return real(e, points)

    monkeypatch.setattr(vector_sweep, "row_columns", second_chunk_refused)
    mixed = run_sweep(exp, tmp_path / "mixed")
    assert calls[:2] == [7, 7] and mixed.skipped == 7 and mixed.evaluated == 18
    runs = json.loads((tmp_path / "mixed" / "manifest.json").read_text())["runs"]
    assert [r["status"] for r in runs] == ["interrupted", "finished"]
    assert runs[0]["evaluator"] == "vector" and runs[0]["evaluated"] == 7
    got = load_results(tmp_path / "mixed", status=None)
    pd.testing.assert_frame_equal(got.sort_values("point").reset_index(drop=True),
                                  want.sort_values("point").reset_index(drop=True))


def test_experiment_evaluator_key_picks_the_path_with_equal_rows(tmp_path):
    """``evaluator: auto`` (the default) vectorises the op-fidelity 10k experiment, ``batch``
    and ``point`` do not; all three store the same rows."""
    import json

    import pandas as pd

    from accelsim.dse import load_results, run_sweep
    frames = {}
    for how in ("auto", "batch", "point"):
        exp = load_experiment("experiments/llama2_7b_decode_10k.yaml",
                              ["strategy={kind: random, samples: 6, seed: 8}",
                               f"evaluator={how}"])
        run_sweep(exp, tmp_path / how)
        run = json.loads((tmp_path / how / "manifest.json").read_text())["runs"][-1]
        assert (run.get("evaluator") == "vector") == (how == "auto")
        frames[how] = load_results(tmp_path / how, status=None)
    pd.testing.assert_frame_equal(frames["auto"], frames["batch"])
    pd.testing.assert_frame_equal(frames["auto"], frames["point"])
    from accelsim.errors import ConfigError
    with pytest.raises(ConfigError, match="evaluator"):
        load_experiment(EXP, ["evaluator=vector"])
