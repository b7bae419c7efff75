"""Sweep evaluation paths, measured against each other in one run (issue 16).

Each mode is one full ``run_sweep`` of the same experiment into a fresh store, in a fresh
Python process (so no mode warms another's caches), with one local worker:

* ``perfold``: today's per-point path with the per-fold systolic cost model it replaced
  (tests/systolic_perfold_ref.py patched in), the baseline;
* ``folds``:   per point (``batch=False``), fold-class unit costs;
* ``batch``:   fold classes and the batch evaluator (dse/batch.py), the vectorised path off;
* ``vector``:  the default product path: ``run_sweep`` as a user calls it, which takes the
  vectorised systolic path (dse/vector*.py) where it is exact (the 10k experiment at op
  fidelity: every segment a chain, so op fidelity's schedule is the closed forms).

``--vector`` instead measures the vectorised systolic path (dse/vector*.py) on the whole
experiment (default experiments/llama2_7b_decode_1m.yaml): ``run_sweep`` end to end (load,
enumerate, evaluate with ``vector_sweep.row_columns``: every column of the rows, keys and
configs included; store with ``ResultStore.append_columns``: Parquet parts of 2^18 rows), then
``--sample`` points one at a time through ``Evaluator.run`` in the same process for the ratio
(every column of their rows compared with the stored rows: they must be equal).

Printed per mode: wall seconds (store included), points/s, the worker's peak RSS (MiB; with
one worker the sweep runs serially in the measured process, so that is its peak, driver
included), and the speed-up over ``perfold``. Run:

    python benchmarks/bench_batch.py [--experiment experiments/llama2_7b_decode_10k.yaml]
        [--points N] [--modes perfold folds batch] [--workers 1] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "experiments" / "llama2_7b_decode_10k.yaml"

_CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
mode, experiment, points, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if mode == "perfold":
    sys.path.insert(0, str(Path(sys.argv[5]) / "tests"))
    from systolic_perfold_ref import PerFoldSystolicArray
    from accelsim.arch.units.systolic import SystolicArray
    for name in ("_cost", "_stream_plan", "_pass", "fold_schedule"):
        setattr(SystolicArray, name, getattr(PerFoldSystolicArray, name))
import os
os.environ.setdefault("ACCELSIM_MP_START", "fork")   # workers inherit the patch
from accelsim.dse import load_experiment, load_results, run_sweep
ov = [f"strategy={{kind: random, samples: {points}, seed: 0}}"] if points else []
exp = load_experiment(experiment, ov)
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    rep = run_sweep(exp, Path(tmp) / "s", workers=workers, batch=mode in ("batch", "vector"),
                    vector=(mode == "vector"))
    wall = time.perf_counter() - t0
    # one worker runs in this process (serial backend), as does the vectorised path: its peak
    # is this process's, driver included (taken before the rows are read back); with more
    # workers, the largest worker's (children waited for)
    who = resource.RUSAGE_SELF if workers == 1 or mode == "vector" else resource.RUSAGE_CHILDREN
    rss = resource.getrusage(who).ru_maxrss / 1024
    rows = len(load_results(Path(tmp) / "s", status=None))
print(json.dumps({"mode": mode, "points": rep.evaluated, "rows": rows, "failed": rep.failed,
                  "wall_s": round(wall, 2), "points_per_s": round(rep.evaluated / wall, 1),
                  "worker_peak_rss_mib": round(rss, 1)}))
"""


_VECTOR = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
t0 = time.perf_counter()
experiment, sample = sys.argv[1], int(sys.argv[2])
import numpy as np
from accelsim.dse import load_experiment, run_sweep, ResultStore
from accelsim.dse import evaluate as ev
from accelsim.dse.point_table import planned_table
from accelsim.dse.strategies import planned_points
exp = load_experiment(experiment)
with tempfile.TemporaryDirectory() as tmp:
    rep = run_sweep(exp, Path(tmp) / "s")          # the product path, store included
    wall = time.perf_counter() - t0
    sweep_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    manifest = json.loads((Path(tmp) / "s" / "manifest.json").read_text())
    size = sum(f.stat().st_size for f in (Path(tmp) / "s" / "parts").iterdir())
    s = time.perf_counter()
    df = ResultStore(Path(tmp) / "s").load(status=None)
    reload_s = time.perf_counter() - s
rng = np.random.default_rng(0)
points = planned_table(exp)
points = planned_points(exp) if points is None else points
pick = rng.choice(len(points), size=min(sample, len(points)), replace=False)
s = time.perf_counter()
evr = ev.Evaluator(exp)
rows = [evr.run(ev.resolve(exp, points[i])) for i in pick]
per = time.perf_counter() - s
stored = df.set_index("key")
def same(a, b):   # a missing value (None, NaN) loads from Parquet as NaN
    missing = lambda v: v is None or (isinstance(v, float) and v != v)
    return (missing(a) and missing(b)) or a == b
equal = all(r["status"] == "ok" and all(same(r[k], stored.at[r["key"], k]) if k != "key"
            else True for k in r) for r in rows)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": "vector", "points": rep.evaluated, "rows_stored": len(df),
                  "evaluator": manifest["runs"][-1].get("evaluator"),
                  "wall_s": round(wall, 2), "points_per_s": round(rep.evaluated / wall, 1),
                  "store_bytes": size, "columns": len(df.columns),
                  "reload_s_not_in_wall": round(reload_s, 2),
                  "per_point_sample": len(pick), "per_point_s": round(per, 2),
                  "per_point_points_per_s": round(len(pick) / per, 1),
                  "speedup_vs_per_point": round((rep.evaluated / wall) / (len(pick) / per), 1),
                  "sample_rows_equal_stored": equal, "sweep_peak_rss_mib": round(sweep_rss, 1),
                  "peak_rss_mib_with_checks": round(rss, 1)}))
"""


def vector(experiment: Path, sample: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _VECTOR, str(experiment), str(sample)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def one(mode: str, experiment: Path, points: int, workers: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(experiment), str(points),
                          str(workers), str(ROOT)], capture_output=True, text=True, env=env,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", type=Path, default=DEFAULT)
    ap.add_argument("--points", type=int, default=0, help="a random sample of N points")
    ap.add_argument("--modes", nargs="+", default=["perfold", "folds", "batch", "vector"],
                    choices=["perfold", "folds", "batch", "vector"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", help="also write the figures as JSON")
    ap.add_argument("--vector", action="store_true",
                    help="the vectorised systolic path on the whole experiment (docstring)")
    ap.add_argument("--sample", type=int, default=200,
                    help="--vector: points evaluated one at a time for the ratio")
    args = ap.parse_args()
    if args.vector:
        exp = args.experiment.resolve() if args.experiment != DEFAULT else \
            ROOT / "experiments" / "llama2_7b_decode_1m.yaml"
        r = vector(exp, args.sample)
        print(f"vector  {r['points']:>7} points: {r['wall_s']:8.2f} s {r['points_per_s']:10.1f} "
              f"points/s via {r['evaluator']}; per point on {r['per_point_sample']}: "
              f"{r['per_point_points_per_s']} points/s; speed-up {r['speedup_vs_per_point']}x; "
              f"sample rows equal stored: {r['sample_rows_equal_stored']}; sweep peak RSS "
              f"{r['sweep_peak_rss_mib']} MiB (with the checks "
              f"{r['peak_rss_mib_with_checks']} MiB)", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({
                "python": platform.python_version(), "cpus": os.cpu_count(),
                "experiment": str(exp.relative_to(ROOT)), "runs": [r]}, indent=1) + "\n")
        return
    runs = []
    for m in args.modes:
        r = one(m, args.experiment.resolve(), args.points, args.workers)
        runs.append(r)
        print(f"{m:8s} {r['points']:>7} points: {r['wall_s']:8.2f} s {r['points_per_s']:8.1f} "
              f"points/s  worker peak RSS {r['worker_peak_rss_mib']:6.1f} MiB", flush=True)
    base = next((r for r in runs if r["mode"] == "perfold"), runs[0])
    for r in runs:
        if r is not base:
            print(f"speed-up {r['mode']} vs {base['mode']}: "
                  f"{r['points_per_s'] / base['points_per_s']:.2f}x")
    if args.json:
        exp = args.experiment.resolve()
        Path(args.json).write_text(json.dumps({
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "experiment": str(exp.relative_to(ROOT)) if exp.is_relative_to(ROOT) else str(exp),
            "sample": args.points or None, "workers": args.workers, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
