"""Speed of the multi-device model (issue 14 targets: GPT-3 175B decode on 32 devices, tp 8
pp 4, at op fidelity in < 50 ms; cost independent of the number of tensor-parallel ranks).
Measured, not asserted.

    python benchmarks/bench_system.py [--json out.json]

``gpt3_175b_tp8_pp4_cold``: ``simulate_system`` on configs/systems/32x_h100_tp8_pp4.yaml (batch
64, ctx 1024, 4 microbatches) on a freshly loaded system, every trace and cost cache cleared;
``..._warm``: the same call again. ``llama2_70b_tp{2,4,8}_cold``: LLaMA-2-70B decode (batch 16,
ctx 2048) on 2 / 4 / 8 H100s, cold: only one rank is simulated, so the time should not grow
with tp. Medians of repeated runs.
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

from accelsim.system import load_system, simulate_system
from accelsim.workload import zoo

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ROOT / "configs" / "systems"


def _cold():
    zoo._cached.cache_clear() if hasattr(zoo._cached, "cache_clear") else None


def median_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    out: dict[str, float] = {}

    def gpt3_cold():
        _cold()
        s = load_system(SYSTEMS / "32x_h100_tp8_pp4.yaml")
        simulate_system(s, zoo.build_trace("gpt3-175b", phase="decode", batch=64, ctx=1024))

    out["gpt3_175b_tp8_pp4_cold_ms"] = median_ms(gpt3_cold, args.reps)
    s = load_system(SYSTEMS / "32x_h100_tp8_pp4.yaml")
    tr = zoo.build_trace("gpt3-175b", phase="decode", batch=64, ctx=1024)
    simulate_system(s, tr)
    out["gpt3_175b_tp8_pp4_warm_ms"] = median_ms(lambda: simulate_system(s, tr), args.reps)
    base = load_system(SYSTEMS / "8x_h100_nvlink.yaml")
    for tp in (2, 4, 8):
        def run(tp=tp):
            _cold()
            sys_ = copy.copy(load_system(SYSTEMS / "8x_h100_nvlink.yaml"))
            sys_.config = base.config.model_copy(update={
                "devices": base.config.devices.model_copy(update={"count": tp}),
                "parallelism": base.config.parallelism.model_copy(update={"tp": tp})})
            simulate_system(sys_, zoo.build_trace("llama2-70b", phase="decode", batch=16,
                                                  ctx=2048))
        out[f"llama2_70b_tp{tp}_cold_ms"] = median_ms(run, args.reps)
    for k, v in out.items():
        print(f"{k:32s} {v:9.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
