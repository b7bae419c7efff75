"""A grid or random strategy's planned points as columns, without one Python object per point.

``planned_points`` builds a ``Point`` (a dict of values) per point, about 20 us each: 20 s of a
million-point sweep. The vectorised path needs only columns, so ``planned_table`` builds the
same points column by column. Every column is categorical: per point an integer code into
that column's distinct values, which are the very Python objects the per-point path would put
in ``Point.values``. Axis codes are index arithmetic over the block's product; a derived
value or an input constraint reads a few names, so it is evaluated once per distinct
combination of the codes of the point columns it reads (names it reads that are not point
columns are the base's or workload's fixed values, as ``PointEnv`` finds them), exactly as
``Experiment.point`` evaluates it. Point ``i`` of the table equals ``planned_points(exp)[i]``
(``tests/test_point_table.py``).

It covers one (base, workload) block without sizing; anything else (several blocks, a sized
base, the optimiser, an expression that fails on some combination, which the per-point path
reports with its location) gives None and the caller enumerates point by point.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from .space import Point, PointEnv


@dataclass(frozen=True)
class Column:
    """A categorical column: ``values[codes[i]]`` is point i's value."""

    codes: np.ndarray
    values: list


class PointTable(Sequence[Point]):
    """Points of one block as columns (module docstring); a ``Point`` is built on access."""

    def __init__(self, base: str, workload: str, index: np.ndarray,
                 columns: dict[str, Column]) -> None:
        self.base, self.workload, self.index, self.columns = base, workload, index, columns

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, (slice, np.ndarray)):   # a slice or an index array: a table
            return PointTable(self.base, self.workload, self.index[i],
                              {n: Column(c.codes[i], c.values) for n, c in self.columns.items()})
        i = int(i)
        return Point(int(self.index[i]), self.base, self.workload,
                     {n: c.values[int(c.codes[i])] for n, c in self.columns.items()})

    def __iter__(self) -> Iterator[Point]:
        return (self[i] for i in range(len(self)))

    def column(self, name: str, dtype: Any = None) -> np.ndarray:
        """Every point's value of ``name``, as ``np.array([p.values[name] for p in self],
        dtype)`` gives it (the dtype inferred from the values these points hold)."""
        c = self.columns[name]
        used, codes = np.unique(c.codes, return_inverse=True)
        return np.array([c.values[int(k)] for k in used], dtype=dtype)[codes.reshape(-1)]


def planned_table(exp: Any) -> PointTable | None:
    """The planned points of a grid or random strategy as a ``PointTable``, or None where
    only point-by-point enumeration applies (module docstring)."""
    from .schema import GridStrategy, RandomStrategy
    from .strategies import _PERMUTE_LIMIT
    s = exp.spec.strategy
    if not isinstance(s, (GridStrategy, RandomStrategy)) or len(exp.space.blocks) != 1:
        return None
    block = exp.space.blocks[0]
    base, wl = exp.bases[block.base], exp.workloads[block.workload]
    if base.size is not None:
        return None
    n = block.size
    if isinstance(s, RandomStrategy) and n > _PERMUTE_LIMIT:
        return None
    cols: dict[str, Column] = {}
    stride = n
    for d in block.dims:   # first dimension slowest, as Block.values_at
        stride //= len(d.values)
        pos = (np.arange(n, dtype=np.int64) // stride) % len(d.values)
        for j, path in enumerate(d.paths):
            cols[path] = Column(pos, [v[j] for v in d.values])
    fields = wl.fields
    try:
        for path, expr in block.derived:
            cols[path] = _evaluate(expr, cols, base.doc.data, fields)
        keep = np.ones(n, bool)
        for c in base.constraints:
            ok = _evaluate(c.expr, cols, base.doc.data, fields)
            keep &= np.array([bool(v) for v in ok.values], bool)[ok.codes]
    except (ArithmeticError, TypeError, ValueError, KeyError):
        return None   # the per-point path reports the failing point with its location
    index = np.flatnonzero(keep)
    if isinstance(s, RandomStrategy):   # as random_points: the permutation, feasible ones first
        order = np.random.default_rng(s.seed).permutation(n)
        index = order[keep[order]][:s.samples]
    if not index.size:
        return None
    table = PointTable(block.base, block.workload, np.arange(n, dtype=np.int64), cols)
    out = table[index] if index.size != n or isinstance(s, RandomStrategy) else table
    return PointTable(out.base, out.workload, out.index + exp.space.offsets[0], out.columns)


def _evaluate(expr: Any, cols: dict[str, Column], base_data: dict, fields: Any) -> Column:
    """``expr`` per point, evaluated once per distinct combination of the point columns it
    reads (in their current state: a derived value sees the axes and earlier derived ones)."""
    names = [nm for nm in dict.fromkeys(expr.names) if nm in cols]
    n = next(iter(cols.values())).codes.shape[0]
    if not names:
        return Column(np.zeros(n, np.int64), [expr(PointEnv({}, base_data, fields))])
    key = np.zeros(n, np.int64)   # mixed radix: one integer per combination of codes
    radix = 1
    for nm in names:
        size = len(cols[nm].values)
        if radix * size >= 1 << 62:
            raise ValueError("too many combinations")   # (the per-point path then)
        key += cols[nm].codes * radix
        radix *= size
    combos, codes = np.unique(key, return_inverse=True)
    values = []
    for k in combos.tolist():
        env = {}
        for nm in names:
            size = len(cols[nm].values)
            env[nm] = cols[nm].values[k % size]
            k //= size
        values.append(expr(PointEnv(env, base_data, fields)))
    return Column(codes.reshape(-1).astype(np.int64), values)


__all__ = ["PointTable", "Column", "planned_table"]
