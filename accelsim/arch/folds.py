"""Fold classes: a tile sequence described by its few distinct tiles instead of one entry per tile.

A systolic GEMM pass has ceil(Sr/R) x ceil(Sc/C) folds per batch element, but along each of
those axes a fold is either the first, a middle one or the last (the edge fold, with fewer used
rows or columns, and the one where ids change); so the whole sequence has at most 3 x 3 x 3
distinct folds ("classes"), repeated in a regular nested order. ``Seq`` describes that order
as a small tree (leaves are class ids; ``Seq.cat`` and ``Seq.rep`` concatenate and repeat), and
``FoldClasses`` holds what the engine needs from it without expanding it:

* ``counts[k]``: how many tiles are of class k (totals are sums of value x count);
* the adjacent pairs (tile i of class a, tile i+1 of class b) with their multiplicities, since
  the double-buffered closed form (``engine.timing``) sums ``max(c_i, x_{i+1})`` over them and
  ``x_{i+1}`` holds tile i's writes and tile i+1's reads;
* the first and last tile's classes (exposed first load, final write).

``expand()`` rebuilds the per-tile class ids when a per-tile replay needs them (tile fidelity,
units that concatenate schedules).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, NamedTuple, Union

import numpy as np

#: a sequence tree: a class id, ("cat", children) or ("rep", child, times)
Node = Union[int, tuple]


class Seq:
    """Builders of sequence trees (plain tuples, so they hash and pickle cheaply)."""

    @staticmethod
    def cat(children: Iterable[Node]) -> Node:
        kids = tuple(c for c in children if c is not None)
        return kids[0] if len(kids) == 1 else ("cat", kids)

    @staticmethod
    def rep(child: Node, times: int) -> Node | None:
        if times <= 0:
            return None
        return child if times == 1 else ("rep", child, int(times))


def _add(into: dict, other: dict, times: int = 1) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v * times


class _Info(NamedTuple):
    """What ``FoldClasses`` reads from a sequence tree (a tuple: cheap to build, issue 16)."""

    first: int
    last: int
    n: int
    pairs: dict[tuple[int, int], int]
    counts: dict[int, int]


def _info(node: Node) -> _Info:
    """Summary of a sequence tree; leaves and runs of one class are handled in place (the
    common case in a systolic pass's order), so a tree of k classes costs few calls."""
    if isinstance(node, (int, np.integer)):
        k = int(node)
        return _Info(k, k, 1, {}, {k: 1})
    if node[0] == "rep":
        _, child, times = node
        if isinstance(child, (int, np.integer)):  # a run of one class: the common case
            k = int(child)
            return _Info(k, k, times, {(k, k): times - 1}, {k: times})
        c = _info(child)
        pairs = {p: v * times for p, v in c.pairs.items()}
        counts = {p: v * times for p, v in c.counts.items()}
        edge = (c.last, c.first)
        pairs[edge] = pairs.get(edge, 0) + times - 1
        return _Info(c.first, c.last, c.n * times, pairs, counts)
    pairs, counts = {}, {}
    first = prev = -1
    n = 0
    for i, child in enumerate(node[1]):
        if isinstance(child, (int, np.integer)):
            k = int(child)
            c_first = c_last = k
            n += 1
            counts[k] = counts.get(k, 0) + 1
        elif child[0] == "rep" and isinstance(child[1], (int, np.integer)):
            k, times = int(child[1]), child[2]
            c_first = c_last = k
            n += times
            counts[k] = counts.get(k, 0) + times
            pairs[(k, k)] = pairs.get((k, k), 0) + times - 1
        else:
            c = _info(child)
            c_first, c_last = c.first, c.last
            n += c.n
            _add(pairs, c.pairs)
            _add(counts, c.counts)
        if i:
            edge = (prev, c_first)
            pairs[edge] = pairs.get(edge, 0) + 1
        else:
            first = c_first
        prev = c_last
    return _Info(first, prev, n, pairs, counts)


def _expand(node: Node, out: list) -> None:
    if isinstance(node, (int, np.integer)):
        out.append(int(node))
    elif node[0] == "cat":
        for c in node[1]:
            _expand(c, out)
    else:
        part: list = []
        _expand(node[1], part)
        out.extend(part * node[2])


@dataclass(frozen=True, eq=False)
class FoldClasses:
    """The order of a tile sequence over ``k`` classes (see module docstring)."""

    order: Node
    k: int

    @cached_property
    def _summary(self) -> _Info:
        return _info(self.order)

    @property
    def n(self) -> int:
        """Number of tiles."""
        return self._summary.n

    @property
    def first(self) -> int:
        return self._summary.first

    @property
    def last(self) -> int:
        return self._summary.last

    @cached_property
    def counts(self) -> np.ndarray:
        """Tiles of each class (float, so that value x count stays in float arithmetic)."""
        out = np.zeros(self.k)
        for c, v in self._summary.counts.items():
            out[c] = v
        return out

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(class of tile i, class of tile i+1, how many such i), in a fixed order."""
        items = sorted((p, v) for p, v in self._summary.pairs.items() if v > 0)
        a = np.array([p[0] for p, _ in items], dtype=np.intp)
        b = np.array([p[1] for p, _ in items], dtype=np.intp)
        return a, b, np.array([float(v) for _, v in items])

    def total(self, values: np.ndarray) -> float:
        """Sum over all tiles of a per-class value."""
        return float((values * self.counts).sum())

    def expand(self) -> np.ndarray:
        """Class id of every tile, in order."""
        out: list[int] = []
        _expand(self.order, out)
        return np.array(out, dtype=np.intp)


def axis_runs(length: int) -> tuple[list[int], list[int]]:
    """Representative real indices and run lengths of one fold axis: first, middle, last."""
    if length == 1:
        return [0], [1]
    if length == 2:
        return [0, 1], [1, 1]
    return [0, 1, length - 1], [1, length - 2, 1]
