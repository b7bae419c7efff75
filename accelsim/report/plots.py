"""Paper-ready matplotlib figures: Pareto frontiers, heat maps, breakdown bars, rooflines.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never pyplot, so they
work headless and leave a notebook's backend alone. Axis labels carry units derived from metric
names (``latency_s`` -> "Latency (s)"); colours follow the architecture family, the same family
getting the same colour in every figure. ``save_figure`` writes PNG, PDF or SVG without
timestamps, so the same data gives the same file.
"""
from __future__ import annotations

from pathlib import Path
import functools
import textwrap
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..dse.pareto import default_sense, pareto_mask
from ..errors import AccelsimError

PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000"]  # Okabe-Ito: distinguishable in colour-blind vision and grey print
RC = {"font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
      "xtick.labelsize": 7, "ytick.labelsize": 7}
_NAMES = {"latency_s": ("Latency", "s"), "energy_j": ("Energy", "J"), "power_w": ("Power", "W"),
          "area_mm2": ("Area", "mm²"), "tokens_per_s": ("Throughput", "tokens/s"),
          "energy_per_token_j": ("Energy per token", "J/token"),
          "utilization": ("Utilization", None), "cycles": ("Cycles", None),
          "stall_cycles": ("Stall cycles", None), "compute_cycles": ("Compute cycles", None),
          "tops_per_w": ("Efficiency", "TOPS/W"), "tokens": ("Tokens per run", None),
          "peak_tflops": ("Peak compute", "TFLOP/s"), "pes": ("Processing elements", None)}
_SUFFIX_UNITS = [("_per_token_j", "J/token"), ("_gb_s", "GB/s"), ("_mm2", "mm²"),
                 ("_tflops", "TFLOP/s"), ("_tops", "TOPS"),
                 ("_ghz", "GHz"), ("_hz", "Hz"), ("_kb", "KiB"), ("_gb", "GB"), ("_nm", "nm"),
                 ("_w", "W"), ("_j", "J"), ("_s", "s")]


def metric_label(name: str) -> str:
    """Axis label with units: 'latency_s' -> 'Latency (s)', 'memory.dram.bandwidth_gb_s' ->
    'DRAM bandwidth (GB/s)', 'bytes.dram_read' -> 'DRAM read (B)'."""
    if name in _NAMES:
        text, unit = _NAMES[name]
    elif name.startswith("bytes."):
        text, unit = name[6:].replace("_", " "), "B"
    else:
        parts = name.split(".")
        leaf, unit = parts[-1], None
        for suf, u in _SUFFIX_UNITS:
            if leaf.endswith(suf) and len(leaf) > len(suf):
                leaf, unit = leaf[: -len(suf)], u
                break
        if parts[0] == "units" and len(parts) > 2:
            ctx = parts[1:-1]
        elif parts[0] == "memory" and len(parts) > 2:
            ctx = parts[1:-1]
        else:
            ctx = parts[:-1]
        text = " ".join([*ctx, leaf.replace("_", " ")])
    words = ["DRAM" if w == "dram" else "SRAM" if w == "sram" else w for w in text.split(" ")]
    text = " ".join(words)
    return f"{text} ({unit})" if unit else text


def family_colors(families: Sequence[str]) -> dict[str, str]:
    """A stable colour per family (sorted by name)."""
    return {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(sorted(set(map(str, families))))}


def _styled(fn: Callable[..., Figure]) -> Callable[..., Figure]:
    """Run a plotting function under the paper style (small fonts)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        import matplotlib
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)
    return wrapper


def new_figure(width: float = 3.5, height: float = 2.6) -> tuple[Figure, Axes]:
    """A figure sized for one paper column, on the Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=150)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG, PDF or SVG (by extension), without creation dates."""
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    meta: dict[str, dict[str, Any]] = {"png": {"Software": None}, "pdf": {"CreationDate": None},
                                       "svg": {"Date": None}}
    if fmt not in meta:
        raise AccelsimError(f"{p}: unsupported figure format {p.suffix!r}; use .png, .pdf or .svg")
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    kw: dict[str, Any] = {"metadata": meta[fmt], "format": fmt}
    if fmt == "svg":
        import matplotlib
        with matplotlib.rc_context({"svg.hashsalt": "accelsim"}):
            fig.savefig(p, **kw)
    else:
        fig.savefig(p, dpi=300 if fmt == "png" else None, **kw)
    return p


def _check_columns(df: pd.DataFrame, *names: str | None) -> None:
    for n in names:
        if n is not None and n not in df.columns:
            raise AccelsimError(f"no column {n!r}; columns: {', '.join(map(str, df.columns))}")


def _log_default(values: np.ndarray) -> bool:
    v = values[np.isfinite(values) & (values > 0)]
    return bool(len(v) and v.min() > 0 and v.max() / v.min() > 50)


@_styled
def plot_pareto(df: pd.DataFrame, x: str, y: str, *, z: str | None = None,
                senses: dict[str, str] | None = None, color_by: str = "family",
                logx: bool | None = None, logy: bool | None = None, title: str | None = None,
                ax: Axes | None = None) -> Figure:
    """Scatter of every design, colour by ``color_by``, with the Pareto frontier highlighted.

    The frontier is over (x, y) or, with ``z``, over (x, y, z); directions come from ``senses``
    (default: max for throughput/efficiency names, min otherwise). A 2-D frontier is drawn as a
    staircase; a 3-D one as outlined markers.
    """
    _check_columns(df, x, y, z, color_by)
    objs = [x, y] + ([z] if z else [])
    senses = {**{o: default_sense(o) for o in objs}, **(senses or {})}
    data = df.dropna(subset=objs)
    fig, ax = (ax.figure, ax) if ax is not None else new_figure()
    front = pareto_mask(data[objs].to_numpy(dtype=float), [senses[o] for o in objs])
    groups = data[color_by].astype(str) if color_by in data else pd.Series("all", index=data.index)
    colors = family_colors(groups.unique())
    for g in sorted(groups.unique()):
        sel = (groups == g).to_numpy()
        ax.scatter(data[x][sel & ~front], data[y][sel & ~front], s=6, color=colors[g],
                   alpha=0.3, linewidths=0, rasterized=len(data) > 2000)
        ax.scatter(data[x][sel & front], data[y][sel & front], s=18, color=colors[g],
                   edgecolors="black", linewidths=0.5, zorder=3, label=f"{g}")
    f = data[front].sort_values(x, ascending=senses[x] == "min")
    if not z and len(f) > 1:
        ax.step(f[x], f[y], where="post", color="black", linewidth=0.8, zorder=2,
                label="Pareto frontier")
    ax.set_xlabel(metric_label(x) + (" ↑" if senses[x] == "max" else ""))
    ax.set_ylabel(metric_label(y) + (" ↑" if senses[y] == "max" else ""))
    if logx if logx is not None else _log_default(data[x].to_numpy(dtype=float)):
        ax.set_xscale("log")
    if logy if logy is not None else _log_default(data[y].to_numpy(dtype=float)):
        ax.set_yscale("log")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    note = f"frontier over {', '.join(objs)}: {int(front.sum())} of {len(data)}"
    ax.set_title(title or note, fontsize=8)
    ax.legend(frameon=False, loc="best")
    return fig


@_styled
def plot_heatmap(df: pd.DataFrame, x: str, y: str, value: str, *, agg: str = "min",
                 log: bool | None = None, ax: Axes | None = None,
                 title: str | None = None) -> Figure:
    """``value`` over two parameter axes; cells aggregate the other axes with ``agg``."""
    _check_columns(df, x, y, value)
    if agg not in ("min", "max", "mean", "median"):
        raise AccelsimError(f"agg must be min, max, mean or median, got {agg!r}")
    table = df.pivot_table(index=y, columns=x, values=value, aggfunc=agg).sort_index()
    table = table[sorted(table.columns)]
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(3.6, 2.8)
    vals = table.to_numpy(dtype=float)
    from matplotlib.colors import LogNorm
    use_log = log if log is not None else _log_default(vals.ravel())
    norm = LogNorm() if use_log else None
    im = ax.imshow(vals, origin="lower", aspect="auto", cmap="viridis", norm=norm)
    ax.set_xticks(range(len(table.columns)), [_tick(c) for c in table.columns], rotation=45)
    ax.set_yticks(range(len(table.index)), [_tick(i) for i in table.index])
    ax.set_xlabel(metric_label(x))
    ax.set_ylabel(metric_label(y))
    cb = fig.colorbar(im, ax=ax)
    cb.set_label(f"{metric_label(value)} ({agg} over other axes)" if agg else metric_label(value),
                 fontsize=7)
    cb.ax.tick_params(labelsize=6)
    if vals.size <= 144:
        for (i, j), v in np.ndenumerate(vals):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=5, color="white")
    if title:
        ax.set_title(title)
    return fig


def _wrap(label: Any, width: int = 16) -> str:
    """A bar label broken into lines of about ``width`` characters."""
    return "\n".join(textwrap.fill(part, width) for part in str(label).split("\n"))


def _tick(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)


@_styled
def plot_bars(table: pd.DataFrame, *, ylabel: str, ax: Axes | None = None,
              title: str | None = None) -> Figure:
    """Stacked bars: one bar per row of ``table``, one segment per column."""
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(max(3.5, 0.6 * len(table) + 2), 2.8)
    bottom = np.zeros(len(table))
    for i, col in enumerate(table.columns):
        vals = table[col].to_numpy(dtype=float)
        ax.bar(range(len(table)), vals, bottom=bottom, label=str(col),
               color=PALETTE[i % len(PALETTE)], width=0.7, edgecolor="white", linewidth=0.3)
        bottom += np.nan_to_num(vals)
    ax.set_xticks(range(len(table)), [_wrap(i) for i in table.index], fontsize=6)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=6, ncol=1, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)
    if title:
        ax.set_title(title)
    return fig


@_styled
def plot_grouped(table: pd.DataFrame, *, ylabel: str, xlabel: str | None = None,
                 ax: Axes | None = None, title: str | None = None, log: bool = False) -> Figure:
    """Grouped bars: one group per row of ``table``, one bar (coloured by family) per column."""
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(3.6, 2.6)
    colors = family_colors(table.columns)
    n = max(len(table.columns), 1)
    width = 0.8 / n
    for i, col in enumerate(table.columns):
        ax.bar(np.arange(len(table)) + (i - (n - 1) / 2) * width, table[col].to_numpy(dtype=float),
               width=width, color=colors[str(col)], label=str(col), edgecolor="white",
               linewidth=0.3)
    ax.set_xticks(range(len(table)), [_tick(i) for i in table.index])
    ax.set_xlabel(xlabel or str(table.index.name or ""))
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(frameon=False)
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)
    if title:
        ax.set_title(title)
    return fig


def latency_breakdown(result: Any, by: str = "op", top: int = 7) -> pd.Series:
    """Seconds of op time per group (op name, kind or unit), summed over repeats.

    Ops on different units overlap, so the parts can sum to more than the latency.
    """
    df = result.per_op
    key = {"op": df["op"].str.split(".").str[0], "kind": df["kind"], "unit": df["unit"]}.get(by)
    if key is None:
        raise AccelsimError(f"breakdown by must be op, kind or unit, got {by!r}")
    s = (df["cycles"] / result.clock_hz).groupby(key.to_numpy()).sum().sort_values(ascending=False)
    if len(s) > top:
        s = pd.concat([s.iloc[:top], pd.Series({"other": s.iloc[top:].sum()})])
    return s


def energy_breakdown(result: Any, by: str = "op", top: int = 7) -> pd.Series:
    """Joules per group: dynamic energy per op, op kind or unit (the per-op ``energy_j``
    column), or ``by="component"``: the summary's ``energy.*`` split (DRAM, SRAMs, MACs, ...,
    leakage)."""
    df = result.per_op
    if by == "component":
        from ..dse.evaluate import flatten
        flat = flatten(result.summary())
        parts = {k.split(".", 1)[1]: v for k, v in flat.items()
                 if k.startswith("energy.") and isinstance(v, (int, float))}
        if not parts:
            raise AccelsimError("this result has no energy breakdown: the summary has no "
                                "'energy' components (the energy model adds them)")
        s = pd.Series(parts, dtype=float).sort_values(ascending=False)
    elif "energy_j" in df.columns:
        keys = {"op": df["op"].str.split(".").str[0], "kind": df["kind"], "unit": df["unit"]}
        if by not in keys:
            raise AccelsimError(f"breakdown by must be op, kind, unit or component, got {by!r}")
        s = df["energy_j"].groupby(keys[by].to_numpy()).sum().sort_values(ascending=False)
    else:
        raise AccelsimError("this result has no per-op energy (the energy model adds an "
                            "energy_j column)")
    if len(s) > top:
        s = pd.concat([s.iloc[:top], pd.Series({"other": s.iloc[top:].sum()})])
    return s


@_styled
def plot_breakdown(results: dict[str, Any], *, metric: str = "latency", by: str = "op",
                   top: int = 7, ax: Axes | None = None) -> Figure:
    """Stacked bars of latency (s) or energy (J) per group, one bar per labelled result.

    ``by``: op, kind or unit; for energy also component (DRAM, SRAMs, MACs, leakage, ...).

    The ``top`` groups over all results get their own colour; the rest are summed as "other".
    """
    fn = {"latency": latency_breakdown, "energy": energy_breakdown}.get(metric)
    if fn is None:
        raise AccelsimError(f"metric must be latency or energy, got {metric!r}")
    unknown = []
    if metric == "energy":  # a partial breakdown (say, a GPU's HBM only) would read as a total
        unknown = [label for label, r in results.items()
                   if r.cost is not None and not np.isfinite(r.cost.energy_j)]
        results = {k: r for k, r in results.items() if k not in unknown}
        if not results:
            raise AccelsimError(f"energy is unknown for every result ({', '.join(unknown)})")
    table = pd.DataFrame({label: fn(r, by=by, top=10_000) for label, r in results.items()}).T
    table = table.fillna(0.0)
    order = list(table.sum().sort_values(ascending=False).index)
    keep = order[:top]
    rest = [c for c in order[top:]]
    out = table[keep].copy()
    if rest:
        out["other"] = table[rest].sum(axis=1)
    ylabel = ("Op time (s), summed over ops" if metric == "latency" else
              "Energy (J)" if by == "component" else "Dynamic energy (J)")
    title = f"{metric} by {by}" + (f" (energy unknown: {', '.join(unknown)})" if unknown else "")
    return plot_bars(out, ylabel=ylabel, ax=ax, title=title)


@_styled
def plot_roofline(result: Any, arch: Any, *, label_top: int = 4, ax: Axes | None = None,
                  title: str | None = None) -> Figure:
    """Roofline of ``arch`` (one compute roof per unit, the DRAM slope) with its ops placed.

    An op sits at (FLOPs / DRAM byte, FLOPs / s achieved); marker area follows its share of
    op time. Each unit's roof is its ``peak().flops`` at its clock; the slope is the main
    memory's bandwidth.
    """
    df = result.per_op
    g = df.groupby(["segment", "op"], sort=False).agg(
        kind=("kind", "first"), unit=("unit", "first"), flops=("flops", "sum"),
        cycles=("cycles", "sum"), rd=("dram_read_bytes", "sum"), wr=("dram_write_bytes", "sum"))
    g = g[(g["flops"] > 0) & (g["cycles"] > 0)]
    secs = g["cycles"] / result.clock_hz
    perf = g["flops"] / secs
    ai = g["flops"] / (g["rd"] + g["wr"]).replace(0, np.nan)
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(3.6, 2.8)
    bw = arch.memories[arch.main_memory].bandwidth_gb_s * 1e9  # bytes/s, from the memory model
    lo = max(min(ai.min(skipna=True) / 4, 0.1), 1e-3) if ai.notna().any() else 0.1
    hi = max(ai.max(skipna=True) * 4, 1e3) if ai.notna().any() else 1e4
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    for i, (name, unit) in enumerate(arch.units.items()):
        peak = unit.peak().flops * arch.unit_clock_hz(name)  # the unit owns its peak
        roof = np.minimum(peak, bw * xs) if np.isfinite(bw) else np.full_like(xs, peak)
        ax.plot(xs, roof, color=PALETTE[i % len(PALETTE)], linewidth=1,
                label=f"{name} roof ({peak / 1e12:.3g} TFLOP/s)")
    colors = {k: PALETTE[(i + 3) % len(PALETTE)] for i, k in enumerate(sorted(g["kind"].unique()))}
    share = secs / secs.sum()
    x = ai.fillna(hi)
    for k in sorted(colors):
        sel = g["kind"] == k
        ax.scatter(x[sel], perf[sel], s=8 + 150 * share[sel], color=colors[k], alpha=0.8,
                   edgecolors="black", linewidths=0.3, zorder=3, label=f"{k} ops")
    for i, ((seg, op), _) in enumerate(share.sort_values(ascending=False).head(label_top).items()):
        ax.annotate(op, (x[(seg, op)], perf[(seg, op)]), fontsize=5,
                    xytext=(4, 4 - 9 * (i % 2)), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Arithmetic intensity (FLOP/DRAM byte)")
    ax.set_ylabel("Performance (FLOP/s)")
    bw_text = f"DRAM {bw / 1e9:.3g} GB/s" if np.isfinite(bw) else "unlimited DRAM bandwidth"
    ax.set_title(title or f"{result.arch}: {bw_text}", fontsize=8)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.4)
    ax.legend(frameon=False, fontsize=6, loc="lower right")
    return fig
