"""Predicted against measured: per row, and the median and p90 |error| per kind."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..pipeline import simulate
from .cases import Case


def check(device: Any, cases: Sequence[Case], fidelity: str = "op") -> pd.DataFrame:
    """One row per case: kind, label, measured and predicted microseconds, error (pred/meas-1)."""
    out = []
    for c in cases:
        res = simulate(device, c.trace, fidelity)
        pred = res.latency_s * 1e6
        kernel = res.per_op["kernel"].iloc[0] if len(res.per_op) == 1 else ""
        out.append({"row": c.row, "kind": c.kind, "case": c.label, "measured_us": c.measured_us,
                    "predicted_us": pred, "error": pred / c.measured_us - 1, "kernel": kernel})
    return pd.DataFrame(out)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per kind: cases, median and p90 |error|, signed median error."""
    rows = []
    for kind, g in df.groupby("kind", sort=False):
        e = g["error"].to_numpy()
        rows.append({"kind": kind, "cases": len(g), "median_abs_error": float(np.median(np.abs(e))),
                     "p90_abs_error": float(np.quantile(np.abs(e), 0.9)),
                     "median_error": float(np.median(e))})
    return pd.DataFrame(rows)
