"""Speed of the engine spine against a baseline tree, measured in the same run, as ratios.

The machine is noisy, so every figure is taken for both trees in turn (baseline, then current,
task by task) and reported as a ratio: baseline/current for times and memory (> 1: better now),
current/baseline for points/s. Each measurement runs in a fresh ``python -c`` child whose
PYTHONPATH is the tree under test (checked: the child fails if ``accelsim`` came from elsewhere,
e.g. the editable install of this checkout). Run:

    python benchmarks/bench_spine.py [--baseline PATH_OR_GIT_REF] [--points N] [--skip-sweep]
                                     [--json out.json]

Measured: one LLaMA-2-7B decode step (batch 16, ctx 2048) on configs/sa128_bf16_hbm.yaml at op
fidelity, cold (median of 30, a freshly loaded arch each time and the plan and price caches
cleared, load not timed) and warm (median
of 30 on one arch after a first call), and cold at analytical and tile fidelity (median of 10);
the sweep experiments/llama2_7b_decode_10k.yaml with 1 worker into a fresh store (wall, points/s
and the child's peak RSS; ``--points N``: a seeded random sample of N points instead of all
10,000); ``import accelsim`` (wall of the whole child, median of 5); and the contention cases
of the engine-spine issue (two GEMVs sharing DRAM, Mixtral-8x7B decode) at each fidelity. ``--baseline`` (default
b87ef16) is a directory or a git ref, checked out into a temporary worktree and removed after.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, os, resource, statistics, sys, tempfile, time
import accelsim
task, tree, args = sys.argv[1], os.path.realpath(sys.argv[2]), json.loads(sys.argv[3])
if not os.path.realpath(accelsim.__file__).startswith(tree + os.sep):
    sys.exit(f"accelsim imported from {accelsim.__file__}, not from the tree {tree}")
out = {}

def median(fn, reps, setup=lambda: None):
    times = []
    for _ in range(reps):
        setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)

if task == "sim":
    from accelsim.workload import zoo
    cfg, fid = os.path.join(tree, "configs", "sa128_bf16_hbm.yaml"), args["fidelity"]
    trace = zoo.build_trace("llama2-7b", phase="decode", batch=16, ctx=2048)
    arch = {}

    def fresh():  # a new design: no unit costs, plans or prices from earlier calls
        for mod, name in (("accelsim.engine.plan", "_STATIC"), ("accelsim.cost.estimator", "_CACHE")):
            cache = getattr(sys.modules.get(mod), name, None)
            if cache is not None:
                cache.clear()
        arch["a"] = accelsim.load_arch(cfg)
    sim = lambda: accelsim.simulate(arch["a"], trace, fidelity=fid)
    out["cold_s"] = median(sim, args["cold"], fresh)
    if args["warm"]:
        fresh()
        sim()
        out["warm_s"] = median(sim, args["warm"])
elif task == "sweep":
    from accelsim.dse import load_experiment, load_results, run_sweep
    n = args["points"]
    overrides = [f"strategy={{kind: random, samples: {n}, seed: 0}}"] if n else []
    exp = load_experiment(os.path.join(tree, "experiments", "llama2_7b_decode_10k.yaml"), overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rep = run_sweep(exp, os.path.join(tmp, "store"), workers=1, backend="local")
        wall = time.perf_counter() - t0
        out["rows"] = len(load_results(os.path.join(tmp, "store"), status=None))
    out.update(wall_s=wall, evaluated=rep.evaluated, failed=rep.failed,
               points_per_s=rep.evaluated / wall)
    self_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out.update(rss_self_mib=self_mib, rss_children_mib=kids_mib,
               rss_peak_mib=max(self_mib, kids_mib))
elif task == "contention":  # the engine-spine issue's cases, op vs tile fidelity
    from accelsim.workload import Gemm, Trace, zoo
    sa = {"type": "systolic_array", "rows": 32, "cols": 32, "dataflow": "os", "pe_dtype": "bf16",
          "fold_overlap": True}
    two = accelsim.arch_from_dict({"clock_ghz": 1.0, "tech_node_nm": 28,
                                   "units": {"sa0": sa, "sa1": dict(sa)},
                                   "memory": {"dram": {"bandwidth_bytes_per_cycle": 64}}})
    gemvs = Trace.from_ops("two", [Gemm(f"g{i}", m=1, n=4096, k=4096, dtype="bf16", deps=())
                                   for i in range(2)])
    for f in ("analytical", "op", "tile"):
        out[f"two_gemvs_{f}"] = [float(c) for c in accelsim.simulate(two, gemvs, f).per_op["end"]]
    hbm = accelsim.load_arch(os.path.join(tree, "configs", "sa128_bf16_hbm.yaml"))
    mix = zoo.build_trace("mixtral-8x7b", phase="decode", batch=16, ctx=2048)
    per = {}
    for f in ("analytical", "op", "tile"):
        r = accelsim.simulate(hbm, mix, f)
        out[f"mixtral_{f}_cycles"] = float(r.cycles)
        per[f] = r.per_op["cycles"].to_numpy()
        out[f"mixtral_expert0_act_{f}"] = float(r.per_op["cycles"][r.per_op["op"] == "expert0.act"].max())
    rel = abs(per["op"] - per["tile"]) / per["tile"]
    out["mixtral_op_vs_tile_max_rel"] = float(rel.max())
out["accelsim_file"] = accelsim.__file__
print(json.dumps(out))
'''

# (label, task key, figure, unit scale, unit, higher is better)
Row = tuple[str, str, str, float, str, bool]
SIM_ROWS: list[Row] = [
    ("simulate op cold", "sim_op", "cold_s", 1e3, "ms", False),
    ("simulate op warm", "sim_op", "warm_s", 1e3, "ms", False),
    ("simulate analytical cold", "sim_analytical", "cold_s", 1e3, "ms", False),
    ("simulate tile cold", "sim_tile", "cold_s", 1e3, "ms", False),
]
SWEEP_ROWS: list[Row] = [
    ("sweep wall", "sweep", "wall_s", 1.0, "s", False),
    ("sweep points/s", "sweep", "points_per_s", 1.0, "pt/s", True),
    ("sweep peak RSS (self)", "sweep", "rss_self_mib", 1.0, "MiB", False),
    ("sweep peak RSS (children)", "sweep", "rss_children_mib", 1.0, "MiB", False),
    ("sweep peak RSS (max)", "sweep", "rss_peak_mib", 1.0, "MiB", False),
]
IMPORT_ROW: Row = ("import accelsim", "import", "wall_s", 1e3, "ms", False)


def git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(tree), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def child(tree: Path, task: str, args: dict[str, Any] | None = None) -> tuple[dict, float]:
    """Run CHILD for ``task`` in ``tree``; its JSON line and the child's wall time."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-c", CHILD, task, str(tree), json.dumps(args or {})]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{task} in {tree} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def measure(trees: list[Path], args: argparse.Namespace) -> list[dict[str, dict]]:
    """Every figure for each tree, each in fresh children; the trees take turns per task."""
    res: list[dict[str, dict]] = [{} for _ in trees]
    tasks: list[tuple[str, str, dict[str, Any]]] = [
        ("sim_op", "sim", {"fidelity": "op", "cold": 30, "warm": 30}),
        ("sim_analytical", "sim", {"fidelity": "analytical", "cold": 10, "warm": 0}),
        ("sim_tile", "sim", {"fidelity": "tile", "cold": 10, "warm": 0})]
    tasks.append(("contention", "contention", {}))
    if not args.skip_sweep:
        tasks.append(("sweep", "sweep", {"points": args.points}))
    for _ in range(5):
        for r, tree in zip(res, trees):
            r.setdefault("import", {"walls_s": []})["walls_s"].append(child(tree, "import")[1])
    for r in res:
        r["import"]["wall_s"] = statistics.median(r["import"]["walls_s"])
    for name, task, targs in tasks:
        for r, tree in zip(res, trees):
            r[name] = child(tree, task, targs)[0]
    return res


def resolve_baseline(spec: str, tmp: Path) -> tuple[Path, bool]:
    """The baseline tree and whether it is a temporary worktree made here."""
    if Path(spec).is_dir():
        return Path(spec).resolve(), False
    tree = tmp / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), spec],
                   check=True, capture_output=True, text=True)
    return tree.resolve(), True


def ratio(base: float, cur: float, higher_better: bool) -> float | None:
    num, den = (cur, base) if higher_better else (base, cur)
    return num / den if den and num else None


def table(rows: list[Row], base: dict, cur: dict) -> list[dict[str, Any]]:
    out = []
    print(f"{'measurement':<28}{'baseline':>14}{'current':>14}{'ratio':>9}")
    for label, task, key, scale, unit, hb in rows:
        b, c = base[task][key], cur[task][key]
        r = ratio(b, c, hb)
        print(f"{label:<28}{b * scale:>9.2f} {unit:<4}{c * scale:>9.2f} {unit:<4}"
              + (f"{r:>8.2f}x" if r is not None else f"{'-':>9}"))
        out.append({"measurement": label, "unit": unit, "baseline": b * scale,
                    "current": c * scale, "ratio": r})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="b87ef16", help="a directory or a git ref")
    ap.add_argument("--points", type=int, help="a random sample of N points, not all 10,000")
    ap.add_argument("--skip-sweep", action="store_true", help="do not run the sweep")
    ap.add_argument("--json", help="also write the figures as JSON")
    args = ap.parse_args()
    head, dirty = git(ROOT, "rev-parse", "HEAD"), bool(git(ROOT, "status", "--porcelain"))
    tmp = Path(tempfile.mkdtemp(prefix="bench_spine_"))
    base_tree, made = resolve_baseline(args.baseline, tmp)
    try:
        base, cur = measure([base_tree, ROOT], args)
        base_commit = git(base_tree, "rev-parse", "HEAD")
    finally:
        if made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(base_tree)], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    rows = SIM_ROWS + ([] if args.skip_sweep else SWEEP_ROWS) + [IMPORT_ROW]
    print(f"baseline {args.baseline} ({base_commit[:9]})  vs  current HEAD "
          f"{head[:7]}{' (dirty)' if dirty else ''}; ratio > 1: better now")
    figures = table(rows, base, cur)
    print("contention (cycles; not ratios):")
    for key in base["contention"]:
        print(f"  {key:<34} baseline {base['contention'][key]}  current {cur['contention'][key]}")
    for name, res in (("baseline", base), ("current", cur)):
        if "sweep" in res:
            s = res["sweep"]
            print(f"{name} sweep: {s['evaluated']} evaluated, {s['failed']} failed, "
                  f"{s['rows']} rows")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "baseline_ref": args.baseline, "baseline_commit": base_commit,
            "current_head": head, "current_dirty": dirty,
            "points": args.points, "figures": figures,
            "raw": {"baseline": base, "current": cur}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
