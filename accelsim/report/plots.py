"""Paper-ready matplotlib figures: Pareto frontiers, heat maps, breakdown bars, rooflines,
timelines.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never pyplot, so they
work headless and leave a notebook's backend alone. They are made for papers:

- sizes: ``size="column"`` (3.33 in wide, one column of a two-column IEEE/ACM paper) or
  ``size="double"`` (7.0 in, the full text width), or ``(width, height)`` in inches; the width
  is kept exactly, and constrained layout keeps every title, label and legend inside it;
- fonts: PDF and EPS embed TrueType (Type 42) fonts, never Type 3 (which IEEE PDF eXpress and
  ACM's checks reject); SVG draws glyphs as paths, so it looks the same without the font;
- legends sit outside the data area (to the right of the axes); ``title=None`` drops a title;
- axis labels carry units derived from metric names (``latency_s`` -> "Latency (s)");
- an architecture family has the same colour in every figure, whichever families a figure
  shows (a fixed colour for the families this project uses, a hashed one for others).

``save_figure`` writes PNG, PDF, SVG or EPS without timestamps, so the same data gives the same
file, and under the font settings above (save through it, not ``fig.savefig``).
"""
from __future__ import annotations

import textwrap
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..dse.pareto import default_sense, pareto_mask
from ..errors import AccelsimError
from .figstyle import (  # noqa: F401 (the style is part of this module's API)
    PALETTE, FAMILY_PALETTE, KNOWN_FAMILIES, SIZES, FONT_RC, RC, AUTO, FORMATS, metric_label,
    axis_label, family_color, family_colors, figure_size, new_figure, save_figure,
    texts_outside, _MARKERS, _HATCHES, _collisions, _own, _fit, _axes_inches, _set_title,
    _set_labels, _legend_outside, _styled, _drop_unused_axes, _check_columns, _log_default,
    _family_key, _has_colorbar, _NAMES, _SUFFIX_UNITS, _GROUP_UNITS, _COUNT_UNITS,
)


# ---------------------------------------------------------------------------- pareto

def _spread(values: np.ndarray, log: bool, width_in: float) -> float:
    """The step, in data units (decades when ``log``), of about a marker's width (5 pt) on an
    axes ``width_in`` inches wide: how far overlapping markers are moved apart."""
    v = values[np.isfinite(values) & ((values > 0) if log else True)]
    if not len(v):
        return 0.0
    lo, hi = (np.log10(v.min()), np.log10(v.max())) if log else (v.min(), v.max())
    span = hi - lo if hi > lo else (1.0 if log else max(abs(hi), 1.0))
    return span * 5 / (72 * width_in * 0.75)


@_styled
def plot_pareto(df: pd.DataFrame, x: str, y: str, *, z: str | None = None,
                senses: dict[str, str] | None = None, color_by: str = "family",
                logx: bool | None = None, logy: bool | None = None, title: str | None = AUTO,
                ax: Axes | None = None, size: Any = None, feasible: str = "feasible") -> Figure:
    """Scatter of every design, colour by ``color_by``, with the Pareto frontier highlighted.

    The frontier is over (x, y) or, with ``z``, over (x, y, z), among feasible designs (rows
    whose ``feasible`` column is false are drawn hollow and never on the frontier); directions
    come from ``senses`` (default: max for throughput/efficiency names, min otherwise). A 2-D
    frontier is drawn as a staircase; a 3-D one as outlined markers. Every design is shown:
    designs of one colour at the same (x, y) share a marker labelled with their count ("×3"),
    and designs of different colours at the same point are set slightly apart.
    """
    _check_columns(df, x, y, z, color_by)
    objs = [x, y] + ([z] if z else [])
    senses = {**{o: default_sense(o) for o in objs}, **(senses or {})}
    data = df.dropna(subset=objs).reset_index(drop=True)
    fig, ax = _own(ax, size)
    feas = (data[feasible].fillna(False).astype(bool).to_numpy() if feasible in data
            else np.ones(len(data), dtype=bool))
    vals = data[objs].to_numpy(dtype=float)
    front = np.zeros(len(data), dtype=bool)
    if feas.any():
        front[feas] = pareto_mask(vals[feas], [senses[o] for o in objs])
    groups = data[color_by].astype(str) if color_by in data else pd.Series("all", index=data.index)
    colors = family_colors(groups.unique())
    shift = _collisions(groups.unique())
    use_logx = logx if logx is not None else _log_default(vals[:, 0])
    use_logy = logy if logy is not None else _log_default(vals[:, 1])
    # one marker per (colour group, x, y, feasible): the count of designs it stands for
    pts = pd.DataFrame({"g": groups.to_numpy(), "x": vals[:, 0], "y": vals[:, 1],
                        "feas": feas, "front": front})
    pts = pts.groupby(["g", "x", "y", "feas"], sort=True).agg(
        n=("front", "size"), front=("front", "any")).reset_index()
    # markers of different groups at one (x, y): moved apart along x, in plotted units
    pts["rank"] = pts.groupby(["x", "y"]).cumcount()
    pts["k"] = pts.groupby(["x", "y"])["g"].transform("size")
    step = _spread(vals[:, 0], use_logx, _axes_inches(ax)[0])
    off = (pts["rank"] - (pts["k"] - 1) / 2).to_numpy() * step
    px = pts["x"].to_numpy()
    pts["px"] = px * 10.0 ** off if use_logx else px + off
    many = len(data) > 2000
    area = 1 + 0.6 * np.log2(pts["n"].to_numpy())
    for g in sorted(pts["g"].unique()):
        c, m = colors[g], _MARKERS[shift[g] % len(_MARKERS)]
        sel = (pts["g"] == g).to_numpy()
        ok, fr = pts["feas"].to_numpy(), pts["front"].to_numpy()
        rest = sel & ok & ~fr
        ax.scatter(pts["px"][rest], pts["y"][rest], s=6 * area[rest], color=c, marker=m,
                   alpha=0.35, linewidths=0, rasterized=many)
        bad = sel & ~ok
        if bad.any():
            ax.scatter(pts["px"][bad], pts["y"][bad], s=10 * area[bad], facecolors="none",
                       edgecolors=c, marker=m, linewidths=0.6, alpha=0.7, rasterized=many)
        on = sel & fr
        ax.scatter(pts["px"][on], pts["y"][on], s=18 * area[on], color=c, marker=m,
                   edgecolors="black", linewidths=0.5, zorder=3)
        ax.scatter([], [], s=18, color=c, marker=m, edgecolors="black", linewidths=0.5,
                   label=f"{g}")  # the legend's marker, whatever this group's sizes
    # one count per location (all colours together), beside its rightmost marker
    loc = pts.groupby(["x", "y"], sort=True).agg(n=("n", "sum"), px=("px", "max"),
                                                 front=("front", "any")).reset_index()
    dup = loc[loc["n"] > 1]
    if len(dup) > 40:  # too many to label: the frontier's counts (marker area shows the rest)
        dup = dup[dup["front"]]
    _place_counts(ax, dup, use_logx, use_logy)
    n_bad = int((~feas).sum())
    if n_bad:
        ax.scatter([], [], s=10, facecolors="none", edgecolors="0.3", linewidths=0.6,
                   label="infeasible")
    f = data[front].sort_values(x, ascending=senses[x] == "min")
    if not z and len(f) > 1:
        ax.step(f[x], f[y], where="post", color="black", linewidth=0.8, zorder=2,
                label="Pareto frontier")
    _set_labels(ax, axis_label(x) + (" ↑" if senses[x] == "max" else ""),
                axis_label(y) + (" ↑" if senses[y] == "max" else ""))
    if use_logx:
        ax.set_xscale("log")
    if use_logy:
        ax.set_yscale("log")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    note = f"frontier over {', '.join(objs)}: {int(front.sum())} of {len(data)}"
    if n_bad:
        note += f" ({n_bad} infeasible, hollow)"
    if len(pts) < len(data):
        note += f"; {len(data)} designs at {len(pts)} points"
    _set_title(ax, title, note)
    _legend_outside(ax)
    return fig


def _place_counts(ax: Axes, dup: pd.DataFrame, logx: bool, logy: bool) -> None:
    """Write each location's design count ("×3") beside it, trying a few offsets so that
    the labels of nearby points do not overlap (positions estimated in points on the axes)."""
    if dup.empty:
        return
    w_in, h_in = _axes_inches(ax)

    def scaled(v: np.ndarray, log: bool, length_pt: float) -> np.ndarray:
        v = np.log10(np.where(v > 0, v, np.nan)) if log else v.astype(float)
        lo, hi = np.nanmin(v), np.nanmax(v)
        return (v - lo) / (hi - lo if hi > lo else 1.0) * length_pt

    xs = scaled(dup["px"].to_numpy(), logx, w_in * 72 * 0.75)
    ys = scaled(dup["y"].to_numpy(), logy, h_in * 72 * 0.75)
    placed: list[tuple[float, float]] = []
    for (x, y), r in zip(zip(xs, ys), dup.itertuples(index=False)):
        text = f"×{r.n}"
        for dx, dy in ((4, 2), (4, -7), (-4 - 3.2 * len(text), 2), (-4 - 3.2 * len(text), -7),
                       (4, 10), (4, -15)):
            bx, by = x + dx, y + dy
            if all(abs(bx - px) > 3.2 * len(text) + 1 or abs(by - py) > 6 for px, py in placed):
                break
        placed.append((bx, by))
        ax.annotate(text, (r.px, r.y), xytext=(dx, dy), textcoords="offset points",
                    fontsize=5, zorder=4)


# ---------------------------------------------------------------------------- heat map

def _luminance(rgba: Sequence[float]) -> float:
    """Relative luminance (WCAG 2) of an sRGB colour."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def text_color_for(rgba: Sequence[float]) -> str:
    """Black or white, whichever contrasts more with a cell of colour ``rgba`` (WCAG ratio)."""
    lum = _luminance(rgba)
    return "black" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "white"


@_styled
def plot_heatmap(df: pd.DataFrame, x: str, y: str, value: str, *, agg: str = "min",
                 log: bool | None = None, ax: Axes | None = None,
                 title: str | None = None, size: Any = None) -> Figure:
    """``value`` over two parameter axes; cells aggregate the other axes with ``agg``. Cell
    values are written in black or white, whichever reads better on the cell's colour, in a
    size that fits the cell (left out when cells are too small to hold them)."""
    _check_columns(df, x, y, value)
    if agg not in ("min", "max", "mean", "median"):
        raise AccelsimError(f"agg must be min, max, mean or median, got {agg!r}")
    table = df.pivot_table(index=y, columns=x, values=value, aggfunc=agg).sort_index()
    table = table[sorted(table.columns)]
    fig, ax = _own(ax, size)
    vals = table.to_numpy(dtype=float)
    import matplotlib
    from matplotlib.colors import LogNorm
    use_log = log if log is not None else _log_default(vals.ravel())
    norm = LogNorm() if use_log else None
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#e0e0e0")
    im = ax.imshow(vals, origin="lower", aspect="auto", cmap=cmap, norm=norm)
    im.autoscale_None()
    ax.set_xticks(range(len(table.columns)), [_tick(c) for c in table.columns], rotation=45,
                  ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(table.index)), [_tick(i) for i in table.index])
    _set_labels(ax, axis_label(x), axis_label(y))
    cb = fig.colorbar(im, ax=ax)
    label = f"{axis_label(value)}, {agg} over other axes"
    cb.set_label(_fit(label, _axes_inches(ax)[1], 7), fontsize=7)
    cb.ax.tick_params(labelsize=6)
    if 0 < vals.size <= 144:
        w_in, h_in = _axes_inches(ax)
        cell_w = w_in * 72 * 0.8 / vals.shape[1]   # points; the colour bar takes some width
        cell_h = h_in * 72 * 0.8 / vals.shape[0]
        texts = {(i, j): f"{v:.3g}" for (i, j), v in np.ndenumerate(vals) if np.isfinite(v)}
        longest = max((len(t) for t in texts.values()), default=1)
        fs = min(6.0, 0.9 * cell_w / (0.6 * longest), 0.6 * cell_h)
        if fs >= 3.5:
            for (i, j), text in texts.items():
                color = text_color_for(im.cmap(im.norm(vals[i, j])))
                ax.text(j, i, text, ha="center", va="center", fontsize=fs, color=color)
    _set_title(ax, title)
    return fig


def _wrap(label: Any, width: int = 16) -> str:
    """A bar label broken into lines of about ``width`` characters."""
    return "\n".join(textwrap.fill(part, width) for part in str(label).split("\n"))


def _tick(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)


# ---------------------------------------------------------------------------- bars

@_styled
def plot_bars(table: pd.DataFrame, *, ylabel: str, ax: Axes | None = None,
              title: str | None = None, size: Any = None) -> Figure:
    """Stacked bars: one bar per row of ``table``, one segment per column."""
    fig, ax = _own(ax, size, "column" if len(table) <= 4 else "double")
    bottom = np.zeros(len(table))
    for i, col in enumerate(table.columns):
        vals = table[col].to_numpy(dtype=float)
        ax.bar(range(len(table)), vals, bottom=bottom, label=str(col),
               color=PALETTE[i % len(PALETTE)], width=0.7, edgecolor="white", linewidth=0.3)
        bottom += np.nan_to_num(vals)
    # a bar's slot, in characters of 6 pt, once the legend beside the axes takes its share
    slot = (max(_axes_inches(ax)[0] - 1.3, 0.5) * 72 * 0.8 / max(len(table), 1)) / (0.58 * 6)
    labels = [_wrap(i, 16) for i in table.index]
    longest = max((len(line) for lab in labels for line in lab.split("\n")), default=0)
    if longest <= slot:
        ax.set_xticks(range(len(table)), labels, fontsize=6)
    else:  # would run into each other: slanted, one line each where possible
        ax.set_xticks(range(len(table)), [_wrap(i, 28) for i in table.index], fontsize=6,
                      rotation=35, ha="right", rotation_mode="anchor")
    _set_labels(ax, None, ylabel)
    _legend_outside(ax, reverse=True)
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)
    _set_title(ax, title)
    return fig


@_styled
def plot_grouped(table: pd.DataFrame, *, ylabel: str, xlabel: str | None = None,
                 ax: Axes | None = None, title: str | None = None, log: bool = False,
                 size: Any = None) -> Figure:
    """Grouped bars: one group per row of ``table``, one bar (coloured by family) per column."""
    fig, ax = _own(ax, size)
    colors = family_colors(table.columns)
    shift = _collisions(table.columns)
    n = max(len(table.columns), 1)
    width = 0.8 / n
    for i, col in enumerate(table.columns):
        ax.bar(np.arange(len(table)) + (i - (n - 1) / 2) * width, table[col].to_numpy(dtype=float),
               width=width, color=colors[str(col)], label=str(col), edgecolor="white",
               linewidth=0.3, hatch=_HATCHES[shift[str(col)] % len(_HATCHES)] or None)
    ax.set_xticks(range(len(table)), [_tick(i) for i in table.index])
    _set_labels(ax, xlabel if xlabel is not None else str(table.index.name or ""), ylabel)
    if log:
        ax.set_yscale("log")
    _legend_outside(ax)
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)
    _set_title(ax, title)
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
                   top: int = 7, ax: Axes | None = None, title: str | None = AUTO,
                   size: Any = None) -> Figure:
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
    auto = f"{metric} by {by}" + (f" (energy unknown: {', '.join(unknown)})" if unknown else "")
    return plot_bars(out, ylabel=ylabel, ax=ax, title=auto if title == AUTO else title,
                     size=size)


# rooflines, timelines and comparisons of single runs live in .runplots; they are part of this API
from .runplots import (  # noqa: E402,F401
    BOUND_COLORS, KERNEL_DRAM_SHARE, MAPPING_EFFICIENCY, op_ceilings, plot_compare,
    plot_roofline, plot_timeline,
)
