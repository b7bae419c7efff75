"""Speed of the NPU+PIM model (issue 13 target: a GPT-3 30B decode iteration at batch 256 on the
NeuPIMs config in < 1 s at tile fidelity and < 20 ms at op fidelity). Measured, not asserted.

    python benchmarks/bench_pim.py [--json out.json]

One NeuPIMs device (configs/neupims/neupims.yaml, sub-batch interleaving on) running the whole
GPT-3 30B decode step (batch 256, ctx 512, fp16), and the artifact's layout (tp 4, pp 2 on 8
devices, reproduce/neupims.py's system); cold = a freshly loaded device, warm = again; and the
reproduction's ragged ShareGPT batch (one attention op per distinct context, greedy channel
placement).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import accelsim
from accelsim.workload.zoo import build_trace

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "configs" / "neupims" / "neupims.yaml"
SBI = ["scheduling={type: subbatch_interleave}"]


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
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    tr = build_trace("gpt3-30b", phase="decode", batch=256, ctx=512, act_dtype="fp16")
    out = {}
    for fid in ("op", "tile"):
        out[f"device_{fid}_cold_ms"] = median_ms(
            lambda: accelsim.simulate(accelsim.load_arch(CFG, overrides=SBI), tr, fid), args.reps)
        dev = accelsim.load_arch(CFG, overrides=SBI)
        accelsim.simulate(dev, tr, fid)
        out[f"device_{fid}_warm_ms"] = median_ms(lambda: accelsim.simulate(dev, tr, fid),
                                                 args.reps)
    from accelsim.reproduce.neupims import _system, decode_trace
    from accelsim.system import simulate_system
    out["system_tp4_pp2_op_cold_ms"] = median_ms(
        lambda: simulate_system(_system("neupims", 4, 2), tr, "op"), args.reps)
    # the reproduction's ragged batch: 256 ShareGPT requests in flight, one attention op per
    # distinct context, KV placed per request by greedy channel balancing
    rag = decode_trace("gpt3-30b", "sharegpt", 256)
    dev = accelsim.load_arch(CFG, overrides=SBI)
    accelsim.simulate(dev, rag, "op")
    out["device_op_ragged_sharegpt_warm_ms"] = median_ms(lambda: accelsim.simulate(dev, rag, "op"),
                                                         args.reps)
    out["system_tp4_pp2_op_ragged_sharegpt_cold_ms"] = median_ms(
        lambda: simulate_system(_system("neupims", 4, 2), decode_trace("gpt3-30b", "sharegpt",
                                                                       256, 2), "op"), args.reps)
    for k, v in out.items():
        print(f"{k:32s} {v:9.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
