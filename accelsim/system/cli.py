"""``accelsim run SYSTEM.yaml WORKLOAD``: a workload on a multi-device system."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def run_system(args, console: Console) -> int:
    from ..cli import resolve_workload
    from .config import load_system
    from .simulate import simulate_system
    system = load_system(args.arch, args.override)
    if getattr(args, "requests", None):
        from ..workload.commands import run_serving
        return run_serving(args, console, system)
    trace = resolve_workload(args.workload, args.csv_dtype, args)
    r = simulate_system(system, trace, fidelity=args.fidelity)
    if not args.quiet and args.json != "-":
        p = r.parallelism
        console.print(f"{r.system}: {r.workload} on {r.devices} device(s) (dp {p['dp']}, "
                      f"tp {p['tp']}, pp {p['pp']}, ep {p['ep']}, {p['microbatches']} microbatch(es))")
        t = Table()
        t.add_column("metric")
        t.add_column("value", justify="right")
        t.add_row("latency", f"{r.latency_s * 1e3:.4g} ms")
        for i, s in enumerate(r.stage_latency_s):
            t.add_row(f"stage {i} (one microbatch)", f"{s * 1e3:.4g} ms")
        if p["pp"] > 1:
            t.add_row("activation send between stages", f"{r.transfer_s * 1e6:.4g} µs")
            t.add_row("pipeline bubble", f"{r.bubble:.1%}")
        t.add_row("collectives on stage 0", f"{r.comm_s * 1e3:.4g} ms")
        t.add_row("fits device memory", "yes" if r.fits_memory else "NO: " + "; ".join(
            q for c in r.capacity for q in c.problems()))
        if r.unsharded_ops:
            t.add_row("replicated (unknown role)", ", ".join(r.unsharded_ops))
        console.print(t)
        from ..report.tables import print_summary
        console.print("stage 0, one rank:")
        print_summary(r.stages[0], console)
    if args.json:
        doc = r.summary() | {"stages": [s.to_dict() for s in r.stages]}
        text = json.dumps(doc, indent=1, default=str) + "\n"
        if args.json == "-":
            print(text, end="")
        else:
            Path(args.json).write_text(text)
    return 0


def gemm_system(args, console: Console) -> int:
    """``accelsim gemm SYSTEM``: one column-parallel GEMM (Megatron's linear layer): each of
    the tp ranks computes N/tp columns, then an all-gather assembles C."""
    from ..cli import _default_dtype, _write_json
    from ..errors import AccelsimError
    from ..pipeline import simulate
    from ..report.gemm import gemm_json, print_gemm
    from ..workload import Collective, Gemm, Trace
    from ..workload.dtypes import dtype
    from .config import load_system
    system = load_system(args.arch, args.override)
    p = system.parallelism
    if p.pp > 1:
        raise AccelsimError(f"{args.arch}: one GEMM has no pipeline stages (pp = {p.pp}); use "
                            f"a system with pp 1")
    if args.n % p.tp:
        raise AccelsimError(f"tp = {p.tp} does not divide N = {args.n}")
    dt = args.dtype or _default_dtype(system.device)
    op = Gemm("gemm", m=args.m, n=args.n // p.tp, k=args.k, batch=args.batch, dtype=dt,
              w_dtype=args.w_dtype, group_size=args.group_size)
    ops = [op]
    if p.tp > 1:
        c_bytes = float(args.batch * args.m * args.n * dtype(dt).bytes)
        ops.append(Collective("gemm.all_gather", collective="all_gather", bytes=c_bytes,
                              group=p.tp, deps=("gemm",)))
    result = simulate(system.device, Trace.from_ops(
        f"gemm_{args.m}x{args.n}x{args.k}_tp{p.tp}", ops), fidelity=args.fidelity)
    if args.json:
        _write_json(gemm_json(result) | {"system": system.name, "tp": p.tp}, args.json)
        if args.json == "-":
            return 0
    console.print(f"{system.name}: column-parallel over tp {p.tp} (each rank N/{p.tp}, then an "
                  f"all-gather of C)")
    print_gemm(result, console)
    return 0
