"""Exact Pareto (non-dominated) sets and hypervolume, any number of objectives, min or max.

A point *dominates* another if it is no worse in every objective and strictly better in at least
one. Equal points do not dominate each other, so duplicates of a front point are all on the
front. Rows with a NaN objective are never on the front.

Algorithms (maximised objectives are negated first, so everything below minimises):

- front, 2 objectives: sort by (f1, f2), one sweep keeping the best f2 so far: O(n log n).
- front, k objectives: sort lexicographically; a point can only be dominated by a point before
  it, and if by any, then by one already on the front; so each point is checked against the
  front found so far: O(n * |front| * k).
- hypervolume, exact for any k: 1-D and 2-D in closed form; k >= 3 by slicing along the last
  objective (HSO, "hypervolume by slicing objectives", While et al., IEEE TEC 2006): the volume
  is the sum over slices of slice thickness times the (k-1)-D hypervolume of the points below
  it. O(n^(k-1) log n): instant for 3-D fronts of thousands of points, fine for 4-5 objectives
  with fronts of a few hundred.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

MAXIMIZE_BY_DEFAULT = ("tokens_per_s", "utilization", "tops_per_w", "tops", "throughput",
                       "tokens_per_j", "flops_per_s")


def default_sense(name: str) -> str:
    """'max' for throughput/efficiency-like metric names, else 'min'."""
    return "max" if any(name == m or name.endswith("." + m) for m in MAXIMIZE_BY_DEFAULT) else "min"


def to_min(values: np.ndarray, senses: Sequence[str]) -> np.ndarray:
    """Values as a float array with maximised columns negated."""
    v = np.asarray(values, dtype=float).reshape(len(values), -1).copy()
    if len(senses) != v.shape[1]:
        raise ValueError(f"{len(senses)} senses for {v.shape[1]} objectives")
    for j, s in enumerate(senses):
        if s not in ("min", "max"):
            raise ValueError(f"sense must be 'min' or 'max', got {s!r}")
        if s == "max":
            v[:, j] = -v[:, j]
    return v


def pareto_mask(values: np.ndarray, senses: Sequence[str] | None = None) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n x k)."""
    v = np.asarray(values, dtype=float)
    v = v.reshape(len(v), -1)
    v = to_min(v, senses) if senses is not None else v
    n, k = v.shape
    mask = np.zeros(n, dtype=bool)
    valid = np.flatnonzero(~np.isnan(v).any(axis=1))
    if len(valid) == 0:
        return mask
    w = v[valid]
    if k == 1:
        mask[valid[w[:, 0] == w[:, 0].min()]] = True
        return mask
    order = np.lexsort(w.T[::-1])  # by column 0, then 1, ...
    if k == 2:
        mask[valid[order[_front2(w[order])]]] = True
        return mask
    front = np.empty((len(w), k))
    size = 0
    for i in order:
        p = w[i]
        if size:
            f = front[:size]
            if np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)):
                continue
        front[size] = p
        size += 1
        mask[valid[i]] = True
    return mask


def _front2(s: np.ndarray) -> np.ndarray:
    """Indices (into ``s``, sorted by f1 then f2) of its non-dominated rows."""
    keep = np.zeros(len(s), dtype=bool)
    best = np.inf
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j, 0] == s[i, 0]:
            j += 1
        low = s[i, 1]  # the group's smallest f2 (sorted)
        if low < best:
            keep[i:j] = s[i:j, 1] == low
            best = low
        i = j
    return np.flatnonzero(keep)


def pareto_front(df: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    """Rows of ``df`` on the front of ``objectives`` ({name: 'min'|'max'}), sorted by them."""
    names = list(objectives)
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise KeyError(f"no column {missing[0]!r}")
    mask = pareto_mask(df[names].to_numpy(dtype=float), [objectives[n] for n in names])
    front = df[mask]
    return front.sort_values(names, ascending=[objectives[n] == "min" for n in names],
                             kind="stable")


def default_reference(values: np.ndarray, senses: Sequence[str], margin: float = 0.1) -> np.ndarray:
    """A reference point just worse than every row: worst value + ``margin`` of the range.

    Returned in the objectives' own directions (for a maximised objective it lies below the
    smallest value).
    """
    v = to_min(values, senses)
    v = v[~np.isnan(v).any(axis=1)]
    if len(v) == 0:
        raise ValueError("no rows without NaN to take a reference point from")
    worst, best = v.max(axis=0), v.min(axis=0)
    span = np.where(worst > best, worst - best, np.maximum(np.abs(worst), 1.0))
    ref = worst + margin * span
    return np.array([-r if s == "max" else r for r, s in zip(ref, senses)])


def hypervolume(values: np.ndarray, senses: Sequence[str], ref: Sequence[float]) -> float:
    """Volume dominated by ``values`` and bounded by the reference point ``ref`` (exact)."""
    v = to_min(values, senses)
    r = to_min(np.asarray(ref, dtype=float).reshape(1, -1), senses)[0]
    v = v[~np.isnan(v).any(axis=1)]
    v = v[np.all(v < r, axis=1)]
    if len(v) == 0:
        return 0.0
    return float(_hv(v[pareto_mask(v)], r))


def _hv(v: np.ndarray, r: np.ndarray) -> float:
    k = v.shape[1]
    if k == 1:
        return float(r[0] - v[:, 0].min())
    if k == 2:
        s = v[np.lexsort((v[:, 1], v[:, 0]))]
        x_next = np.append(s[1:, 0], r[0])
        return float(np.sum((x_next - s[:, 0]) * (r[1] - s[:, 1])))
    s = v[np.argsort(v[:, -1], kind="stable")]
    z_next = np.append(s[1:, -1], r[-1])
    total = 0.0
    for i in range(len(s)):
        dz = z_next[i] - s[i, -1]
        if dz <= 0:
            continue
        below = s[:i + 1, :-1]
        total += dz * _hv(below[pareto_mask(below)], r[:-1])
    return total
