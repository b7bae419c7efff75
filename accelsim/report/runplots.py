"""Figures of single simulations: rooflines that name the binding ceiling, timelines, and
side-by-side comparisons (re-exported by ``accelsim.report.plots``)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import AccelsimError
from .figstyle import (AUTO, PALETTE, RC, _fit, _legend_outside, _own,
                       _set_labels, _set_title, _styled, figure_size)

# ---------------------------------------------------------------------------- roofline

#: colours of the ceiling that binds an op
BOUND_COLORS = {"memory": "#0072B2", "buffer": "#882255", "compute": "#009E73",
                "weight": "#D55E00", "input": "#CC79A7", "fill": "#E69F00", "mapping": "#56B4E9"}
#: below this share of its unit's peak over its compute cycles, a compute-bound op is bound by
#: how the unit maps it (a weight-stationary array's weight preload, ...), not by the peak
MAPPING_EFFICIENCY = 0.5
#: a unit without a dataflow (a GPU's kernel model, whose compute time includes its memory
#: time) is DRAM-bound when moving the op's DRAM bytes at full bandwidth takes this share of it
KERNEL_DRAM_SHARE = 0.6


def op_ceilings(result: Any, arch: Any = None) -> pd.DataFrame:
    """Per (segment, op), summed over repeats: FLOPs, seconds, DRAM bytes, the simulation's
    ``bound`` and the ceiling that binds it.

    The simulation calls an op memory-bound when moving its bytes takes longer than its compute
    cycles, else compute-bound. Compute cycles include what the unit spends mapping the op: a
    weight-stationary array preloads R cycles of weights into every fold, so a decode GEMM with
    M < R rows runs at M/R of the peak however fast the DRAM is. ``ceiling`` names that: for a
    compute-bound op whose work is under ``MAPPING_EFFICIENCY`` of the unit's peak over its
    compute cycles, "weight load" (ws arrays), "input load" (is), "fill/drain" (os) or
    "mapping" (other units; but "memory" where a unit without a dataflow, whose kernel model
    holds its memory time, such as a GPU, spends ``KERNEL_DRAM_SHARE`` of the op's time moving
    its DRAM bytes at full bandwidth); "compute" when it runs near the peak; "memory" (through
    DRAM) or "buffer" (on-chip memories only) when memory-bound.
    """
    df = result.per_op.copy()
    util = pd.to_numeric(df["utilization"], errors="coerce").fillna(0.0)
    df["_work"] = util * df["cycles"]   # the op's work over its unit's peak, in device cycles
    g = df.groupby(["segment", "op"], sort=False).agg(
        kind=("kind", "first"), unit=("unit", "first"), bound=("bound", "first"),
        flops=("flops", "sum"), cycles=("cycles", "sum"), compute=("compute_cycles", "sum"),
        work=("_work", "sum"), rd=("dram_read_bytes", "sum"), wr=("dram_write_bytes", "sum"))
    g["seconds"] = g["cycles"] / result.clock_hz
    g["compute_seconds"] = g["compute"] / result.clock_hz
    g["efficiency"] = np.divide(g["work"], g["compute"], out=np.zeros(len(g)),
                                where=g["compute"].to_numpy() > 0).clip(0, 1)
    bw = math.nan
    if arch is not None and getattr(arch, "memories", None):
        bw = float(arch.memories[arch.main_memory].bandwidth_gb_s) * 1e9
    ceilings, labels = [], []
    for r in g.itertuples():
        unit = str(r.unit)
        flow = None
        if arch is not None and unit in getattr(arch, "units", {}):
            flow = getattr(arch.units[unit].config, "dataflow", None)
        dram_share = ((r.rd + r.wr) / bw / r.seconds if math.isfinite(bw) and bw > 0
                      and r.seconds > 0 else 0.0)
        if r.bound == "memory":
            c = "memory" if (r.rd + r.wr) > 0 else "buffer"
            lab = "DRAM bandwidth" if c == "memory" else "on-chip bandwidth"
        elif r.efficiency >= MAPPING_EFFICIENCY or r.compute <= 0:
            c, lab = "compute", f"{unit} compute peak"
        elif flow is None and dram_share >= KERNEL_DRAM_SHARE:
            # a unit whose compute time is a kernel model that already holds the memory time
            # (a GPU): the op spends most of it moving its DRAM bytes
            c, lab = "memory", "DRAM bandwidth"
        else:
            c, lab = {"ws": ("weight", f"{unit} weight load (ws)"),
                      "is": ("input", f"{unit} input load (is)"),
                      "os": ("fill", f"{unit} fill/drain (os)")}.get(
                          flow, ("mapping", f"{unit} under-utilised"))
        ceilings.append(c)
        labels.append(lab)
    g["ceiling"] = ceilings
    g["ceiling_label"] = labels
    return g


@_styled
def plot_roofline(result: Any, arch: Any, *, label_top: int = 4, ax: Axes | None = None,
                  title: str | None = AUTO, size: Any = None) -> Figure:
    """Roofline of ``arch`` (one compute roof per unit, the DRAM slope) with its ops placed.

    An op sits at (FLOPs / DRAM byte, FLOPs / s achieved); marker area follows its share of
    op time, its colour the ceiling that binds it (``op_ceilings``: the simulation's per-op
    ``bound``, refined where a compute-bound op runs far below its unit's peak because of how
    the unit maps it). Such mapping ceilings (a weight-stationary array's weight-load ceiling
    on decode) are drawn dashed at their FLOP/s over the op's compute time. Each unit's roof is
    its ``peak().flops`` at its clock; the slope is the main memory's bandwidth.
    """
    g = op_ceilings(result, arch)
    g = g[(g["flops"] > 0) & (g["cycles"] > 0)]
    secs = g["seconds"]
    perf = g["flops"] / secs
    ai = g["flops"] / (g["rd"] + g["wr"]).replace(0, np.nan)
    fig, ax = _own(ax, size)
    bw = arch.memories[arch.main_memory].bandwidth_gb_s * 1e9  # bytes/s, from the memory model
    lo = max(min(ai.min(skipna=True) / 4, 0.1), 1e-3) if ai.notna().any() else 0.1
    hi = max(ai.max(skipna=True) * 4, 1e3) if ai.notna().any() else 1e4
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    styles = ["-", "--", "-.", ":"]
    for i, (name, unit) in enumerate(arch.units.items()):
        peak = unit.peak().flops * arch.unit_clock_hz(name)  # the unit owns its peak
        if not peak > 0:
            continue
        roof = np.minimum(peak, bw * xs) if np.isfinite(bw) else np.full_like(xs, peak)
        ax.plot(xs, roof, color="black" if i == 0 else "0.45", linewidth=1,
                linestyle=styles[i % len(styles)], label=f"{name} roof ({peak / 1e12:.3g} TFLOP/s)")
    share = secs / secs.sum() if len(secs) else secs
    # mapping ceilings that bind a noticeable share of the time: dashed, at the op's FLOP/s
    # over its compute time (what the unit delivers on that shape, DRAM aside)
    mapped = g[~g["ceiling"].isin(["memory", "buffer", "compute"])]
    if len(mapped):
        rate = mapped["flops"] / mapped["compute_seconds"]
        lines = (pd.DataFrame({"label": mapped["ceiling_label"], "ceiling": mapped["ceiling"],
                               "rate": rate.map(lambda v: float(f"{v:.2g}")),
                               "share": share.reindex(mapped.index)})
                 .groupby(["label", "ceiling", "rate"], sort=False)["share"].sum()
                 .sort_values(ascending=False).reset_index())
        for r in lines[lines["share"] >= 0.05].head(3).itertuples(index=False):
            name = r.label.replace(" (ws)", "").replace(" (is)", "").replace(" (os)", "")
            ax.axhline(r.rate, color=BOUND_COLORS[r.ceiling], linewidth=0.8, linestyle="--",
                       label=f"{name} ceiling ({r.rate / 1e12:.3g} TFLOP/s)")
    x = ai.fillna(hi)
    by_time = share.groupby(g["ceiling_label"]).sum().sort_values(ascending=False)
    for lab in by_time.index:
        sel = g["ceiling_label"] == lab
        ax.scatter(x[sel], perf[sel], s=8 + 150 * share[sel],
                   color=BOUND_COLORS[g["ceiling"][sel].iloc[0]], alpha=0.8, edgecolors="black",
                   linewidths=0.3, zorder=3, label=f"bound: {lab}")
    for i, ((seg, op), _) in enumerate(share.sort_values(ascending=False).head(label_top).items()):
        ax.annotate(op, (x[(seg, op)], perf[(seg, op)]), fontsize=5,
                    xytext=(4, 4 - 9 * (i % 2)), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _set_labels(ax, "Arithmetic intensity (FLOP/DRAM byte)", "Performance (FLOP/s)")
    bw_text = f"DRAM {bw / 1e9:.3g} GB/s" if np.isfinite(bw) else "unlimited DRAM bandwidth"
    auto = f"{result.arch}: {bw_text}"
    if len(by_time):
        auto += f"; {by_time.index[0]} binds {by_time.iloc[0]:.0%} of op time"
    _set_title(ax, title, auto)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.4)
    _legend_outside(ax)
    return fig


# ---------------------------------------------------------------------------- timeline

def _time_scale(seconds: float) -> tuple[float, str]:
    for factor, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= 10 * factor:
            return factor, unit
    return 1e-9, "ns"


@_styled
def plot_timeline(result: Any, *, ax: Axes | None = None, title: str | None = AUTO,
                  size: Any = None, color_by: str = "kind") -> Figure:
    """Gantt chart of one simulation: a row per unit, a bar per op run from its start to its
    end, coloured by op kind (``color_by="kind"``) or by the ceiling that binds it
    (``color_by="bound"``: the simulation's memory/compute label)."""
    df = result.per_op
    if color_by not in ("kind", "bound"):
        raise AccelsimError(f"timeline colour must be kind or bound, got {color_by!r}")
    fig, ax = _own(ax, size, "double")
    total = float(df["end"].max() / result.clock_hz) if len(df) else 0.0
    factor, unit = _time_scale(total)
    scale = 1.0 / (result.clock_hz * factor)
    units = sorted(df["unit"].astype(str).unique())
    keys = sorted(df[color_by].astype(str).unique())
    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}
    if color_by == "bound":
        colors = {k: BOUND_COLORS.get(k, c) for k, c in colors.items()}
    many = len(df) > 5000
    labelled: set[str] = set()
    for y, u in enumerate(units):
        on = df[df["unit"].astype(str) == u]
        for k in keys:
            part = on[on[color_by].astype(str) == k]
            if part.empty:
                continue
            spans = list(zip(part["start"].to_numpy(float) * scale,
                             part["cycles"].to_numpy(float) * scale))
            ax.broken_barh(spans, (y - 0.35, 0.7), facecolors=colors[k], linewidth=0,
                           rasterized=many, label=None if k in labelled else k)
            labelled.add(k)
    ax.set_yticks(range(len(units)), units)
    ax.set_ylim(-0.6, len(units) - 0.4)
    ax.invert_yaxis()
    ax.set_xlim(0, total / factor if total > 0 else 1)
    _set_labels(ax, f"Time ({unit})", "Unit")
    ax.grid(True, axis="x", linewidth=0.3, alpha=0.5)
    from .tables import si
    _set_title(ax, title, f"{result.workload} on {result.arch}: {si(total, 's')}, "
                          f"{len(df):,} op runs")
    _legend_outside(ax, title=color_by)
    return fig



# ---------------------------------------------------------------------------- comparison

def plot_compare(results: dict[str, Any], *, by: str = "op", top: int = 6,
                 title: str | None = AUTO, size: Any = "double") -> Figure:
    """Designs side by side (``accelsim compare``): op time per group and, where the energy
    of at least one design is known, energy per hardware component; one bar per design. The
    two panels sit side by side, or one above the other (a taller figure) at column width."""
    import matplotlib
    from .plots import plot_breakdown
    energy = [k for k, r in results.items() if r.cost is not None
              and np.isfinite(r.cost.energy_j)]
    w, h = figure_size(size, "double")
    stacked = bool(energy) and w < 5   # a column: one panel above the other
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(w, h * 1.8 if stacked else h), dpi=150, layout="constrained")
        fig.get_layout_engine().set(w_pad=2 / 72, h_pad=2 / 72)
        FigureCanvasAgg(fig)
        n = 2 if energy else 1
        axes = fig.subplots(n if stacked else 1, 1 if stacked else n, squeeze=False).ravel()
    plot_breakdown(results, metric="latency", by=by, top=top, ax=axes[0], title="Op time")
    if energy:
        unknown = [k for k in results if k not in energy]
        note = f" (unknown: {', '.join(unknown)})" if unknown else ""
        try:
            plot_breakdown(results, metric="energy", by="component", top=top, ax=axes[1],
                           title="Energy" + note)
        except AccelsimError:   # energy totals but no component split
            plot_breakdown(results, metric="energy", by="kind", top=top, ax=axes[1],
                           title="Dynamic energy" + note)
    text = (" vs ".join(results) if title == AUTO else title)
    if text:
        with matplotlib.rc_context(RC):
            fig.suptitle(_fit(text, fig.get_size_inches()[0] * 0.95, 8), fontsize=8)
    return fig
