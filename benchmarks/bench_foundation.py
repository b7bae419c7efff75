"""Speed of the foundation (issue 2 targets), measured, not asserted.

Targets: 2048x4096x4096 on a 32x32 array: analytical < 1 ms, tile fidelity < 1 s; a trace of
32 identical layers costs no more than ~2x one layer. Run:

    python benchmarks/bench_foundation.py [--json out.json]

Each figure is the median of several runs of a fresh ``simulate`` call on a freshly built
arch (so unit-cost memoisation starts cold), plus the warm (memoised) time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import accelsim
from accelsim.workload import Segment, Trace

ROOT = Path(__file__).resolve().parents[1]


def sa32(bw: object) -> accelsim.Arch:
    return accelsim.arch_from_dict({
        "name": "sa32", "clock_ghz": 1.0, "tech_node_nm": 28,
        "units": {"sa": {"type": "systolic_array", "rows": 32, "cols": 32, "dataflow": "os",
                         "pe_dtype": "int8", "fold_overlap": True}},
        "memory": {"dram": {"bandwidth_bytes_per_cycle": bw}}})


def timed(make_arch, trace: Trace, fidelity: str, reps: int) -> tuple[float, float, float]:
    """(median cold seconds, median warm seconds, cycles)."""
    cold, warm = [], []
    for _ in range(reps):
        arch = make_arch()
        t0 = time.perf_counter()
        res = accelsim.simulate(arch, trace, fidelity)
        t1 = time.perf_counter()
        accelsim.simulate(arch, trace, fidelity)
        t2 = time.perf_counter()
        cold.append(t1 - t0)
        warm.append(t2 - t1)
    return statistics.median(cold), statistics.median(warm), res.cycles


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    out: dict[str, dict] = {}
    big = Trace.from_ops("gemm", [accelsim.Gemm("g", m=2048, n=4096, k=4096, dtype="int8")])
    accelsim.simulate(sa32("unlimited"), big, "op")  # warm imports
    for bw in ("unlimited", 64, 8):
        for fid in accelsim.FIDELITIES:
            reps = 3 if fid == "tile" and bw != "unlimited" else 20
            cold, warm, cycles = timed(lambda: sa32(bw), big, fid, reps)
            key = f"gemm2048x4096x4096_sa32_bw{bw}_{fid}"
            out[key] = {"cold_s": cold, "warm_s": warm, "cycles": cycles}
            print(f"{key:48s} cold {cold * 1e3:9.3f} ms   warm {warm * 1e3:8.3f} ms   "
                  f"cycles {cycles:,.0f}")

    layer = accelsim.load_trace(ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml")
    seg = layer.segments[0]
    one = Trace("1 layer", (Segment(seg.name, seg.ops, 1),))
    many = Trace("32 layers", (Segment(seg.name, seg.ops, 32),))
    hbm = lambda: accelsim.load_arch(ROOT / "configs" / "sa128_bf16_hbm.yaml")  # noqa: E731
    for fid in accelsim.FIDELITIES:
        reps = 3 if fid == "tile" else 10
        c1 = timed(hbm, one, fid, reps)[0]
        c32 = timed(hbm, many, fid, reps)[0]
        out[f"llama2_7b_layer_x32_vs_x1_{fid}"] = {"x1_s": c1, "x32_s": c32, "ratio": c32 / c1}
        print(f"LLaMA-2-7B decode layer at {fid:10s}: 1 layer {c1 * 1e3:8.2f} ms, "
              f"32 layers {c32 * 1e3:8.2f} ms, ratio {c32 / c1:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
