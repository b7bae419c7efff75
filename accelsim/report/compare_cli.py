"""``accelsim compare ARCH_A ARCH_B [...] WORKLOAD [--iso-area]``: several designs on one workload,
simulated and shown side by side (a table, ``--json``, ``--save FIG``).

With ``--iso-area`` every design is first sized to one area budget by
``accelsim.dse.sizing.size_to_area`` (cost model only): the budget is ``--area-mm2`` or else
the first design's own area (the first design is then kept as it is). Each design scales the
``--knob`` keys it has; a design with none of them scales its *natural* knobs, those of its
first GEMM unit (the first unit when none runs GEMMs): ``rows`` and ``cols`` of a PE array,
``tiles`` of a LUT tensor core, ``sms`` of a GPU, ``lanes`` of a vector unit,
``multipliers_per_bank`` of in-bank PIM. Buffers and memories keep their sizes.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..errors import AccelsimError

#: size knobs of a unit, in order of preference: the first group a unit has all of is scaled
NATURAL_KNOBS = (("rows", "cols"), ("tiles",), ("sms",), ("lanes",), ("multipliers_per_bank",))


def add_commands(sub: Any) -> dict:
    p = sub.add_parser(
        "compare", help="simulate several designs on one workload and show them side by side",
        description=__doc__.split("\n\n", 1)[1].replace("``", "'"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("designs", nargs="+", metavar="ARCH",
                   help="two or more architecture YAMLs, followed by the WORKLOAD")
    p.add_argument("workload", help="trace file, GEMM list (.csv), zoo model name or HF "
                                    "config.json (as for accelsim run)")
    p.add_argument("--iso-area", action="store_true",
                   help="size every design to one area budget first (the first design's area, "
                        "or --area-mm2), scaling its --knob keys, else its first GEMM unit's "
                        "natural knobs (rows/cols, tiles, sms, lanes)")
    p.add_argument("--area-mm2", type=float, help="with --iso-area: the budget in mm² (every "
                   "design is sized, the first too)")
    p.add_argument("--knob", action="append", default=[], metavar="KEY",
                   help="with --iso-area: an integer setting to scale, e.g. units.sa.rows "
                        "(repeatable; each design scales the ones it has)")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key of every design (repeatable)")
    from ..engine import FIDELITIES
    p.add_argument("--fidelity", choices=FIDELITIES, default="op")
    p.add_argument("--csv-dtype", default="int8", help="operand dtype of .csv GEMM lists")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write every design's results as JSON (no FILE or '-': stdout, "
                        "instead of the table)")
    p.add_argument("--save", metavar="FIG", help="also save a figure: op time and energy per "
                   "design (.png, .pdf, .svg, .eps)")
    p.add_argument("--size", choices=("column", "double"), default="double",
                   help="figure width (default double: 7.0 in)")
    p.add_argument("--no-title", action="store_true", help="figure without a title")
    from ..workload.commands import add_model_args
    add_model_args(p)
    return {"compare": cmd_compare}


def natural_knobs(doc: Any) -> list[str]:
    """The size knobs of the first GEMM unit of ``doc`` (``NATURAL_KNOBS``)."""
    from ..arch.device import build_arch
    arch = build_arch(doc)
    resolved = arch.resolved()["units"]
    names = list(arch.units)
    order = [n for n in names if "gemm" in arch.units[n].categories] + \
        [n for n in names if "gemm" not in arch.units[n].categories]
    for name in order[:1]:
        cfg = resolved[name]
        for group in NATURAL_KNOBS:
            if all(isinstance(cfg.get(k), int) and not isinstance(cfg.get(k), bool)
                   for k in group):
                return [f"units.{name}.{k}" for k in group]
    raise AccelsimError(f"{doc.file}: its unit {order[0]!r} has no natural size knob "
                        f"({', '.join('/'.join(g) for g in NATURAL_KNOBS)}); name one with "
                        f"--knob units.{order[0]}.KEY")


def _has(doc: Any, key: str) -> bool:
    from ..arch.device import build_arch
    from ..dse.space import has_path
    return has_path(doc.data, key) or has_path(build_arch(doc).resolved(), key)


def _labels(archs: list[Any], files: list[str]) -> list[str]:
    names = [a.name for a in archs]
    if len(set(names)) < len(names):
        names = [Path(f).stem for f in files]
    if len(set(names)) < len(names):
        names = [f"{n} #{i + 1}" for i, n in enumerate(names)]
    return names


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from ..arch.device import build_arch
    from ..cli import resolve_workload
    from ..config import load_document
    from ..cost.estimator import tokens_of
    from ..dse.evaluate import overlay
    from ..dse.sizing import area_mm2, size_to_area
    from ..pipeline import simulate
    from . import plots
    if len(args.designs) < 2:
        raise AccelsimError("compare needs two or more architectures before the workload "
                            "(accelsim compare ARCH_A ARCH_B ... WORKLOAD)")
    if (args.area_mm2 is not None or args.knob) and not args.iso_area:
        raise AccelsimError("--area-mm2 and --knob apply to --iso-area")
    docs = [load_document(f, args.override) for f in args.designs]
    sized: list[Any] = [None] * len(docs)
    budget = None
    if args.iso_area:
        budget = args.area_mm2 if args.area_mm2 is not None else area_mm2(docs[0])
        if not (isinstance(budget, float) and math.isfinite(budget) and budget > 0):
            raise AccelsimError(f"{args.designs[0]}: its area is unknown ({budget}), so it "
                                f"cannot set the budget; give --area-mm2")
        for i, doc in enumerate(docs):
            if i == 0 and args.area_mm2 is None:
                continue
            knobs = [k for k in args.knob if _has(doc, k)] or natural_knobs(doc)
            sized[i] = size_to_area(doc, budget, knobs)
            docs[i] = overlay(doc, dict(sized[i].values), {})
    archs = [build_arch(d) for d in docs]
    labels = _labels(archs, args.designs)
    trace = resolve_workload(args.workload, args.csv_dtype, args)
    results = {lab: simulate(a, trace, fidelity=args.fidelity) for lab, a in zip(labels, archs)}
    tokens = tokens_of(trace.meta)
    rows = [_row(lab, f, r, a, s, tokens, results[labels[0]])
            for lab, f, r, a, s in zip(labels, args.designs, results.values(), archs, sized)]
    if args.json:
        data = {"workload": trace.name, "fidelity": args.fidelity, "tokens": tokens,
                "iso_area": None if budget is None else {
                    "budget_mm2": budget, "knobs_from": "--knob" if args.knob else "natural"},
                "designs": rows}
        from .jsonout import write_json
        write_json(data, args.json)
    if args.json != "-":
        _print(rows, trace.name, budget, console)
    if args.save:
        fig = plots.plot_compare(results, size=args.size,
                                 title=None if args.no_title else plots.AUTO)
        plots.save_figure(fig, args.save)
        if args.json != "-":
            console.print(f"wrote {args.save}")
    return 0


def _row(label: str, file: str, r: Any, arch: Any, sized: Any, tokens: int | None,
         first: Any) -> dict[str, Any]:
    from .plots import op_ceilings
    s = r.summary()
    g = op_ceilings(r, arch)
    by = (g["seconds"] / max(g["seconds"].sum(), 1e-300)).groupby(g["ceiling_label"]).sum()
    top = by.sort_values(ascending=False)
    return {"label": label, "file": file, "arch": r.arch, "config_hash": r.config_hash,
            "sized": None if sized is None else sized.to_dict(),
            "latency_s": r.latency_s, "speedup_vs_first": first.latency_s / r.latency_s
            if r.latency_s > 0 else None,
            "tokens_per_s": tokens / r.latency_s if tokens and r.latency_s > 0 else None,
            "binds": {"ceiling": str(top.index[0]), "share": float(top.iloc[0])}
            if len(top) else None,
            "summary": s}


def _print(rows: list[dict], workload: str, budget: float | None, console: Console) -> None:
    from .tables import si
    title = f"{workload}: {len(rows)} designs" + (f", sized to {budget:.4g} mm²"
                                                  if budget is not None else "")
    t = Table(title=title, title_justify="left")
    t.add_column("")
    for r in rows:
        t.add_column(r["label"], justify="right")

    def num(v: Any, unit: str = "", fmt: str | None = None) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "–"
        return format(v, fmt) if fmt else si(float(v), unit)

    sm = [r["summary"] for r in rows]
    lines = [
        ("latency", [num(r["latency_s"], "s") for r in rows]),
        ("speed-up vs first", [num(r["speedup_vs_first"], fmt=".3g") + "×"
                               if r["speedup_vs_first"] else "–" for r in rows]),
        ("throughput (tokens/s)", [num(r["tokens_per_s"], fmt=",.4g") for r in rows]),
        ("energy", [num(s.get("energy_j"), "J") for s in sm]),
        ("energy per token", [num(s.get("energy_per_token_j"), "J") for s in sm]),
        ("power", [num(s.get("power_w"), "W") for s in sm]),
        ("area (mm²)", [num(s.get("area_mm2"), fmt=".4g") for s in sm]),
        ("utilisation", [num(s.get("utilization"), fmt=".1%") for s in sm]),
        ("DRAM read", [num((s.get("bytes") or {}).get("dram_read"), "B") for s in sm]),
        ("most time bound by", [f"{r['binds']['ceiling']} ({r['binds']['share']:.0%})"
                                if r["binds"] else "–" for r in rows]),
        ("sized", [", ".join(f"{k.split('.')[-1]}={v}" for k, v in r["sized"]["values"].items())
                   if r["sized"] else "as given" for r in rows]),
    ]
    if budget is None:
        lines.pop()
    for name, cells in lines:
        t.add_row(name, *cells)
    console.print(t)
