"""``accelsim gemm``'s output (also a system's tensor-parallel GEMM): its JSON object and its
two-column table."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from ..engine.result import SimResult


def gemm_json(result: SimResult) -> dict:
    """``accelsim gemm --json``'s object: the summary and the op's unit and bound."""
    d = result.summary()  # the first op's row, read from the columns (no DataFrame needed)
    d.update(unit=result.columns["unit"][0], bound=result.columns["bound"][0])
    return d


def print_gemm(result: SimResult, console: Console) -> None:
    """The GEMM's key figures as a two-column table: drawn by rich on a terminal (bold keys),
    else as the same characters without importing rich (``accelsim.report.plain``)."""
    from .tables import si
    s = gemm_json(result)
    title = f"{result.workload} on {result.arch} ({result.fidelity})"
    rows = [(k, f"{s[k]:,}") for k in ("cycles", "compute_cycles", "stall_cycles")]
    rows += [("utilization", f"{s['utilization']:.2%}"), ("latency", si(s["latency_s"], "s")),
             ("bound", s["bound"])]
    if not sys.stdout.isatty():
        from .plain import key_value_table
        text = key_value_table(title, rows)
        if text is not None:
            sys.stdout.write(text)
            return
    from rich.table import Table
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
