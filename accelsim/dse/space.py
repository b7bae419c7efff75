"""The design space: axis values, grid dimensions, points, and the names a point can read.

A space is a list of blocks, one per (base architecture, workload) pair, in the experiment's
order. Each block is the product of its dimensions: one per axis, one per zip group (whose axes
vary together). Points are numbered block by block, and within a block in row-major order (the
first axis varies slowest), so a point index names the same design on every run.
"""
from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from .expr import Expr
from .schema import LogRangeAxis, RangeAxis

WORKLOAD_PREFIX = "workload."
#: the column of an iso-area point\'s budget (``archs.<name>.size.area_mm2``): not a config key
SIZE_BUDGET = "size.area_mm2"
_MISSING = object()


def _tidy(v: float) -> float:
    """Round away float noise (0.1 * 3 -> 0.3): keep 12 significant digits."""
    return float(f"{v:.12g}")


def _whole(*xs: float) -> bool:
    return all(float(x).is_integer() for x in xs)


def expand_axis(spec: Any) -> list[Any]:
    """The values of one axis spec: a list as given, or a (log-)range expanded."""
    if isinstance(spec, RangeAxis):
        start, stop, step = spec.range
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        vals = [_tidy(start + i * step) for i in range(n)]
        return [int(v) for v in vals] if _whole(start, step) else vals
    if isinstance(spec, LogRangeAxis):
        start, stop = spec.logrange
        if spec.factor is not None:
            vals, v = [], float(start)
            while v <= stop * (1 + 1e-12):
                vals.append(_tidy(v))
                v *= spec.factor
            return [int(x) for x in vals] if _whole(start, spec.factor) else vals
        n = spec.num or 2
        vals = [_tidy(start * (stop / start) ** (i / (n - 1))) for i in range(n)]
        return [int(x) for x in vals] if _whole(start, stop, *vals) else vals
    return list(spec)


def value_type(values: list[Any]) -> str:
    """Store column type of a list of parameter values: bool, int, float or str."""
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return "float"
    return "str"


def merge_types(a: str | None, b: str) -> str:
    """Column type holding values of both types."""
    if a is None or a == b:
        return b
    return "float" if {a, b} == {"int", "float"} else "str"


def cell(value: Any, kind: str | None = None) -> Any:
    """A parameter value as stored in a column of type ``kind`` (bool, int, float, str).

    Mappings and lists become JSON text. ValueError if the value does not fit the column
    (say, a derived value that is a string for one point and a number for the others).
    """
    if value is None:
        return None
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, sort_keys=True)
    if kind is None:
        return value
    if kind == "str":
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, str):
        raise ValueError(f"{value!r} is text, but the column holds {kind} values")
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    if float(value).is_integer():
        return int(value)
    raise ValueError(f"{value!r} is not a whole number, but the column holds int values")


@dataclass(frozen=True)
class Dim:
    """One independent dimension of a block: a single axis or a zip group."""

    paths: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]  # one tuple per position: a value per path


@dataclass(frozen=True)
class Point:
    """One design point: its index in the space, base arch, workload and parameter values."""

    index: int
    base: str
    workload: str
    values: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Block:
    """All points of one (base, workload) pair: the product of ``dims``."""

    base: str
    workload: str
    dims: tuple[Dim, ...]
    derived: tuple[tuple[str, Expr], ...]

    @property
    def size(self) -> int:
        return math.prod(len(d.values) for d in self.dims)

    def values_at(self, i: int) -> dict[str, Any]:
        """Axis values (derived ones not yet applied) of the block's ``i``-th point."""
        out: dict[str, Any] = {}
        for d in reversed(self.dims):
            i, pos = divmod(i, len(d.values))
            out.update(zip(d.paths, d.values[pos]))
        return {p: out[p] for d in self.dims for p in d.paths}


class PointEnv(Mapping[str, Any]):
    """Names an expression may read for a point: its values, workload fields, base config."""

    def __init__(self, values: Mapping[str, Any], base_data: dict, workload: Mapping[str, Any],
                 extra: Mapping[str, Any] | None = None) -> None:
        self.values, self.base_data, self.workload = values, base_data, workload
        self.extra = extra or {}

    def __getitem__(self, name: str) -> Any:
        if name in self.extra:
            return self.extra[name]
        if name in self.values:
            return self.values[name]
        if name.startswith(WORKLOAD_PREFIX) and name[len(WORKLOAD_PREFIX):] in self.workload:
            return self.workload[name[len(WORKLOAD_PREFIX):]]
        found = lookup(self.base_data, name)
        if found is _MISSING:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([*self.extra, *self.values])

    def __len__(self) -> int:
        return len(self.extra) + len(self.values)


def lookup(data: Any, dotted_path: str) -> Any:
    """The value at ``a.b.c`` in nested mappings/lists, or a private MISSING marker."""
    node = data
    for part in dotted_path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def has_path(data: Any, dotted_path: str) -> bool:
    """Whether ``a.b.c`` exists in ``data``."""
    return lookup(data, dotted_path) is not _MISSING


class Space:
    """The whole space: blocks in order, addressed by one global point index."""

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.offsets: list[int] = []
        total = 0
        for b in blocks:
            self.offsets.append(total)
            total += b.size
        self.size = total

    def raw_point(self, index: int) -> tuple[Block, dict[str, Any]]:
        """Block and axis values of global point ``index`` (derived values not applied)."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        k = bisect.bisect_right(self.offsets, index) - 1
        block = self.blocks[k]
        return block, block.values_at(index - self.offsets[k])
