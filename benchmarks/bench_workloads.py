"""Speed of the LLM workload layer (issue 3 targets), measured, not asserted.

Targets: building a LLaMA-2-70B decode trace at batch 256 < 100 ms; a whole LLaMA-2-7B decode
step on a 128x128 systolic array simulates in < 20 ms at op fidelity (and build + simulate
stays ~5 ms for sweeps). Also reported: a 200-request ShareGPT-like serving run and tracing
LLaMA-2-7B with transformers on the meta device (if the [trace] extra is installed). Run:

    python benchmarks/bench_workloads.py [--json out.json]

Each figure is the median over repetitions; "cold" clears every cache first (model config
parse, trace memo, unit cost memo by using a freshly built arch).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import accelsim
from accelsim.workload import models, zoo
from accelsim.workload.requests import load_requests
from accelsim.workload.serving import simulate_serving

ROOT = Path(__file__).resolve().parents[1]
HBM = ROOT / "configs" / "sa128_bf16_hbm.yaml"


def median_time(fn, reps: int, setup=lambda: None) -> float:
    times = []
    for _ in range(reps):
        setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def clear_all() -> None:
    models._load_cached.cache_clear()
    zoo._cached.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    out: dict[str, float | int] = {}
    zoo.build_trace("llama2-7b")  # warm imports

    b70 = lambda: zoo.build_trace("llama2-70b", phase="decode", batch=256, ctx=2048)  # noqa: E731
    out["build_llama2_70b_decode_b256_cold_s"] = median_time(b70, 30, clear_all)
    out["build_llama2_70b_decode_b256_config_cached_s"] = median_time(b70, 30, zoo._cached.cache_clear)
    out["build_llama2_70b_decode_b256_memoised_s"] = median_time(b70, 30)
    out["build_llama2_70b_prefill_b8_p2048_cold_s"] = median_time(
        lambda: zoo.build_trace("llama2-70b", phase="prefill", batch=8, prompt=2048), 30, clear_all)

    t7 = zoo.build_trace("llama2-7b", phase="decode", batch=16, ctx=2048)
    arch = {}
    fresh = lambda: arch.__setitem__("a", accelsim.load_arch(HBM))  # noqa: E731
    sim = lambda: accelsim.simulate(arch["a"], t7, fidelity="op")  # noqa: E731
    out["simulate_llama2_7b_decode_b16_sa128_op_cold_s"] = median_time(sim, 30, fresh)
    fresh()
    sim()
    out["simulate_llama2_7b_decode_b16_sa128_op_warm_s"] = median_time(sim, 30)
    for fid in ("analytical", "tile"):
        out[f"simulate_llama2_7b_decode_b16_sa128_{fid}_cold_s"] = median_time(
            lambda: accelsim.simulate(arch["a"], t7, fidelity=fid), 10, fresh)
    # a sweep point: trace memoised, arch freshly built (new design point)
    a = accelsim.load_arch(HBM)
    sweep = lambda: accelsim.simulate(a, zoo.build_trace("llama2-7b", phase="decode", batch=16,  # noqa: E731
                                                         ctx=2048), fidelity="op")
    out["build_plus_simulate_llama2_7b_decode_warm_s"] = median_time(sweep, 30)

    reqs = load_requests(ROOT / "workloads" / "requests" / "sharegpt_200_rate2.csv")
    t0 = time.perf_counter()
    res = simulate_serving(accelsim.load_arch(HBM), "llama2-7b", reqs, max_batch=64)
    out["serving_sharegpt_200_rate2_llama2_7b_s"] = time.perf_counter() - t0
    s = res.summary()
    out["serving_iterations"] = s["iterations"]
    out["serving_simulated_iterations"] = s["simulated_iterations"]
    out["serving_throughput_tokens_per_sec"] = s["throughput_tok_s"]

    try:
        from accelsim.workload.torch_trace import trace_model
        t0 = time.perf_counter()
        trace_model("llama2-7b", phase="decode", batch=1, ctx=16, layers=1)
        out["trace_first_call_incl_imports_s"] = time.perf_counter() - t0
        out["trace_llama2_7b_decode_full_depth_s"] = median_time(
            lambda: trace_model("llama2-7b", phase="decode", batch=16, ctx=2048), 3)
        out["trace_llama2_7b_decode_one_layer_s"] = median_time(
            lambda: trace_model("llama2-7b", phase="decode", batch=16, ctx=2048, layers=1), 5)
        out["trace_llama2_70b_prefill_full_depth_s"] = median_time(
            lambda: trace_model("llama2-70b", phase="prefill", batch=1, prompt=512), 3)
    except accelsim.AccelsimError as e:
        print(f"(tracing skipped: {e})")

    width = max(map(len, out))
    for k, v in out.items():
        shown = f"{v * 1e3:10.3f} ms" if k.endswith("_s") else f"{v:10.4g}"
        print(f"{k:<{width}}  {shown}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
