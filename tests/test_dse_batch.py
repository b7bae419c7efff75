"""Batch evaluation (accelsim/dse/batch.py): rows equal one-point-at-a-time evaluation bit for
bit, on random runs of neighbouring points (so schedule-only neighbours share a plan) of
several experiments in experiments/, at op and analytical fidelity; declared effects; the
runner uses it by default."""
from __future__ import annotations

import math
import random

import pytest

from accelsim.dse import load_experiment, load_results, run_sweep
from accelsim.dse.batch import BatchEvaluator
from accelsim.dse.effects import param_effect
from accelsim.dse.evaluate import Evaluator, point_arch, resolve

from dse_util import ROOT


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))


def _sample(exp, rng: random.Random, runs: int, length: int) -> list[int]:
    out: list[int] = []
    for _ in range(runs):
        i = rng.randrange(exp.space.size)
        out += [j for j in range(i, min(i + length, exp.space.size)) if j not in out]
    return out


@pytest.mark.parametrize("name, fidelity", [
    ("llama2_7b_decode_10k", "op"), ("llama2_7b_decode_10k", "analytical"),
    ("example_small", "op"), ("pareto_families", "op"), ("compare_iso_area", "op")])
def test_batch_rows_equal_point_by_point_rows(name: str, fidelity: str) -> None:
    exp = load_experiment(ROOT / "experiments" / f"{name}.yaml", [f"fidelity={fidelity}"])
    rng = random.Random(sum(map(ord, name + fidelity)))
    points = [p for p in (exp.point(i) for i in _sample(exp, rng, 4, 6)) if p is not None]
    tasks = [resolve(exp, p) for p in points]
    batch, single = BatchEvaluator(exp), Evaluator(exp)
    got = [batch.run(t) for t in tasks]
    want = [single.run(t) for t in tasks]
    for g, w in zip(got, want):
        assert set(g) == set(w), (g["point"], g["error"], w["error"])
        bad = [k for k in g if not _same(g[k], w[k])]
        assert not bad, (g["point"], {k: (g[k], w[k]) for k in bad[:4]})
    if name in ("llama2_7b_decode_10k", "example_small"):   # bandwidth is the last axis
        assert batch.batched > 0


def test_declared_effects() -> None:
    exp = load_experiment(ROOT / "experiments" / "llama2_7b_decode_10k.yaml")
    base = exp.bases["sa"]
    arch = point_arch(exp, base, exp.point(0).values)
    assert param_effect(arch, "memory.dram.bandwidth_gb_s") == "schedule"
    assert param_effect(arch, "units.sa.rows") == "plan"
    assert param_effect(arch, "units.sa.sram.ifmap_kb") == "plan"
    assert param_effect(arch, "memory.nothere.bandwidth_gb_s") == "plan"


def test_runner_batches_by_default_and_rows_match(tmp_path) -> None:
    exp = ROOT / "experiments" / "example_small.yaml"
    a = run_sweep(exp, tmp_path / "a", workers=1)
    b = run_sweep(exp, tmp_path / "b", workers=1, batch=False)
    ra = load_results(tmp_path / "a", status=None).sort_values("key").reset_index(drop=True)
    rb = load_results(tmp_path / "b", status=None).sort_values("key").reset_index(drop=True)
    assert a.evaluated == b.evaluated and list(ra.columns) == list(rb.columns)
    for col in ra.columns:
        for x, y in zip(ra[col], rb[col]):
            assert _same(x, y) or (x is None and y is None), col


@pytest.mark.parametrize("name", ["llama2_7b_decode_10k", "example_small", "pareto_families",
                                  "compare_iso_area", "mixpe_sweep_1k"])
def test_resolve_all_equals_resolve(name: str) -> None:
    from accelsim.dse.batch import resolve_all
    exp = load_experiment(ROOT / "experiments" / f"{name}.yaml")
    rng = random.Random(sum(map(ord, name)))
    points = [p for p in (exp.point(i) for i in _sample(exp, rng, 5, 12)) if p is not None]
    assert resolve_all(exp, points) == [resolve(exp, p) for p in points]
