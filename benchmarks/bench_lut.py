"""Speed of the LUT Tensor Core model (issue 10 targets: costing a LUT GEMM 2048x4096x4096 as
fast as a systolic one, < 1 ms analytical; a BitNet b1.58 3B decode step at op fidelity
< 20 ms cold). Measured, not asserted; the systolic GEMM is the baseline in the same run.

    python benchmarks/bench_lut.py [--json out.json]

``gemm_cost``: one uncached ``Unit.cost`` of the GEMM (its unit's memo cleared), LUT (W_INT2
A_INT8) and systolic (bf16, the same device's 64x64 array); ``gemm_analytical``: a whole
``simulate`` of that one GEMM at analytical fidelity; ``bitnet_decode_cold``: ``simulate`` of
the zoo's BitNet b1.58 3B decode step (batch 1, ctx 2048) at op fidelity on a fresh device
with every cache cleared. Medians of repeated runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import accelsim
from accelsim.workload import Gemm, Trace, zoo

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "configs" / "lut" / "lut_tc_int8.yaml"


def median_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json")
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    lut_op = Gemm("g", m=2048, n=4096, k=4096, dtype="int8", w_dtype="int2", b_shared=True)
    sa_op = Gemm("g", m=2048, n=4096, k=4096, dtype="bf16", b_shared=True)
    out: dict[str, float] = {}

    dev = accelsim.load_arch(CFG)

    def cost(unit: str, op: Gemm):
        u = dev.units[unit]

        def run():
            u._cache.clear()   # uncached: the cost model itself
            u.cost(op)
        return run

    out["device_build_ms"] = median_ms(lambda: accelsim.load_arch(CFG), args.reps)
    out["lut_gemm_cost_ms"] = median_ms(cost("lut", lut_op), args.reps)
    out["sa_gemm_cost_ms"] = median_ms(cost("sa", sa_op), args.reps)
    tr = Trace.from_ops("g", [lut_op])

    def analytical():
        dev.units["lut"]._cache.clear()
        accelsim.simulate(dev, tr, fidelity="analytical")
    out["lut_gemm_analytical_ms"] = median_ms(analytical, args.reps)
    bitnet = zoo.build_trace("bitnet-b1.58-3b", phase="decode", batch=1, ctx=2048)

    def cold():
        from accelsim.cost import estimator
        estimator._CACHE.clear()
        accelsim.simulate(accelsim.load_arch(CFG), bitnet, fidelity="op")
    cold()  # imports
    out["bitnet_3b_decode_op_cold_ms"] = median_ms(cold, max(5, args.reps // 3))
    out["lut_vs_sa_cost_ratio"] = out["lut_gemm_cost_ms"] / max(out["sa_gemm_cost_ms"], 1e-9)
    for k, v in out.items():
        print(f"{k:32s} {v:10.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
