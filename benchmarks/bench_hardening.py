"""Big inputs cost seconds and megabytes (issue 17), measured, not asserted.

Each case runs the command line (or one loader call) in a fresh Python process and reports its
wall and CPU seconds (imports included; CPU time is the steadier figure on a shared machine) and
peak resident memory (ru_maxrss of the child), so cases do not share caches:

* ``trace_load_*``: ``load_trace`` on a generated 10^5-op JSON trace (LLaMA-2-7B decode ops,
  renamed, one segment: ~15 MB), by the fast JSON path and, unless ``--quick``, by the old
  YAML path (``trace_from_doc(load_yaml(...))``, what every trace took before): the ratio is
  old / new in the same run;
* ``trace_bad_op_located``: the same trace with op 99,990 broken: the located error's time;
* ``run_trace``: ``accelsim run ARCH trace.json`` (and ``--json FILE``);
* ``serving_100k``: ``accelsim run ARCH llama2-7b --requests`` 10^5 ShareGPT requests
  (``--quick``: 10^4);
* ``batch_1e6``: ``accelsim run ARCH llama2-7b --batch 1000000``; ``ws_gemm_m1e7``: a
  weight-stationary GEMM with M = 10^7 (``accelsim gemm``).

Run: ``python benchmarks/bench_hardening.py [--quick] [--json out.json]``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HBM = ROOT / "configs" / "sa128_bf16_hbm.yaml"

#: run in the child: time ``CODE`` and print seconds and peak RSS (MiB) as JSON
_HARNESS = """\
import json, resource, sys, time
t0 = time.perf_counter()
_ru = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = _ru.ru_utime + _ru.ru_stime
rc = 0
try:
{code}
except SystemExit as e:
    rc = e.code or 0
dt = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print("@@" + json.dumps({{"s": dt, "cpu_s": ru.ru_utime + ru.ru_stime - cpu0,
                          "rss_mib": ru.ru_maxrss / 1024, "rc": rc}}))
"""


def measure(code: str, timeout: float = 1800) -> dict:
    """Run ``code`` (after the imports it needs) in a fresh process: seconds, MiB, exit code."""
    src = _HARNESS.format(code=textwrap.indent(textwrap.dedent(code), "    "))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=ROOT)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("@@")), None)
    if line is None:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-3000:]}")
    res = json.loads(line[2:])
    res["stderr_tail"] = out.stderr.strip().splitlines()[-1:] if out.stderr.strip() else []
    return res


def cli(*argv: str) -> str:
    return f"from accelsim.cli import main\nsys.exit(main({list(map(str, argv))!r}))"


def make_trace(path: Path, n: int, broken: int | None = None) -> None:
    """A trace of ``n`` ops: LLaMA-2-7B decode ops (batch 16) repeated, renamed, one segment."""
    from accelsim.workload import zoo
    t = zoo.build_trace("llama2-7b", phase="decode", batch=16, ctx=2048)
    base = [op.to_dict() for s in t.segments for op in s.ops]
    ops = []
    for i in range(n):
        d = dict(base[i % len(base)])
        d.pop("deps", None)
        d.pop("tags", None)
        d["name"] = f"{d['name']}_{i // len(base)}"
        ops.append(d)
    if broken is not None:
        ops[broken] = {**ops[broken], "rows" if ops[broken]["kind"] == "vector" else "batch": -3}
    path.write_text(json.dumps({"name": "big", "ops": ops}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true",
                    help="skip the old YAML path and use 10^4 serving requests")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--ops", type=int, default=100_000)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trace, bad = Path(tmp) / "trace.json", Path(tmp) / "bad.json"
        make_trace(trace, args.ops)
        make_trace(bad, args.ops, broken=args.ops - 10)
        out["trace_file"] = {"ops": args.ops, "mib": trace.stat().st_size / 2 ** 20}
        out["trace_load_fast"] = measure(f"""
            from accelsim.workload import load_trace
            assert load_trace({str(trace)!r}).num_ops() == {args.ops}""")
        if not args.quick:
            out["trace_load_old_yaml_path"] = measure(f"""
                from accelsim.config import load_yaml
                from accelsim.config.files import MAX_INPUT_BYTES
                from accelsim.workload.traceio import trace_from_doc
                doc = load_yaml({str(trace)!r}, max_bytes=MAX_INPUT_BYTES)
                assert trace_from_doc(doc).num_ops() == {args.ops}""")
            out["trace_load_speedup"] = {
                "x": out["trace_load_old_yaml_path"]["s"] / out["trace_load_fast"]["s"],
                "cpu_x": out["trace_load_old_yaml_path"]["cpu_s"] / out["trace_load_fast"]["cpu_s"],
                "rss_x": out["trace_load_old_yaml_path"]["rss_mib"]
                / out["trace_load_fast"]["rss_mib"]}
        out["trace_bad_op_located"] = measure(cli("run", HBM, bad, "--quiet"))
        out["run_trace"] = measure(cli("run", HBM, trace, "--quiet"))
        out["run_trace_json"] = measure(cli("run", HBM, trace, "--quiet", "--json",
                                            Path(tmp) / "r.json"))
        n_req = 10_000 if args.quick else 100_000
        reqs = Path(tmp) / "reqs.csv"
        from accelsim.workload.requests import save_requests, synth_requests
        save_requests(synth_requests(n_req, "sharegpt", seed=0), reqs)
        out[f"serving_{n_req // 1000}k"] = measure(cli("run", HBM, "llama2-7b", "--requests",
                                                        reqs, "--quiet", "--json",
                                                        Path(tmp) / "s.json"))
        out["batch_1e6"] = measure(cli("run", HBM, "llama2-7b", "--batch", "1000000",
                                       "--quiet"))
        out["ws_gemm_m1e7"] = measure(cli("gemm", HBM, "--m", "10000000", "--n", "4096",
                                          "--k", "4096"))
    for k, v in out.items():
        print(f"{k:28s} " + ", ".join(f"{a}={b:.3g}" if isinstance(b, float) else f"{a}={b}"
                                      for a, b in v.items() if a != "stderr_tail"
                                      and b not in ([], None)))
        if v.get("stderr_tail"):
            print(f"{'':28s} stderr: {v['stderr_tail'][0][:150]}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
