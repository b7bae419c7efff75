"""Speed of a MixPE design-space sweep (issue 11 target), measured, not asserted.

Target: 1,000 MixPE arrays (experiments/mixpe_sweep_1k.yaml: rows x cols x group size x SRAM
size on the artifact-setup MixPE-W4A8 config) on one LLaMA-2-7B decode step at op fidelity in
under 10 s on 2 cores. Run:

    python benchmarks/bench_mixpe.py [--workers 2] [--repeats 3] [--profile N]
                                     [--json benchmarks/results_mixpe.json]

Each timing is one full ``run_sweep`` into a fresh store, as benchmarks/bench_sweep.py times
it: loading and checking the experiment, validating every point, the probe, the worker pool's
start-up, evaluation, Parquet writes and the final compaction. The median and the best of
``--repeats`` runs are reported (on a shared machine, other processes only add time, so the
best is the least disturbed run). ``--profile N`` also profiles (cProfile) one in-process run (workers=1) of
the first N points, to show where a point's time goes, and writes the top functions by
cumulative and by own time into the JSON.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from accelsim import __version__
from accelsim.dse import load_experiment, load_results, run_sweep

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "mixpe_sweep_1k.yaml"
TARGET_S = 10.0


def one(workers: int) -> dict:
    exp = load_experiment(EXPERIMENT)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rep = run_sweep(exp, Path(tmp) / "store", workers=workers)
        wall = time.perf_counter() - t0
        df = load_results(Path(tmp) / "store", status=None)
    return {"workers": workers, "points": rep.evaluated, "rows": len(df),
            "failed": rep.failed, "ok": int((df.status == "ok").sum()),
            "wall_s": round(wall, 3), "points_per_s": round(rep.evaluated / wall, 1)}


def profile(points: int, top: int = 25) -> dict:
    """cProfile of one in-process sweep (workers=1) of the first ``points`` points."""
    exp = load_experiment(EXPERIMENT,
                          [f"strategy={{kind: random, samples: {points}, seed: 0}}"])
    prof = cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        prof.enable()
        rep = run_sweep(exp, Path(tmp) / "store", workers=1)
        prof.disable()
        wall = time.perf_counter() - t0
    out: dict = {"points": rep.evaluated, "workers": 1, "wall_s": round(wall, 3),
                 "points_per_s": round(rep.evaluated / wall, 1)}
    st = pstats.Stats(prof)
    total = max(st.total_tt, 1e-12)
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _) in st.stats.items():
        where = f"{Path(file).name}:{line}({fn})"
        if "site-packages" not in file and "accelsim" in file:
            where = f"{file.split('accelsim/', 1)[-1]}:{line}({fn})"
        rows.append((where, nc, tt, ct))
    for key, idx in (("by_cumulative", 3), ("by_own_time", 2)):
        out[key] = [{"function": w, "calls": n, "own_s": round(tt, 4), "cum_s": round(ct, 4),
                     "cum_share": round(ct / total, 3)}
                    for w, n, tt, ct in sorted(rows, key=lambda r: -r[idx])[:top]]
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    out["text"] = buf.getvalue().splitlines()[:top + 12]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also profile an in-process sweep of N points")
    ap.add_argument("--json", help="write the figures as JSON")
    ap.add_argument("--note", default="", help="a note stored with the figures (the machine)")
    args = ap.parse_args()
    runs = []
    for w in args.workers:
        reps = [one(w) for _ in range(args.repeats)]
        walls = [r["wall_s"] for r in reps]
        r = dict(reps[0], wall_s=round(statistics.median(walls), 3), wall_s_min=min(walls),
                 wall_s_all=walls)
        r["points_per_s"] = round(r["points"] / r["wall_s"], 1)
        r["points_per_s_best"] = round(r["points"] / r["wall_s_min"], 1)
        r["meets_target"] = r["wall_s"] < TARGET_S
        r["best_meets_target"] = r["wall_s_min"] < TARGET_S
        runs.append(r)
        print(f"{r['points']:>6} points ({r['ok']} ok, {r['failed']} failed), {w} worker(s): "
              f"median {r['wall_s']:.2f} s ({r['points_per_s']:.1f} points/s), best "
              f"{r['wall_s_min']:.2f} s ({r['points_per_s_best']:.1f} points/s) of {walls}; "
              f"target < {TARGET_S:g} s: median {'met' if r['meets_target'] else 'missed'}, "
              f"best {'met' if r['best_meets_target'] else 'missed'}", flush=True)
    result: dict = {
        "accelsim_version": __version__, "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "experiment": str(EXPERIMENT.relative_to(ROOT)), "target_s": TARGET_S, "note": args.note,
        "runs": runs}
    if args.profile:
        p = profile(args.profile)
        result["profile"] = p
        print(f"profile: {p['points']} points in-process in {p['wall_s']} s "
              f"({p['points_per_s']} points/s)")
        print("\n".join(p["text"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
