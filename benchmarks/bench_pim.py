"""Speed of the NPU+PIM model (issue 13 target: a GPT-3 30B decode iteration at batch 256 on the
NeuPIMs config in < 1 s at tile fidelity and < 20 ms at op fidelity). Measured, not asserted.

    python benchmarks/bench_pim.py [--json out.json]

One NeuPIMs device (configs/neupims/neupims.yaml, sub-batch interleaving on) running the whole
GPT-3 30B decode step (batch 256, ctx 512, fp16), and the artifact's layout (tp 4, pp 2 on 8
devices, reproduce/neupims.py's system); cold = a freshly loaded device (the planner's memo
on the trace and the device structure serves it, as it serves every device of one structure in
a sweep), warm = the same device again, first = the first simulation in a fresh interpreter
(nothing memoised: it includes the planning, the technology library and the modules
simulate loads on first use). Wall time (``*_ms``) and CPU time of this process
(``*_cpu_ms``: what a shared, loaded machine distorts least) are medians over ``--reps``;
``*_cpu_min_ms`` the least CPU time of those runs. Also the reproduction's ragged ShareGPT
batch (one attention op per distinct context, greedy channel placement).
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


def median_ms(fn, reps: int) -> tuple[float, float, float]:
    """(wall, CPU) milliseconds, medians over ``reps`` calls, and the least CPU time."""
    wall, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return statistics.median(wall), statistics.median(cpu), min(cpu)


_FIRST = """
import time, accelsim
from accelsim.workload.zoo import build_trace
tr = build_trace("gpt3-30b", phase="decode", batch=256, ctx=512, act_dtype="fp16")
t, c = time.perf_counter(), time.process_time()
accelsim.simulate(accelsim.load_arch({cfg!r}, overrides={sbi!r}), tr, {fid!r})
print((time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3)
"""


def first_ms(fid: str) -> tuple[float, float]:
    """(wall, CPU) ms of the first simulation in a fresh interpreter."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _FIRST.format(cfg=str(CFG), sbi=SBI, fid=fid)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    wall, cpu = out.split()[-2:]
    return float(wall), float(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    tr = build_trace("gpt3-30b", phase="decode", batch=256, ctx=512, act_dtype="fp16")
    out: dict[str, float] = {}

    def put(name: str, ms: tuple[float, ...]) -> None:
        out[f"{name}_ms"], out[f"{name}_cpu_ms"] = ms[:2]
        if len(ms) > 2:
            out[f"{name}_cpu_min_ms"] = ms[2]

    for fid in ("op", "tile"):
        put(f"device_{fid}_first", first_ms(fid))
        put(f"device_{fid}_cold", median_ms(
            lambda: accelsim.simulate(accelsim.load_arch(CFG, overrides=SBI), tr, fid), args.reps))
        dev = accelsim.load_arch(CFG, overrides=SBI)
        accelsim.simulate(dev, tr, fid)
        put(f"device_{fid}_warm", median_ms(lambda: accelsim.simulate(dev, tr, fid), args.reps))
    from accelsim.reproduce.neupims import _system, decode_trace
    from accelsim.system import simulate_system
    put("system_tp4_pp2_op_cold", median_ms(
        lambda: simulate_system(_system("neupims", 4, 2), tr, "op"), args.reps))
    # the reproduction's ragged batch: 256 ShareGPT requests in flight, one attention op per
    # distinct context, KV placed per request by greedy channel balancing
    rag = decode_trace("gpt3-30b", "sharegpt", 256)
    dev = accelsim.load_arch(CFG, overrides=SBI)
    accelsim.simulate(dev, rag, "op")
    put("device_op_ragged_sharegpt_warm",
        median_ms(lambda: accelsim.simulate(dev, rag, "op"), args.reps))
    put("system_tp4_pp2_op_ragged_sharegpt_cold", median_ms(
        lambda: simulate_system(_system("neupims", 4, 2),
                                decode_trace("gpt3-30b", "sharegpt", 256, 2), "op"), args.reps))
    for k, v in out.items():
        print(f"{k:32s} {v:9.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
