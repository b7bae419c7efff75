"""The paper style of accelsim's figures: sizes, TrueType fonts, labels with units, family
colours, layout helpers and ``save_figure`` (see ``accelsim.report.plots``, which re-exports
all of it)."""
from __future__ import annotations

from pathlib import Path
import functools
import hashlib
import textwrap
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import AccelsimError
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000"]  # Okabe-Ito: distinguishable in colour-blind vision and grey print
#: family colours: Okabe-Ito (without its yellow, faint on white), then Paul Tol's muted set
FAMILY_PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
                  "#332288", "#117733", "#882255", "#AA4499", "#44AA99", "#999933", "#661100",
                  "#6699CC", "#888888", "#CC6677", "#DDCC77"]
#: fixed colours of the families used in this project's experiments (names compared in lower
#: case with single spaces); families that appear together get different colours
KNOWN_FAMILIES = {
    "systolic": "#0072B2", "systolic (weight-stationary)": "#0072B2", "systolic-ws": "#0072B2",
    "systolic (output-stationary)": "#56B4E9", "systolic-os": "#56B4E9",
    "systolic (input-stationary)": "#332288", "systolic-is": "#332288",
    "lut tensor core": "#D55E00", "lut-tc": "#D55E00", "lut": "#D55E00",
    "gpu": "#009E73", "gpu (h200)": "#009E73", "gpu (h100 / h200 memory)": "#009E73",
    "gpu (a100 80 gb)": "#117733",
    "pim": "#CC79A7", "pim_bank": "#CC79A7",
    "mixpe": "#E69F00", "mixpe-w4a8 (grid)": "#999933",
    "dequant + mac (systolic)": "#882255", "int8 (dequant + mac)": "#882255",
    "fp16 (dequant + mac)": "#AA4499",
    "bitfusion": "#44AA99", "ant": "#661100", "olaccel": "#6699CC",
    "all": "#0072B2",
}
#: figure sizes in inches (width, height): one column of a two-column paper, the text width
SIZES = {"column": (3.33, 2.5), "double": (7.0, 3.0)}
#: TrueType fonts in vector output: Type 42 in PDF and PostScript, paths in SVG
FONT_RC = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path"}
RC = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 6,
      "xtick.labelsize": 7, "ytick.labelsize": 7, **FONT_RC}
#: ``title=AUTO`` (the default where a plot has one): a title that describes the figure
AUTO = "<auto>"

_NAMES = {"latency_s": ("Latency", "s"), "energy_j": ("Energy", "J"), "power_w": ("Power", "W"),
          "area_mm2": ("Area", "mm²"), "tokens_per_s": ("Throughput", "tokens/s"),
          "energy_per_token_j": ("Energy per token", "J/token"),
          "utilization": ("Utilization", "fraction of peak"), "cycles": ("Latency", "cycles"),
          "stall_cycles": ("Stall time", "cycles"),
          "compute_cycles": ("Compute time", "cycles"),
          "tops_per_w": ("Efficiency", "TOPS/W"), "tops_per_mm2": ("Area efficiency", "TOPS/mm²"),
          "peak_tops": ("Peak compute", "TOPS"), "tokens": ("Tokens per run", "tokens"),
          "peak_tflops": ("Peak compute", "TFLOP/s"), "pes": ("Processing elements", "PEs"),
          "edp_js": ("Energy-delay product", "J·s"), "energy_dynamic_j": ("Dynamic energy", "J"),
          "energy_leakage_j": ("Leakage energy", "J"), "clock_hz": ("Clock", "Hz"),
          "macs": ("MACs", "MAC"), "flops": ("Work", "FLOP"), "ops": ("Ops simulated", "ops"),
          "resident_bytes": ("Resident memory", "B")}
_SUFFIX_UNITS = [("_per_token_j", "J/token"), ("_per_mm2", "/mm²"), ("_per_w", "/W"),
                 ("_gb_s", "GB/s"), ("_mm2", "mm²"), ("_tflops", "TFLOP/s"), ("_tops", "TOPS"),
                 ("_ghz", "GHz"), ("_hz", "Hz"), ("_kb", "KiB"), ("_gb", "GB"), ("_nm", "nm"),
                 ("_w", "W"), ("_js", "J·s"), ("_j", "J"), ("_s", "s"), ("_bytes", "B")]
#: units of summary groups: ``energy.dram`` is in J, ``area.sa.pe_mac`` in mm²
_GROUP_UNITS = {"energy": "J", "area": "mm²", "bytes": "B"}
#: count units of configuration knobs (axis labels only; table headers stay short)
_COUNT_UNITS = {"rows": "PEs", "cols": "PEs", "lanes": "lanes", "tiles": "tiles",
                "cores": "cores", "sms": "SMs", "batch": "sequences", "ctx": "tokens",
                "prompt": "tokens", "channels": "channels", "multipliers_per_bank": "multipliers",
                "tensor_cores_per_sm": "tensor cores", "group_size": "elements"}


def metric_label(name: str) -> str:
    """Label with units: 'latency_s' -> 'Latency (s)', 'memory.dram.bandwidth_gb_s' ->
    'DRAM bandwidth (GB/s)', 'bytes.dram_read' -> 'DRAM read (B)', 'energy.dram' ->
    'energy DRAM (J)'. Every metric of a simulation summary has a unit; a name it does not
    know (a derived metric, a parameter without a unit suffix) is spelt out without one."""
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
                if u.startswith("/"):   # tops_per_mm2 -> TOPS/mm²
                    head = _NAMES.get(leaf, (None, leaf.upper()))[1] or leaf
                    leaf, unit = leaf, f"{head}{u}"
                break
        if unit is None and len(parts) > 1 and parts[0] in _GROUP_UNITS:
            unit = _GROUP_UNITS[parts[0]]
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


def axis_label(name: str) -> str:
    """``metric_label`` plus a count unit for configuration knobs that have none in their name
    ('units.sa.rows' -> 'sa rows (PEs)', 'workload.batch' -> 'workload batch (sequences)')."""
    label = metric_label(name)
    if label.endswith(")"):
        return label
    unit = _COUNT_UNITS.get(name.split(".")[-1])
    return f"{label} ({unit})" if unit else label


# ---------------------------------------------------------------------------- colours

def _family_key(family: Any) -> str:
    return " ".join(str(family).lower().split())


def family_color(family: Any) -> str:
    """The colour of one architecture family: fixed for the families in ``KNOWN_FAMILIES``,
    else a palette entry picked by a hash of the name (the same in every run and figure)."""
    key = _family_key(family)
    if key in KNOWN_FAMILIES:
        return KNOWN_FAMILIES[key]
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return FAMILY_PALETTE[h % len(FAMILY_PALETTE)]


def family_colors(families: Sequence[Any]) -> dict[str, str]:
    """A colour per family: each family's colour depends on its name only, never on which
    other families are present (``family_color``)."""
    return {f: family_color(f) for f in sorted(set(map(str, families)))}


_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">"]
_HATCHES = ["", "////", "....", "xxxx", "\\\\\\\\", "oo", "++"]


def _collisions(families: Sequence[str]) -> dict[str, int]:
    """Per family (sorted), how many families before it in this figure share its colour: the
    second of two families with one colour gets another marker or hatch, so they stay apart."""
    seen: dict[str, int] = {}
    out = {}
    for f in sorted(set(map(str, families))):
        c = family_color(f)
        out[f] = seen.get(c, 0)
        seen[c] = out[f] + 1
    return out


# ---------------------------------------------------------------------------- layout

def figure_size(size: Any = None, default: str = "column") -> tuple[float, float]:
    """(width, height) in inches of a size preset ("column", "double") or a (w, h) pair."""
    size = default if size is None else size
    if isinstance(size, str):
        if size not in SIZES:
            raise AccelsimError(f"figure size must be {' or '.join(SIZES)} (or a (width, "
                                f"height) pair in inches), got {size!r}")
        return SIZES[size]
    try:
        w, h = (float(v) for v in size)
    except (TypeError, ValueError):
        raise AccelsimError(f"figure size must be {' or '.join(SIZES)} or a (width, height) "
                            f"pair in inches, got {size!r}") from None
    if not (0 < w <= 50 and 0 < h <= 50):
        raise AccelsimError(f"figure size must be between 0 and 50 inches, got {w:g} x {h:g}")
    return w, h


def new_figure(width: float | str | None = None, height: float | None = None, *,
               size: Any = None) -> tuple[Figure, Axes]:
    """A figure on the Agg canvas with constrained layout and one axes: ``new_figure("double")``,
    ``new_figure(size=(5, 3))`` or, as before, ``new_figure(7.0, 5.0)`` (inches)."""
    if isinstance(width, str):
        size, width = width, None
    if width is None:
        w, h = figure_size(size)
    else:
        w, h = float(width), float(height if height is not None else SIZES["column"][1])
    fig = Figure(figsize=(w, h), dpi=150, layout="constrained")
    fig.get_layout_engine().set(w_pad=2 / 72, h_pad=2 / 72)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _own(ax: Axes | None, size: Any, default: str = "column") -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    return new_figure(size=figure_size(size, default))


def _fit(text: str, length_in: float, fontsize: float) -> str:
    """``text`` broken into lines that fit ``length_in`` inches at ``fontsize`` points."""
    chars = max(12, int(length_in * 72 / (0.58 * fontsize)))
    return "\n".join(textwrap.fill(part, chars) if len(part) > chars else part
                     for part in str(text).split("\n"))


def _axes_inches(ax: Axes) -> tuple[float, float]:
    """Rough width and height of ``ax`` in inches, before layout."""
    fw, fh = ax.figure.get_size_inches()
    pos = ax.get_position()
    return max(fw * pos.width, 0.5), max(fh * pos.height, 0.5)


def _set_title(ax: Axes, title: str | None, auto: str = "") -> None:
    """The axes' title (``AUTO``: ``auto``; None or "": none), wrapped to fit. On a figure of
    its own (one axes) it is the figure's title, centred over the whole width, so that a
    legend beside the axes does not push it out of the figure."""
    text = auto if title == AUTO else title
    if not text:
        return
    fig = ax.figure
    if len(fig.get_axes()) == 1 or (len(fig.get_axes()) == 2 and _has_colorbar(fig)):
        fig.suptitle(_fit(text, fig.get_size_inches()[0] * 0.95, 8), fontsize=8)
    else:
        ax.set_title(_fit(text, _axes_inches(ax)[0] * 1.05, 8), fontsize=8)


def _has_colorbar(fig: Figure) -> bool:
    return any(getattr(a, "_colorbar", None) is not None for a in fig.get_axes())


def _set_labels(ax: Axes, xlabel: str | None = None, ylabel: str | None = None) -> None:
    w, h = _axes_inches(ax)
    if xlabel is not None:
        ax.set_xlabel(_fit(xlabel, w, 8))
    if ylabel is not None:
        ax.set_ylabel(_fit(ylabel, h, 8))


def _legend_outside(ax: Axes, reverse: bool = False, **kw: Any) -> Any:
    """The axes' legend, outside the data area (right of the axes), labels wrapped;
    ``reverse`` lists the entries bottom-up (stacked bars: in the order of the stack)."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if reverse:
        handles, labels = handles[::-1], labels[::-1]
    kw.setdefault("title_fontsize", 6)
    return ax.legend(handles, [_fit(lab, 1.3, 6) for lab in labels], loc="upper left",
                     bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False,
                     fontsize=6, **kw)


def _styled(fn: Callable[..., Figure]) -> Callable[..., Figure]:
    """Run a plotting function under the paper style (small fonts, TrueType)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        import matplotlib
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)
    return wrapper


def _drop_unused_axes(fig: Figure) -> None:
    """Remove axes that hold nothing when the figure has others (``new_figure()``'s axes
    when the caller laid out its own subplots): they would show as a stray frame."""
    axes = fig.get_axes()
    if len(axes) < 2:
        return
    for ax in axes:
        if not (ax.has_data() or ax.texts or ax.get_title() or ax.get_legend()
                or ax.get_xlabel() or ax.get_ylabel() or ax.images or ax.artists):
            ax.remove()


def texts_outside(fig: Figure, tolerance: float = 0.5) -> list[str]:
    """Text drawn (partly) outside the figure, after drawing it: empty for a figure whose
    titles, labels, ticks and legends all fit."""
    import matplotlib.text as mtext
    drawn: list[tuple[str, Any]] = []
    original = mtext.Text.draw

    def draw(self, renderer):  # record each text as it is actually drawn
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append((self.get_text(), self.get_window_extent(renderer)))

    mtext.Text.draw = draw
    try:
        fig.canvas.draw()
    finally:
        mtext.Text.draw = original
    box = fig.bbox
    return [t for t, b in drawn if b.x0 < box.x0 - tolerance or b.y0 < box.y0 - tolerance
            or b.x1 > box.x1 + tolerance or b.y1 > box.y1 + tolerance]


FORMATS = ("png", "pdf", "svg", "eps")


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG, PDF, SVG or EPS (by extension), without creation dates, with
    TrueType fonts (no Type 3) and nothing clipped: the figure keeps its size when its layout
    fits, else the saved image grows to hold what sticks out."""
    import matplotlib
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    meta: dict[str, dict[str, Any]] = {"png": {"Software": None}, "pdf": {"CreationDate": None},
                                       "svg": {"Date": None}, "eps": {"CreationDate": None}}
    if fmt not in meta:
        raise AccelsimError(f"{p}: unsupported figure format {p.suffix!r}; use .png, .pdf, "
                            f".svg or .eps")
    p.parent.mkdir(parents=True, exist_ok=True)
    _drop_unused_axes(fig)
    with matplotlib.rc_context({**FONT_RC, "svg.hashsalt": "accelsim"}):
        if fig.get_layout_engine() is None:
            fig.tight_layout()
        kw: dict[str, Any] = {"metadata": meta[fmt], "format": fmt}
        if texts_outside(fig):
            kw.update(bbox_inches="tight", pad_inches=0.02)
        fig.savefig(p, dpi=300 if fmt == "png" else None, **kw)
    return p


def _check_columns(df: pd.DataFrame, *names: str | None) -> None:
    for n in names:
        if n is not None and n not in df.columns:
            raise AccelsimError(f"no column {n!r}; columns: {', '.join(map(str, df.columns))}")


def _log_default(values: np.ndarray) -> bool:
    v = values[np.isfinite(values) & (values > 0)]
    return bool(len(v) and v.min() > 0 and v.max() / v.min() > 50)
