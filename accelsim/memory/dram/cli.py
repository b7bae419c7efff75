"""``accelsim dram STANDARD [--pattern P] [--channels N] [--refresh on|off] [--json FILE|-]``:
the DRAM micro-benchmark (sustained bandwidth per access pattern, idle read latency)."""
from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from .closed_form import LATENCY_CASES, PATTERNS, QUEUE_DEPTH, idle_latency, sustained
from .standard import load_standard, standard_names, with_overrides


def add_commands(sub) -> dict:
    p = sub.add_parser("dram", help="a DRAM standard's sustained bandwidth per access pattern "
                                    "and idle read latency (closed forms)")
    p.add_argument("standard", nargs="?", help=f"one of: {', '.join(standard_names())}")
    p.add_argument("--pattern", choices=PATTERNS, action="append",
                   help="access pattern (repeatable; default: all)")
    p.add_argument("--channels", type=int, default=1, help="channels (default 1)")
    p.add_argument("--refresh", choices=("on", "off"), default="on")
    p.add_argument("--queue-depth", type=int, default=QUEUE_DEPTH,
                   help=f"controller queue per channel, requests (default {QUEUE_DEPTH})")
    p.add_argument("-t", "--timing", action="append", default=[], metavar="KEY=CYCLES",
                   help="override a timing value, e.g. tFAW=16")
    p.add_argument("--list", action="store_true", help="list the standards")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON ('-': stdout)")
    return {"dram": cmd_dram}


def _timing_overrides(items: list[str]) -> dict:
    from ...errors import AccelsimError
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value) if "." in value else int(value)
        except ValueError:
            sep = ""
        if not sep:
            raise AccelsimError(f"--timing {item!r}: expected KEY=NUMBER, e.g. tFAW=16")
    return out


def report(name: str, patterns: tuple[str, ...] = PATTERNS, channels: int = 1,
           refresh: bool = True, queue_depth: int = QUEUE_DEPTH,
           timing: dict | None = None) -> dict:
    """The micro-benchmark's numbers as a dict (what ``--json`` writes)."""
    from ...errors import AccelsimError
    if channels <= 0 or queue_depth <= 0:
        raise AccelsimError("--channels and --queue-depth must be positive")
    try:
        std = with_overrides(load_standard(name.lower()), timing=timing)
    except ValueError as e:
        raise AccelsimError(f"{name}: {e}") from None
    tck = std.timing.tCK_ns
    return {
        "standard": std.standard, "description": std.description, "source": std.source,
        "channels": channels, "refresh": refresh, "queue_depth": queue_depth, "tck_ns": tck,
        "peak_gb_s": channels * std.peak_gb_s,
        "patterns": {p: {"gb_s": channels * (s := sustained(std, p, refresh, queue_depth)).gb_s,
                         "efficiency": s.efficiency, "bound": s.bound} for p in patterns},
        "idle_latency": {c: {"cycles": idle_latency(std, c), "ns": idle_latency(std, c) * tck}
                         for c in LATENCY_CASES},
    }


def cmd_dram(args, console: Console) -> int:
    from ...errors import AccelsimError
    if args.list or not args.standard:
        t = Table(title="DRAM standards (accelsim/memory/dram/standards)")
        for col in ("standard", "channel", "peak / channel", "channels / stack", "source"):
            t.add_column(col)
        for n in standard_names():
            s = load_standard(n)
            o = s.organisation
            t.add_row(n, f"{o.bus_bits}-bit, {o.banks} banks, {o.row_bytes} B rows",
                      f"{s.peak_gb_s:.1f} GB/s", str(o.channels_per_stack), s.source)
        console.print(t)
        if not args.standard and not args.list:
            raise AccelsimError("name a standard (accelsim dram --list shows them)")
        return 0
    r = report(args.standard, tuple(args.pattern or PATTERNS), args.channels,
               args.refresh == "on", args.queue_depth, _timing_overrides(args.timing))
    if args.json == "-":
        json.dump(r, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if args.json:
        from pathlib import Path
        Path(args.json).write_text(json.dumps(r, indent=1) + "\n")
    console.print(f"{r['standard']}: {r['description']}; {r['channels']} channel(s), refresh "
                  f"{'on' if r['refresh'] else 'off'}, peak {r['peak_gb_s']:.2f} GB/s "
                  f"({r['source']})")
    t = Table()
    for col in ("pattern", "sustained GB/s", "of peak", "bound"):
        t.add_column(col, justify="left" if col in ("pattern", "bound") else "right")
    for p, v in r["patterns"].items():
        t.add_row(p, f"{v['gb_s']:.2f}", f"{v['efficiency']:.1%}", v["bound"])
    console.print(t)
    lat = Table(title="idle read latency")
    for col in ("case", "cycles (tCK)", "ns"):
        lat.add_column(col, justify="left" if col == "case" else "right")
    for c, v in r["idle_latency"].items():
        lat.add_row(c, f"{v['cycles']:g}", f"{v['ns']:.1f}")
    console.print(lat)
    return 0
