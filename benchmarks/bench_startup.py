"""Start-up and single-step speed (issue 16), as ratios against a baseline tree and SCALE-Sim.

Every figure is taken in fresh child processes, the trees and SCALE-Sim in turn, round by round
(the machine is shared and noisy), and reported as the median over rounds:

* ``accelsim --version``: wall of the whole process (the ``accelsim`` console script's code:
  ``accelsim.cli.main``); target < 0.2 s;
* ``import accelsim``: wall of the import inside the child, and of the whole child process;
* ``accelsim gemm configs/scalesim/sa32_os.yaml --m 64 --n 64 --k 64``: wall and CPU (user +
  sys) of the whole process, against a whole SCALE-Sim 3 run of the same GEMM (``python -m
  scalesim.scale`` on configs/scalesim/examples/scale.cfg: 32x32 output stationary, 1024 KB per
  operand) from a scratch venv (``--scalesim-python``; never a dependency); target: faster;
* one LLaMA-2-7B decode step (batch 16, ctx 2048) on configs/sa128_bf16_hbm.yaml at op
  fidelity through the Python API: cold = the first ``simulate()`` in a process after
  ``from accelsim import load_arch, load_workload, simulate`` and loading the arch and the
  trace; warm = the median of 200 repeated calls; targets < 3 ms cold, < 1 ms warm. Also
  "fresh design" (the issue's cold, as benchmarks/bench_spine.py takes it): the median of 30
  calls in a warm process, each on a newly loaded arch with the plan and price caches cleared;
* the floor: a child that only imports what ``accelsim gemm`` cannot do without (numpy with
  one BLAS thread, as the CLI asks, pydantic with one model, yaml; rich is not imported when
  the output is not a terminal), one that imports numpy alone (which SCALE-Sim needs too),
  and a bare ``python -c pass``.

Both trees' bytecode is compiled first (``compileall``), as an installed package's is, so no
child pays for compiling sources (this environment sets PYTHONDONTWRITEBYTECODE). Run:

    python benchmarks/bench_startup.py [--baseline DIR] [--scalesim-python PY] [--rounds N]
                                       [--json benchmarks/results_startup.json]

``--baseline`` is a source tree of the code before this work (e.g. ``git archive 64f99e8``
unpacked in /tmp/baseline_d); each child checks that ``accelsim`` came from its tree.
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GEMM_ARGS = ["gemm", "configs/scalesim/sa32_os.yaml", "--m", "64", "--n", "64", "--k", "64"]

CHECK = ("import os, sys, accelsim\n"
         "tree = os.path.realpath(sys.argv[1])\n"
         "if not os.path.realpath(accelsim.__file__).startswith(tree + os.sep):\n"
         "    sys.exit(f'accelsim from {accelsim.__file__}, not from {tree}')\n")
IMPORT = ("import time\nt0 = time.perf_counter()\nimport accelsim\n"
          "print(time.perf_counter() - t0)\n")
CLI = "import sys\nfrom accelsim.cli import main\nsys.argv[1:] = sys.argv[2:]\nsys.exit(main())\n"
STEP = r'''
import json, statistics, sys, time
from accelsim import load_arch, load_workload, simulate
arch = load_arch("configs/sa128_bf16_hbm.yaml")
trace = load_workload("llama2-7b", phase="decode", batch=16, ctx=2048)
t0, c0 = time.perf_counter(), time.process_time()
res = simulate(arch, trace, fidelity="op")
cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
warm = []
for _ in range(200):
    t0 = time.perf_counter()
    simulate(arch, trace, fidelity="op")
    warm.append(time.perf_counter() - t0)
fresh = []  # the issue's "cold": a new design in a warm process (bench_spine's definition)
for _ in range(30):
    for mod, name in (("accelsim.engine.plan", "_STATIC"), ("accelsim.cost.estimator", "_CACHE")):
        getattr(sys.modules[mod], name).clear()
    a = load_arch("configs/sa128_bf16_hbm.yaml")
    t0 = time.perf_counter()
    simulate(a, trace, fidelity="op")
    fresh.append(time.perf_counter() - t0)
print(json.dumps({"cold_ms": 1e3 * cold, "cold_cpu_ms": 1e3 * cold_cpu,
                  "warm_ms": 1e3 * statistics.median(warm), "warm_min_ms": 1e3 * min(warm),
                  "fresh_design_ms": 1e3 * statistics.median(fresh), "cycles": res.cycles}))
'''


def child(tree: Path, code: str, *args: str) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of ``python -c code args`` with ``tree`` first on the path."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"child failed in {tree}: {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def scalesim_files(folder: Path) -> list[str]:
    """SCALE-Sim's arguments for the 64x64x64 GEMM on the 32x32 OS array of sa32_os.yaml."""
    cfg = (ROOT / "configs" / "scalesim" / "examples" / "scale.cfg").read_text()
    (folder / "scale.cfg").write_text(cfg.replace("run_name = scalesim_example_32x32_os",
                                                  "run_name = gemm64"))
    (folder / "gemm.csv").write_text("Layer, M, N, K,\ngemm64, 64, 64, 64,\n")
    # SCALE-Sim 3's command line always reads a layout file; custom layouts are off in the cfg
    (folder / "layout.csv").write_text("Layer name," + ",".join(f"f{i}" for i in range(20))
                                       + ",\ngemm64," + ",".join(["1"] * 20) + ",\n")
    return ["-m", "scalesim.scale", "-c", "scale.cfg", "-t", "gemm.csv", "-l", "layout.csv",
            "-p", "out", "-i", "gemm"]


def run_scalesim(py: str, folder: Path, args: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([py, *args], cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or "Run Complete" not in proc.stdout:
        sys.exit(f"SCALE-Sim failed: {proc.stdout[-1000:]}{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


#: what ``accelsim gemm`` cannot do without: numpy (with the one BLAS thread the CLI asks for),
#: yaml and pydantic with one model built (rich is not imported when the output is not a
#: terminal); and numpy alone, which SCALE-Sim needs as well
FLOOR = ("import os\nos.environ.setdefault('OPENBLAS_NUM_THREADS', '1')\n"
         "import numpy, yaml\nfrom pydantic import BaseModel\n"
         "class A(BaseModel):\n    x: int\n")
NUMPY = "import numpy\n"


def measure(tree: Path, rounds_out: dict[str, list[float]]) -> None:
    """One round of every accelsim figure for ``tree`` (appended to ``rounds_out``)."""
    child(tree, CHECK, str(tree))
    w, c, _ = child(tree, CLI, "x", "--version")
    rounds_out.setdefault("version_wall_s", []).append(w)
    rounds_out.setdefault("version_cpu_s", []).append(c)
    w, _, out = child(tree, IMPORT)
    rounds_out.setdefault("import_s", []).append(float(out.strip()))
    rounds_out.setdefault("import_process_wall_s", []).append(w)
    w, c, _ = child(tree, CLI, "x", *GEMM_ARGS)
    rounds_out.setdefault("gemm_wall_s", []).append(w)
    rounds_out.setdefault("gemm_cpu_s", []).append(c)
    if tree == ROOT:
        w, c, _ = child(tree, "pass")
        rounds_out.setdefault("python_bare_wall_s", []).append(w)
        rounds_out.setdefault("python_bare_cpu_s", []).append(c)
        w, c, _ = child(tree, FLOOR)
        rounds_out.setdefault("gemm_libraries_cpu_s", []).append(c)
        w, c, _ = child(tree, NUMPY)
        rounds_out.setdefault("numpy_alone_cpu_s", []).append(c)
    _, _, out = child(tree, STEP)
    for k, v in json.loads(out).items():
        rounds_out.setdefault(k, []).append(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="/tmp/baseline_d",
                    help="source tree of the old code (skipped when missing)")
    ap.add_argument("--scalesim-python", default="/tmp/d_scalesim_venv/bin/python",
                    help="a Python with scalesim 3 installed (skipped when missing)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results_startup.json"))
    a = ap.parse_args()
    trees = {"current": ROOT}
    if Path(a.baseline, "accelsim").is_dir():
        trees["baseline"] = Path(a.baseline)
    for tree in trees.values():
        compileall.compile_dir(str(tree / "accelsim"), quiet=1)
    has_ss = Path(a.scalesim_python).exists()
    rounds: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    ss: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scalesim-") as tmp:
        ss_args = scalesim_files(Path(tmp)) if has_ss else []
        for _ in range(a.rounds):
            for name, tree in trees.items():
                measure(tree, rounds[name])
            if has_ss:
                w, c = run_scalesim(a.scalesim_python, Path(tmp), ss_args)
                ss.setdefault("gemm_wall_s", []).append(w)
                ss.setdefault("gemm_cpu_s", []).append(c)
    med = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in rounds.items()}
    cur = med["current"]
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg": os.getloadavg()},
        "rounds": a.rounds, "median": med,
        "scalesim": {k: statistics.median(v) for k, v in ss.items()} if ss else None,
        "targets": {"version_under_0.2s": cur["version_wall_s"] < 0.2,
                    "step_cold_under_3ms": cur["cold_ms"] < 3.0,
                    "step_warm_under_1ms": cur["warm_ms"] < 1.0,
                    "step_fresh_design_under_3ms": cur["fresh_design_ms"] < 3.0},
    }
    ratios: dict[str, float] = {}
    if "baseline" in med:
        base = med["baseline"]
        for k in ("version_wall_s", "version_cpu_s", "import_s", "gemm_wall_s", "gemm_cpu_s",
                  "cold_ms", "cold_cpu_ms", "warm_ms", "fresh_design_ms"):
            ratios[f"baseline/current {k}"] = base[k] / cur[k]
        if base["cycles"] != cur["cycles"]:
            sys.exit(f"results differ: {base['cycles']} != {cur['cycles']} cycles")
    if ss:
        for k in ("gemm_wall_s", "gemm_cpu_s"):
            ratios[f"scalesim/current {k}"] = result["scalesim"][k] / cur[k]
        result["targets"]["gemm_faster_than_scalesim"] = \
            cur["gemm_cpu_s"] < result["scalesim"]["gemm_cpu_s"]
    result["ratios"] = ratios
    rows = [("python -c pass wall", "python_bare_wall_s", "s"),
            ("python -c pass CPU", "python_bare_cpu_s", "s"),
            ("accelsim --version wall", "version_wall_s", "s"),
            ("accelsim --version CPU", "version_cpu_s", "s"), ("import accelsim", "import_s", "s"),
            ("gemm process wall", "gemm_wall_s", "s"), ("gemm process CPU", "gemm_cpu_s", "s"),
            ("gemm's libraries alone CPU", "gemm_libraries_cpu_s", "s"),
            ("numpy alone CPU", "numpy_alone_cpu_s", "s"),
            ("decode step cold", "cold_ms", "ms"), ("decode step cold CPU", "cold_cpu_ms", "ms"),
            ("decode step warm (median)", "warm_ms", "ms"),
            ("decode step warm (min)", "warm_min_ms", "ms"),
            ("decode step fresh design", "fresh_design_ms", "ms")]
    print(f"{'figure':28s} {'current':>10s} {'baseline':>10s} {'scalesim':>10s}")
    for label, k, unit in rows:
        b = med.get("baseline", {}).get(k)
        s = (result["scalesim"] or {}).get(k)
        if k not in cur:
            continue
        print(f"{label:28s} {cur[k]:10.4f} {'' if b is None else f'{b:10.4f}':>10s} "
              f"{'' if s is None else f'{s:10.4f}':>10s} {unit}")
    for k, v in ratios.items():
        print(f"{k:40s} {v:7.2f}x")
    print("targets:", result["targets"])
    Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
