"""Readable terminal summaries of a SimResult (rich tables)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas and rich load with the tables, not for ``si`` (issue 16)
    import pandas as pd
    from rich.console import Console

    from ..engine.result import SimResult


def si(value: float, unit: str = "") -> str:
    """Format with an SI prefix: 1.23e-3 s -> '1.23 ms'."""
    if value == 0:
        return f"0 {unit}".strip()
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""),
                           (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}".strip()
    return f"{value:.3g} {unit}".strip()


def op_table(result: SimResult) -> pd.DataFrame:
    """Per-op rows grouped over segment repeats: one row per (segment, op)."""
    df = result.per_op
    g = df.groupby(["segment", "op"], sort=False)
    out = g.agg(kind=("kind", "first"), unit=("unit", "first"), count=("op", "size"),
                cycles=("cycles", "sum"), compute=("compute_cycles", "sum"),
                stall=("stall_cycles", "sum"), util=("utilization", "mean"),
                dram=("dram_read_bytes", "sum"), dram_w=("dram_write_bytes", "sum"),
                bound=("bound", "first")).reset_index()
    out["dram"] += out.pop("dram_w")
    out["share"] = out["cycles"] / max(df["cycles"].sum(), 1e-30)
    return out


def print_summary(result: SimResult, console: Console | None = None, max_ops: int = 40) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    s = result.summary()
    head = Table(title=f"{result.workload} on {result.arch} ({result.fidelity} fidelity)",
                 show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column(justify="right")
    head.add_row("latency", si(result.latency_s, "s"))
    head.add_row("cycles", f"{result.cycles:,.0f}")
    head.add_row("compute / stall cycles (sum over ops)",
                 f"{result.compute_cycles:,.0f} / {result.stall_cycles:,.0f}")
    head.add_row("GEMM-unit utilisation", f"{result.utilization:.1%}")
    head.add_row("FLOPs", si(result.flops))
    b = result.bytes_by_level()
    head.add_row("DRAM read / write", f"{si(b['dram_read'], 'B')} / {si(b['dram_write'], 'B')}")
    if b["buffer_read"] or b["buffer_write"]:
        head.add_row("on-chip buffer read / write",
                     f"{si(b['buffer_read'], 'B')} / {si(b['buffer_write'], 'B')}")
    cap = result.capacity
    if cap is not None and cap.resident_bytes:
        of = f" of {si(cap.capacity_bytes, 'B')}" if cap.capacity_bytes is not None else ""
        head.add_row(f"resident in {cap.memory} (weights + KV cache)",
                     f"{si(cap.resident_bytes, 'B')}{of}")
    head.add_row("ops simulated", f"{s['ops']:,}")
    head.add_row("config hash", result.config_hash)
    console.print(head)
    for problem in result.infeasible:
        console.print(f"[bold red]infeasible:[/bold red] {problem}", markup=True)

    ops = op_table(result)
    t = Table(title="Per op (summed over repeats)", title_justify="left")
    for col, just in (("segment", "left"), ("op", "left"), ("unit", "left"), ("×", "right"),
                      ("cycles", "right"), ("share", "right"), ("stall", "right"),
                      ("util", "right"), ("DRAM", "right"), ("bound", "left")):
        t.add_column(col, justify=just)
    for r in ops.head(max_ops).itertuples(index=False):
        t.add_row(r.segment, r.op, r.unit, str(r.count), f"{r.cycles:,.0f}", f"{r.share:.1%}",
                  f"{r.stall:,.0f}", f"{r.util:.1%}", si(r.dram, "B"), r.bound)
    if len(ops) > max_ops:
        t.caption = f"{len(ops) - max_ops} more ops in the JSON output"
    console.print(t)
