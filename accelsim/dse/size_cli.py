"""``accelsim size ARCH --area-mm2 A --knob units.X.k [--knob ...]``: iso-area sizing."""
from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def add_commands(sub) -> dict:
    p = sub.add_parser("size", help="the largest design within an area budget (cost model "
                                    "only, no simulation)")
    p.add_argument("arch", help="architecture YAML")
    p.add_argument("--area-mm2", type=float, required=True, help="area budget in mm²")
    p.add_argument("--knob", action="append", required=True, metavar="KEY",
                   help="integer setting to scale (repeatable: several scale together, "
                        "keeping their ratios), e.g. units.sa.rows")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", metavar="FILE", help="write the answer as JSON")
    return {"size": cmd_size}


def cmd_size(args, console: Console) -> int:
    from ..config import load_document
    from .sizing import size_to_area
    t0 = time.perf_counter()
    doc = load_document(args.arch, args.override)
    budget, knobs, what = args.area_mm2, args.knob, "design"
    from ..system.config import DEVICE_PREFIX, is_system_doc
    if is_system_doc(doc.data):     # a system: size its device to the budget / devices
        from ..config import validate
        from ..system.config import SystemConfig
        cfg = validate(SystemConfig, doc.data, doc)
        n = cfg.devices.count
        doc = load_document(Path(doc.file).parent / cfg.devices.path, cfg.devices.overrides)
        budget, what = args.area_mm2 / n, f"device of {n} (each within {args.area_mm2 / n:g} mm²)"
        knobs = [k.removeprefix(DEVICE_PREFIX) for k in args.knob]
    res = size_to_area(doc, budget, knobs)
    ms = (time.perf_counter() - t0) * 1e3
    console.print(f"{args.arch}: the largest {what} within {args.area_mm2:g} mm²")
    t = Table()
    for col in ("knob", "start", "sized"):
        t.add_column(col, justify="left" if col == "knob" else "right")
    for k, v in res.values.items():
        t.add_row(k, str(res.start[k]), str(v))
    console.print(t)
    console.print(f"area {res.area_mm2:.4g} mm² ({res.area_mm2 / budget:.2%} of the "
                  f"budget), scale {res.scale:.4g}, {res.evaluations} area evaluations in "
                  f"{ms:.0f} ms")
    if res.limit:
        console.print(f"stopped by a config limit before the budget: {res.limit}")
    if args.json:
        Path(args.json).write_text(json.dumps(res.to_dict() | {"arch": args.arch,
                                                               "elapsed_ms": ms}, indent=1))
    return 0
