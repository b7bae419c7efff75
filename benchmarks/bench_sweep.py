"""Speed of design-space sweeps (issue 5 target), measured, not asserted.

Target: the 10,000-point LLaMA-2-7B decode sweep (experiments/llama2_7b_decode_10k.yaml:
systolic rows x cols x SRAM size x DRAM bandwidth, op fidelity) finishes in under 2 minutes on
2 cores, and throughput grows with workers. Run:

    python benchmarks/bench_sweep.py [--workers 1 2] [--points N] [--backend local|ray]
                                     [--json out.json]

Each figure is one full ``run_sweep`` into a fresh store: loading and checking the experiment,
validating every point, the worker pool's start-up, evaluation, Parquet writes and the final
compaction. ``--points N`` runs a seeded random sample of N points instead of the whole grid.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from accelsim import __version__
from accelsim.dse import load_experiment, load_results, run_sweep

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "llama2_7b_decode_10k.yaml"


def one(workers: int, points: int | None, backend: str) -> dict:
    overrides = [f"strategy={{kind: random, samples: {points}, seed: 0}}"] if points else []
    exp = load_experiment(EXPERIMENT, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rep = run_sweep(exp, Path(tmp) / "store", workers=workers, backend=backend)
        wall = time.perf_counter() - t0
        rows = len(load_results(Path(tmp) / "store", status=None))
    return {"workers": workers, "backend": backend, "points": rep.evaluated, "rows": rows,
            "failed": rep.failed, "wall_s": round(wall, 2),
            "points_per_s": round(rep.evaluated / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--points", type=int, help="a random sample of N points, not all 10,000")
    ap.add_argument("--backend", default="local", choices=("local", "ray"))
    ap.add_argument("--json", help="also write the figures as JSON")
    args = ap.parse_args()
    runs = []
    for w in args.workers:
        r = one(w, args.points, args.backend)
        runs.append(r)
        print(f"{r['points']:>6} points, {w} worker(s), {r['backend']}: {r['wall_s']:7.2f} s  "
              f"{r['points_per_s']:8.1f} points/s  ({r['failed']} failed)", flush=True)
    base = runs[0]["points_per_s"]
    for r in runs[1:]:
        print(f"speed-up {r['workers']} vs {runs[0]['workers']} worker(s): "
              f"{r['points_per_s'] / base:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "accelsim_version": __version__, "python": platform.python_version(),
            "cpus": os.cpu_count(), "experiment": str(EXPERIMENT.relative_to(ROOT)),
            "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
