"""Cost of the energy/area estimate inside ``simulate`` (issue 4 target: < 1 ms per call for a
~450-op trace), measured, not asserted. Run:

    python benchmarks/bench_energy.py [--json out.json]

``arch_cost_cold``: pricing a fresh design (component models, once per distinct design in a
sweep); ``per_call``: what every simulate call adds with the design already priced (per-op
energies of the planned ops plus the report), i.e. the hot path of a sweep that revisits units.
Medians of repeated runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

import accelsim
from accelsim.cost import estimator
from accelsim.engine import assemble as asm
from accelsim.engine.fidelities import fidelity
from accelsim.engine.plan import plan
from accelsim.engine.schedule import schedule
from accelsim.pipeline import _op_energy

ROOT = Path(__file__).resolve().parents[1]


def per_call(pricing: estimator.ArchCost, arch, runs: list, latency_s: float) -> None:
    """The energy work simulate() does for one call (the same functions as accelsim/pipeline.py)."""
    memo: dict[int, float] = {}
    for r in runs:
        np.array([_op_energy(pricing, arch, c, memo) for c in r.chosen])
    flops = sum(c.cost.flops * r.repeat for r in runs for c in r.chosen)
    pricing.report(asm.unit_actions(runs), asm.memory_actions(runs, arch), latency_s, flops)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    cfg = ROOT / "configs" / "sa128_bf16_hbm.yaml"
    trace = accelsim.load_trace(ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml")
    arch = accelsim.load_arch(cfg)
    fid = fidelity("op")
    plans = plan(arch, trace, fid)
    runs = [asm.Run(sp, schedule(sp, fid, arch)) for sp in plans]
    n_ops = sum(len(sp.ops) * sp.segment.repeat for sp in plans)
    cold, warm, sim = [], [], []
    for _ in range(30):
        estimator._CACHE.clear()
        t0 = time.perf_counter()
        pricing = estimator.arch_cost(arch)
        t1 = time.perf_counter()
        per_call(pricing, arch, runs, 0.1)
        t2 = time.perf_counter()
        cold.append(t1 - t0)
        warm.append(t2 - t1)
    for _ in range(10):
        t0 = time.perf_counter()
        accelsim.simulate(arch, trace, "op")
        sim.append(time.perf_counter() - t0)
    out = {"ops": n_ops, "arch_cost_cold_s": statistics.median(cold),
           "per_call_s": statistics.median(warm), "simulate_op_fidelity_s": statistics.median(sim)}
    for k, v in out.items():
        print(f"{k:28s} {v * 1e3:9.3f} ms" if k.endswith("_s") else f"{k:28s} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
