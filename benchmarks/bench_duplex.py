"""Speed of the Duplex continuous-batching reproduction (issue 15 targets: one throughput-grid
point, a steady-state window of Mixtral on 4 devices, < 2 s at op fidelity; the whole grid <
2 minutes on 2 cores), measured, not asserted. Run:

    python benchmarks/bench_duplex.py [--json benchmarks/results_duplex.json]

* ``point_s``: one grid point (Mixtral B32, (1024, 1024)) for all five designs (GPU, 2xGPU,
  Duplex, +PE, +PE+ET): ten iteration simulations (a decode-only and a mixed iteration each),
  in a fresh process;
* ``grid_s``: the 27 points x 5 designs of Fig throughput_graph (270 simulations), the
  reproduction's iteration caches cleared first (the units' cost memos stay warm from the point,
  as in one ``accelsim reproduce duplex`` run);
* ``baseline_iteration_s``: one decode-only Mixtral iteration (B24, context 3000, a shape the
  grid does not use) on the GPU system, the first simulation of the run (cold), and each figure
  as a multiple of it;
* ``window_check``: the steady-state window against a full ``simulate_serving`` run (Mixtral,
  B16, (128, 128), 32 Gaussian requests queued at t = 0) and its time;
* ``qps_check``: 200 Poisson requests at 0.8x and 1.2x the window's sustained-QPS capacity on
  the GPU system (Mixtral (4096, 512), batch 128): median TTFT of the first and second half.
"""
from __future__ import annotations

import argparse
import json
import os
import time

from accelsim.reproduce import duplex_serving as ds


def _clear() -> None:
    """Forget the reproduction's windows and iteration results (the systems and the units'
    cost memos stay, as in one ``accelsim reproduce duplex`` run)."""
    ds.window.cache_clear()
    ds._iteration.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    from accelsim.system import simulate_system
    from accelsim.workload.zoo import build_iteration
    tr = build_iteration("mixtral-8x7b", decode=((3000, 24),), act_dtype="fp16")
    gpu = ds._system("gpu_4x")
    t = time.perf_counter()
    simulate_system(gpu, tr, "op")
    base_s = time.perf_counter() - t
    t = time.perf_counter()
    point = {d: ds.speedup(d, "Mixtral", 32, 1024) for d in ds.DESIGNS}
    point_s = time.perf_counter() - t
    _clear()
    t = time.perf_counter()
    g = ds.grid()
    grid_s = time.perf_counter() - t
    t = time.perf_counter()
    check = {d: ds.check_window(design=d, batch=16, length=128) for d in ("GPU", "Duplex")}
    check_s = time.perf_counter() - t
    t = time.perf_counter()
    qps = {f"GPU x{f}": ds.check_qps("GPU", f) for f in (0.8, 1.2)}
    qps_s = time.perf_counter() - t
    out = {
        "cpus": os.cpu_count(),
        "point_s": point_s, "point_designs": point,
        "grid_s": grid_s, "grid_points": len(g) // (len(ds.DESIGNS) - 1),
        "grid_simulations": 2 * len(ds.DESIGNS) * len(g) // (len(ds.DESIGNS) - 1),
        "baseline_iteration_s": base_s,
        "point_x_baseline": point_s / base_s, "grid_x_baseline": grid_s / base_s,
        "window_check": check, "window_check_s": check_s,
        "qps_check": qps, "qps_check_s": qps_s,
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
