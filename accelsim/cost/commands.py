"""CLI: ``accelsim techlib show [--node N]`` (a plugin module of ``accelsim.cli``)."""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from . import arith, memory, scaling, techlib
from .components import build, mux2_bit

Handler = Callable[[argparse.Namespace, Console], int]

#: derived parts shown by ``techlib show``: (label, kind, params, action, per)
DERIVED: tuple[tuple[str, str, dict[str, Any], str, str], ...] = (
    ("int8 MAC (int32 acc)", "mac", {"dtype": "int8"}, "mac", "op"),
    ("int4 MAC (int32 acc)", "mac", {"dtype": "int4"}, "mac", "op"),
    ("fp8 e4m3 MAC (fp32 acc)", "mac", {"dtype": "fp8_e4m3"}, "mac", "op"),
    ("bf16 MAC (fp32 acc)", "mac", {"dtype": "bf16"}, "mac", "op"),
    ("fp16 MAC (fp32 acc)", "mac", {"dtype": "fp16"}, "mac", "op"),
    ("fp32 MAC", "mac", {"dtype": "fp32"}, "mac", "op"),
    ("bf16 multiplier", "multiplier", {"dtype": "bf16"}, "mul", "op"),
    ("bf16 adder", "adder", {"dtype": "bf16"}, "add", "op"),
    ("shift-and-add 16b, shift 0..7", "shift_add", {"bits": 16, "max_shift": 7}, "op", "op"),
    ("LUT 16 x 16b read", "lut", {"entries": 16, "width_bits": 16}, "read", "lookup"),
    ("register", "register", {"bits": 1}, "write_bit", "bit"),
    ("SRAM 8 KB, 64b", "sram", {"capacity_bytes": 8 << 10}, "read_bit", "bit"),
    ("SRAM 32 KB, 64b", "sram", {"capacity_bytes": 32 << 10}, "read_bit", "bit"),
    ("SRAM 256 KB, 64b", "sram", {"capacity_bytes": 256 << 10}, "read_bit", "bit"),
    ("SRAM 1 MB, 64b", "sram", {"capacity_bytes": 1 << 20}, "read_bit", "bit"),
    ("SRAM 24 MB, 2048b", "sram", {"capacity_bytes": 24 << 20, "width_bits": 2048},
     "read_bit", "bit"),
    ("wire, 1 mm", "wire", {"length_mm": 1.0}, "bit", "bit"),
)


def add_commands(sub: Any) -> dict[str, Handler]:
    """Register ``techlib``; return its handler."""
    t = sub.add_parser("techlib", help="the energy/area technology library")
    tsub = t.add_subparsers(dest="techlib_command", required=True)
    s = tsub.add_parser("show", help="print the library at a node, with sources")
    s.add_argument("--node", type=float, default=28.0,
                   help=f"technology node in nm (default 28; supported: "
                        f"{', '.join(f'{n:g}' for n in scaling.SUPPORTED_NODES)})")
    s.add_argument("--json", metavar="FILE", help="write the tables as JSON ('-': stdout)")
    return {"techlib": cmd_techlib}


def cmd_techlib(args: argparse.Namespace, console: Console) -> int:
    node = scaling.check_node(args.node)
    data = tables(node)
    if args.json:
        text = json.dumps(data, indent=1)
        if args.json == "-":
            print(text)
            return 0
        with open(args.json, "w") as f:
            f.write(text + "\n")
    _print(data, node, console)
    return 0


def tables(node: float) -> dict[str, list[dict[str, Any]]]:
    """The library at ``node``: constants, derived parts, DRAM, node factors, fitted values."""
    consts = [{"component": e.component, "action": e.action,
               "params": ";".join(f"{k}={v}" for k, v in e.params),
               "source_node_nm": e.node_nm, "value": e.value, "unit": e.unit,
               "at_node": e.at(node), "scales": e.scales, "confidence": e.confidence,
               "source": e.source} for e in techlib.entries()]
    derived = []
    for label, kind, params, action, per in DERIVED:
        m = build(kind, params, node)
        derived.append({"part": label, "energy_pj": m.energy(action), "per": per,
                        "area_um2": m.area_um2, "leakage_w": m.leak_w, "model": m.formula})
    derived.append({"part": "2:1 mux", "energy_pj": mux2_bit(node), "per": "bit",
                    "area_um2": mux2_bit(node, "area"), "leakage_w": None,
                    "model": "full-adder bit x 12/28 transistors"})
    dram = [{"kind": k, "energy_pj_per_bit": memory.dram_costs(k)["read_bit"],
             "activate_pj": memory.dram_costs(k).get("activate"),
             "source": techlib.get("dram", "access_bit", kind=k).source}
            for k in techlib.dram_kinds()]
    f = scaling.factors(node)
    nodes = [{"node_nm": n, "area_vs_45": scaling.factors(n).area,
              "energy_vs_45": scaling.factors(n).energy, "vdd": scaling.factors(n).vdd,
              "how": scaling.factors(n).how} for n in scaling.SUPPORTED_NODES]
    fit = memory.sram_fit()
    fitted = [{"name": "sram E64 = a + b*sqrt(KB) (28 nm)",
               "value": f"a={fit.a_pj:.3f} pJ, b={fit.b_pj:.3f} pJ", "error":
               f"max {fit.max_rel_error:.1%} on 8 CACTI points"},
              {"name": "sram area = A1 * KB^g (28 nm)",
               "value": f"A1={fit.area_a1_mm2:.5f} mm2, g={fit.area_exp:.3f}", "error": "-"},
              {"name": "sram write/read energy", "value": f"{fit.write_ratio:.3f}", "error": "-"}]
    fitted += [{"name": k, "value": f"{v:.3f}", "error": "exact on 2 Horowitz points"}
               for k, v in arith.fit_summary().items()]
    fitted += [{"name": c.name, "value": f"{c.value:g} {c.unit}",
                "error": f"{c.error}; fitted to {c.fitted_to}"}
               for c in techlib.calibrations().values()]
    return {"node": [{"node_nm": node, "area_vs_45": f.area, "energy_vs_45": f.energy,
                      "vdd": f.vdd, "how": f.how}],
            "constants": consts, "derived": derived, "dram": dram, "nodes": nodes,
            "fitted": fitted}


def _g(v: Any, fmt: str = ".4g") -> str:
    return "-" if v is None else format(v, fmt)


def _print(data: dict[str, list[dict[str, Any]]], node: float, console: Console) -> None:
    n = data["node"][0]
    console.print(f"[bold]Technology library at {node:g} nm[/bold]: area x{n['area_vs_45']:.4g}, "
                  f"energy x{n['energy_vs_45']:.4g} vs 45 nm, VDD {n['vdd']:.3g} V ({n['how']})")
    t = Table(title="Cited constants (value at its source node -> at this node)",
              title_justify="left")
    for col in ("component", "action", "params", "source", "at node", "conf.", "citation"):
        t.add_column(col, overflow="fold")
    for r in data["constants"]:
        src = f"{_g(r['value'])} {r['unit']}" + (f" @{r['source_node_nm']:g}nm"
                                                  if r["source_node_nm"] else "")
        t.add_row(r["component"], r["action"], r["params"], src,
                  f"{_g(r['at_node'])} {r['unit']}", r["confidence"], r["source"])
    console.print(t)
    d = Table(title=f"Derived parts at {node:g} nm (component models)", title_justify="left")
    for col, just in (("part", "left"), ("energy (pJ)", "right"), ("per", "left"),
                      ("area (um2)", "right"), ("model", "left")):
        d.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for r in data["derived"]:
        d.add_row(r["part"], _g(r["energy_pj"]), r["per"], _g(r["area_um2"]), r["model"])
    console.print(d)
    m = Table(title="DRAM kinds (memory.dram.kind; off chip, not node-scaled)",
              title_justify="left")
    for col in ("kind", "pJ/bit", "activate (pJ)", "source"):
        m.add_column(col, overflow="fold")
    for r in data["dram"]:
        m.add_row(r["kind"], _g(r["energy_pj_per_bit"]), _g(r["activate_pj"]), r["source"])
    console.print(m)
    s = Table(title="Node scaling vs 45 nm (Stillmaker & Baas 2017; 5 nm: TSMC N5 vs N7)",
              title_justify="left")
    for col in ("node", "area", "energy", "VDD", "how"):
        s.add_column(col)
    for r in data["nodes"]:
        s.add_row(f"{r['node_nm']:g}", f"{r['area_vs_45']:.4g}", f"{r['energy_vs_45']:.4g}",
                  f"{r['vdd']:.3g}", r["how"])
    console.print(s)
    f = Table(title="Fitted / calibrated constants (kept apart from the cited ones)",
              title_justify="left")
    for col in ("name", "value", "error / fitted to"):
        f.add_column(col, overflow="fold")
    for r in data["fitted"]:
        f.add_row(r["name"], r["value"], r["error"])
    console.print(f)
