"""Sweep result tables as Markdown, LaTeX (booktabs) or CSV.

Markdown and LaTeX round numbers to 4 significant digits and label columns with units
(``latency_s`` -> "Latency (s)"); CSV keeps raw column names and full precision.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import AccelsimError
from .plots import metric_label

FORMATS = ("markdown", "latex", "csv")


def fmt_value(v: Any, digits: int = 4) -> str:
    """A table cell: integers as integers, other numbers to ``digits`` significant digits, a
    missing value (None, NaN, pandas' NA) as a dash."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, numbers.Integral) or (isinstance(v, float) and v.is_integer()
                                           and abs(v) < 1e15):
        return f"{int(v):,}" if abs(v) >= 10_000 else str(int(v))
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def whole_columns(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``df`` with ``columns`` (whole-number parameters, stored as int64) as pandas' nullable
    ``Int64``: pandas reads an int64 column with missing values (the rows of a base that does
    not sweep it) as float64, which would print ``64.0`` in CSV and JSON. For output only."""
    out = df.copy()
    for c in columns:
        if c in out.columns and pd.api.types.is_float_dtype(out[c]):
            vals = out[c]
            whole = vals.isna() | (np.isfinite(vals) & (vals == np.round(vals)))
            if bool(whole.all()):
                out[c] = vals.astype("Int64")
    return out


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\~{}", "^": r"\^{}", "²": r"$^2$",
          "–": "--", "µ": r"$\mu$"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def render_table(df: pd.DataFrame, columns: Sequence[str], fmt: str,
                 caption: str | None = None) -> str:
    """``df[columns]`` as text in ``fmt`` (markdown, latex or csv)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AccelsimError(f"no column {missing[0]!r}; columns: {', '.join(df.columns)}")
    if fmt == "csv":
        return df[list(columns)].to_csv(index=False)
    heads = [metric_label(c) for c in columns]
    rows = [[fmt_value(v) for v in r] for r in df[list(columns)].itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in columns]
    if fmt == "markdown":
        out = ["| " + " | ".join(heads) + " |",
               "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out) + "\n"
    if fmt == "latex":
        spec = "".join("r" if n else "l" for n in numeric)
        out = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}",
               r"\toprule", " & ".join(_latex_escape(h) for h in heads) + r" \\", r"\midrule"]
        out += [" & ".join(_latex_escape(c) for c in r) + r" \\" for r in rows]
        out += [r"\bottomrule", r"\end{tabular}"]
        if caption:
            out.append(rf"\caption{{{_latex_escape(caption)}}}")
        out.append(r"\end{table}")
        return "\n".join(out) + "\n"
    raise AccelsimError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
