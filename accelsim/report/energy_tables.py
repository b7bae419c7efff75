"""Terminal tables of a SimResult's energy and area (``accelsim run``)."""
from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from ..engine.result import SimResult
from .tables import si


def _pct(x: float, total: float) -> str:
    return f"{x / total:.1%}" if total > 0 and math.isfinite(total) else "-"


def print_energy_area(result: SimResult, console: Console | None = None, max_ops: int = 10
                      ) -> None:
    """Headline energy/power/area, breakdowns by component and the costliest ops."""
    console = console or Console()
    c = result.cost
    if c is None:
        return
    if c.unmodelled:
        console.print("[yellow]energy and area unknown:[/yellow] " + "; ".join(c.notes))
        return
    head = Table(title=f"Energy and area ({c.node_nm:g} nm, DRAM {c.dram_kind})",
                 show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column(justify="right")
    head.add_row("energy (dynamic + leakage)", f"{si(c.energy_j, 'J')} ({si(c.dynamic_j, 'J')} + "
                 f"{si(c.leakage_j, 'J')})")
    if c.tokens:
        head.add_row(f"energy per token ({c.tokens} tokens)", si(c.energy_per_token_j or 0, "J"))
    head.add_row("average power", si(c.power_w, "W"))
    head.add_row("area", f"{c.area_mm2:,.2f} mm²")
    head.add_row("efficiency", f"{c.tops_per_w:.3g} TOPS/W, {c.tops_per_mm2:.3g} TOPS/mm²")
    head.add_row("peak (GEMM units)", f"{c.peak_tops:.3g} TOPS")
    head.add_row("energy-delay product", f"{c.edp_js:.3g} J·s")
    console.print(head)

    e = Table(title="Energy by component", title_justify="left")
    for col, just in (("component", "left"), ("dynamic", "right"), ("leakage", "right"),
                      ("share", "right")):
        e.add_column(col, justify=just)  # type: ignore[arg-type]
    keys = sorted(set(c.energy_by_component) | set(c.leakage_by_component),
                  key=lambda k: -(c.energy_by_component.get(k, 0.0)
                                  + c.leakage_by_component.get(k, 0.0)))
    for k in keys:
        dyn, lk = c.energy_by_component.get(k, 0.0), c.leakage_by_component.get(k, 0.0)
        e.add_row(k, si(dyn, "J"), si(lk, "J"), _pct(dyn + lk, c.energy_j))
    console.print(e)

    a = Table(title=f"Area by component (x{c.overhead:g} integration overhead, calibrated on "
                    f"TPU v1)", title_justify="left")
    for col, just in (("component", "left"), ("components", "right"), ("on die", "right"),
                      ("share", "right")):
        a.add_column(col, justify=just)  # type: ignore[arg-type]
    for k, v in sorted(c.area_by_component.items(), key=lambda kv: -kv[1]):
        a.add_row(k, f"{v:,.3f} mm²", f"{v * c.overhead:,.3f} mm²", _pct(v, c.area_raw_mm2))
    a.add_row("[bold]total[/bold]", f"{c.area_raw_mm2:,.3f} mm²", f"{c.area_mm2:,.3f} mm²", "")
    console.print(a)

    df = result.per_op
    if "energy_j" not in df.columns:
        return
    g = df.groupby(["segment", "op"], sort=False).agg(
        unit=("unit", "first"), count=("op", "size"), energy=("energy_j", "sum")).reset_index()
    g = g.sort_values("energy", ascending=False, kind="stable")
    t = Table(title=f"Costliest ops by dynamic energy (top {max_ops}, summed over repeats)",
              title_justify="left")
    for col, just in (("segment", "left"), ("op", "left"), ("unit", "left"), ("×", "right"),
                      ("energy", "right"), ("share", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in g.head(max_ops).itertuples(index=False):
        t.add_row(r.segment, r.op, r.unit, str(r.count), si(r.energy, "J"),
                  _pct(r.energy, c.dynamic_j))
    console.print(t)
