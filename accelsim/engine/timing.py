"""Closed-form time of one op on one unit, from its tile schedule and its memories.

The memories own the time to move bytes (``Memory.ticks``); this module only overlaps it with
the unit's compute. Tile i+1's transfer (its reads plus tile i's writes, on every memory it
uses, the memories in parallel) overlaps tile i's compute when the unit double-buffers:

    total = x_0 + sum_i max(c_i, x_{i+1}) + c_last + tail + final write

with ``x_i = max over memories m of transfer_{m,i} / rate_m`` and compute in device ticks
(unit cycles x ticks per cycle); without double buffering transfers and compute alternate. The
tile fidelity replays the exact two-buffer recurrence instead.

``Prepared`` holds what does not depend on the memories' rates (bytes per tile per memory,
compute in device ticks), so a sweep over bandwidth recomputes only the closed form.

A schedule given by fold classes (``TileSchedule.classes``, ``accelsim.arch.folds``) is timed
without expanding it: ``x_{i+1}`` depends only on the classes of tiles i and i+1, so the sum
runs over the distinct adjacent class pairs weighted by how often each occurs. Cycles and
bytes are the same as per tile; the latency sum is taken in another order, so it may differ
from the per-tile sum in the last bits.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..arch.base import MAIN, TileSchedule

#: per memory: (bytes read before each tile, bytes written after each tile), None for none
Streams = dict[str, tuple["np.ndarray | None", "np.ndarray | None"]]


def streams(tiles: TileSchedule, default: str, placement: Mapping[str, str] | None = None
            ) -> Streams:
    """Per-tile bytes by memory: each operand goes to ``placement[operand]``, else to the memory
    its traffic names, else (``MAIN``) to ``default``, the unit's memory. Operands sharing a
    memory are summed in traffic order."""
    out: Streams = {}
    for t in tiles.traffic:
        mem = (placement or {}).get(t.operand) or (default if t.memory == MAIN else t.memory)
        rd, wr = out.get(mem, (None, None))
        out[mem] = (_add(rd, t.read), _add(wr, t.write))
    return out


def _add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    return a if b is None else a + b


def transfers(read: np.ndarray | None, write: np.ndarray | None, n: int) -> np.ndarray:
    """Bytes moved before tile i: its reads plus the previous tile's writes."""
    t = read.astype(float).copy() if read is not None else np.zeros(n)
    if write is not None:
        t[1:] += write[:-1]
    return t


#: memory timing key -> a process-unique int (``timing_id``); cleared when large, the ids never
#: reused (a key seen again after a clear gets a new id: a memo miss, never a wrong hit)
_TIMING_IDS: dict[tuple, int] = {}
_TIMING_SEQ = itertools.count()
_TIMING_IDS_MAX = 1 << 16
#: entries kept per Prepared (closed forms, energies, memory actions per memory timing: a
#: bandwidth sweep adds one per point); a full memo is cleared
_MEMO_MAX = 16


def timing_id(memory: Any) -> int:
    """An int naming everything ``memory``'s timing depends on (``Memory.timing_key``), cached
    on the memory: two memories with equal timing keys get the same id, so a closed form
    memoised on it is exact for either (issue 16: warm single steps)."""
    tid = memory.__dict__.get("_timing_id")
    if tid is None:
        key = memory.timing_key()
        try:
            tid = _TIMING_IDS.get(key)
        except TypeError:  # an unhashable config (a mapping in it): an id of its own
            tid = next(_TIMING_SEQ)
        else:
            if tid is None:
                if len(_TIMING_IDS) >= _TIMING_IDS_MAX:
                    _TIMING_IDS.clear()
                tid = _TIMING_IDS[key] = next(_TIMING_SEQ)
        memory._timing_id = tid
    return tid


def memory_ids(device: Any) -> tuple[tuple[str, int], ...]:
    """Each memory of ``device`` with its ``timing_id``, cached on the device: the memory part
    of the keys of the memos of closed forms, plans, energies and memory actions."""
    key = device.__dict__.get("_memory_ids")
    if key is None:
        key = device._memory_ids = tuple((n, timing_id(m)) for n, m in device.memories.items())
    return key


@dataclass(frozen=True, eq=False)
class Prepared:
    """An op's tile schedule on one unit with its bytes per memory, for any memory rates.

    ``xfer[m][i]``: bytes tile i moves through memory m before it starts (its reads plus the
    previous tile's writes); ``last[m]``: the final write; ``totals[m]``: (read, written) bytes;
    ``compute``: per-tile compute in device ticks.
    """

    tiles: TileSchedule
    ticks_per_cycle: float
    xfer: dict[str, np.ndarray]
    last: dict[str, float]
    totals: dict[str, tuple[float, float]]
    compute: np.ndarray
    tail: float
    #: what the engine derives from this op and its memories' timing (``memo_get``): lives and
    #: dies with the op, so no memo keeps a costed op alive
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def __getstate__(self) -> dict:
        """Pickled without the closed-form memo (keyed on this process's timing ids)."""
        return dict(self.__dict__, _memo={})

    @classmethod
    def of(cls, tiles: TileSchedule, default: str, placement: Mapping[str, str] | None,
           ticks_per_cycle: float) -> "Prepared":
        if tiles.classes is not None:
            return Grouped.of(tiles, default, placement, ticks_per_cycle)
        s, n, tpc = streams(tiles, default, placement), tiles.n, ticks_per_cycle
        return cls(
            tiles, tpc, {m: transfers(rd, wr, n) for m, (rd, wr) in s.items()},
            {m: float(wr[-1]) if wr is not None and n else 0.0 for m, (rd, wr) in s.items()},
            {m: (float(rd.sum()) if rd is not None else 0.0,
                 float(wr.sum()) if wr is not None else 0.0) for m, (rd, wr) in s.items()},
            tiles.compute if tpc == 1.0 else tiles.compute * tpc,
            tiles.tail if tpc == 1.0 else tiles.tail * tpc)

    def dense(self) -> "Prepared":
        """The per-tile form of this schedule (itself: it is per tile already)."""
        return self

    def compute_ticks(self) -> float:
        t = self.tiles
        return t.compute_cycles() if self.ticks_per_cycle == 1.0 else \
            t.compute_cycles() * self.ticks_per_cycle

    def closed_form(self, memories: Mapping[str, Any]) -> float:
        """Latency (device ticks) with a private port on each memory (no contention)."""
        return self._parts(memories)[0]

    def _parts(self, memories: Mapping[str, Any]) -> tuple[float, float, float, float]:
        """(latency, exposed first transfer x_0, exposed final write, compute after the last
        transfer), device ticks; memoised on the timing of the memories it uses."""
        key = ("parts", tuple(timing_id(memories[m]) for m in self.xfer))
        hit = self._memo.get(key)
        if hit is None:
            hit = self.memo_put(key, self._compute_parts(memories))
        return hit

    def memo_put(self, key: tuple, value: Any) -> Any:
        """Store ``value`` in this op's memo under ``key`` (bounded); returns ``value``. Keys
        name everything the value depends on beyond this op (e.g. memory timing ids)."""
        if len(self._memo) >= _MEMO_MAX:
            self._memo.clear()
        self._memo[key] = value
        return value

    def _compute_parts(self, memories: Mapping[str, Any]) -> tuple[float, float, float, float]:
        finite = [(m, memories[m], x) for m, x in self.xfer.items() if not memories[m].unlimited]
        if not finite:
            return self.compute_ticks(), 0.0, 0.0, 0.0
        xfer: np.ndarray | None = None
        last_write = 0.0
        for m, mem, x in finite:
            t = mem.ticks(x)
            xfer = t if xfer is None else np.maximum(xfer, t)
            last_write = max(last_write, self.last[m] / mem.bytes_per_tick)
        assert xfer is not None
        c, tail = self.compute, self.tail
        end = float(c[-1]) + tail
        if not self.tiles.double_buffered:
            return float(xfer.sum() + c.sum()) + tail + last_write, float(xfer[0]), last_write, end
        overlap = np.maximum(c[:-1], xfer[1:]).sum() if c.shape[0] > 1 else 0.0
        return float(xfer[0] + overlap + c[-1]) + tail + last_write, float(xfer[0]), last_write, end

    def phases_memo(self, memories: Mapping[str, Any]
                    ) -> list[tuple[float, float, dict[str, float]]]:
        """``phases``, memoised on the timing of the memories it uses (the op fidelity asks
        once per op and simulation)."""
        key = ("phases", tuple(timing_id(memories[m]) for m in self.xfer))
        hit = self._memo.get(key)
        if hit is None:
            hit = self.memo_put(key, self.phases(memories))
        return hit

    def phases(self, memories: Mapping[str, Any]) -> list[tuple[float, float, dict[str, float]]]:
        """The op's traffic in three phases, as (begin, end offset from the op's start, bytes per
        memory): the exposed first transfer (tile 0's reads, 0 to x_0); the body, everything
        else but the final write, overlapped with compute (x_0 to the last transfer, which the
        last tile's compute and the pipeline tail follow); the exposed final write (latency -
        final write to latency). Phases without bytes are left out, as are memories with
        unlimited bandwidth."""
        total, x0, lw, end = self._parts(memories)
        first: dict[str, float] = {}
        last: dict[str, float] = {}
        body: dict[str, float] = {}
        for m, x in self.xfer.items():
            if memories[m].unlimited or not x.shape[0]:
                continue
            f, w = float(x[0]), self.last[m]
            first[m], last[m], body[m] = f, w, max(sum(self.totals[m]) - f - w, 0.0)
        out = [(0.0, x0, first), (x0, total - lw - end, body), (total - lw, total, last)]
        return [(b0, b1, {m: b for m, b in parts.items() if b > 0}) for b0, b1, parts in out
                if any(b > 0 for b in parts.values())]


@dataclass(frozen=True, eq=False)
class Grouped(Prepared):
    """``Prepared`` for a schedule by fold classes: ``xfer[m]`` holds one entry per adjacent
    class pair (``classes.pairs``: bytes before the pair's second tile), ``first[m]`` the
    first tile's reads; ``compute`` is per class."""

    first: dict[str, float] = None  # type: ignore[assignment]

    @classmethod
    def of(cls, tiles: TileSchedule, default: str, placement: Mapping[str, str] | None,
           ticks_per_cycle: float) -> "Grouped":
        s, tpc, fc = streams(tiles, default, placement), ticks_per_cycle, tiles.classes
        pa, pb, _ = fc.pairs
        k = tiles.compute.shape[0]
        xfer, first, last, totals = {}, {}, {}, {}
        for m, (rd, wr) in s.items():
            r = rd.astype(float) if rd is not None else np.zeros(k)
            w = wr if wr is not None else np.zeros(k)
            xfer[m] = r[pb] + w[pa]
            first[m], last[m] = float(r[fc.first]), float(w[fc.last])
            totals[m] = (tiles.total(rd), tiles.total(wr))
        return cls(tiles, tpc, xfer, last, totals,
                   tiles.compute if tpc == 1.0 else tiles.compute * tpc,
                   tiles.tail if tpc == 1.0 else tiles.tail * tpc, first=first)

    def _compute_parts(self, memories: Mapping[str, Any]) -> tuple[float, float, float, float]:
        finite = [(m, memories[m], x) for m, x in self.xfer.items() if not memories[m].unlimited]
        if not finite:
            return self.compute_ticks(), 0.0, 0.0, 0.0
        fc = self.tiles.classes
        pa, _, pn = fc.pairs
        xfer: np.ndarray | None = None
        x0 = last_write = 0.0
        for m, mem, x in finite:
            t = mem.ticks(x)
            xfer = t if xfer is None else np.maximum(xfer, t)
            x0 = max(x0, float(mem.ticks(self.first[m])))
            last_write = max(last_write, self.last[m] / mem.bytes_per_tick)
        assert xfer is not None
        c, tail = self.compute, self.tail
        end = float(c[fc.last]) + tail
        if not self.tiles.double_buffered:
            moved = x0 + float((xfer * pn).sum())
            return moved + fc.total(c) + tail + last_write, x0, last_write, end
        overlap = float((np.maximum(c[pa], xfer) * pn).sum())
        return x0 + overlap + float(c[fc.last]) + tail + last_write, x0, last_write, end

    def phases(self, memories: Mapping[str, Any]) -> list[tuple[float, float, dict[str, float]]]:
        total, x0, lw, end = self._parts(memories)
        first: dict[str, float] = {}
        last: dict[str, float] = {}
        body: dict[str, float] = {}
        for m in self.xfer:
            if memories[m].unlimited:
                continue
            f, w = self.first[m], self.last[m]
            first[m], last[m], body[m] = f, w, max(sum(self.totals[m]) - f - w, 0.0)
        out = [(0.0, x0, first), (x0, total - lw - end, body), (total - lw, total, last)]
        return [(b0, b1, {m: b for m, b in parts.items() if b > 0}) for b0, b1, parts in out
                if any(b > 0 for b in parts.values())]

    def dense(self) -> Prepared:
        """The per-tile ``Prepared`` of the same schedule (for per-tile replays), memoised."""
        hit = self.__dict__.get("_dense")
        if hit is None:
            hit = self.__dict__["_dense"] = _dense_of(self)
        return hit


def _dense_of(g: "Grouped") -> Prepared:
    tiles = g.tiles.dense()
    n = tiles.n
    xfer, last = {}, {}
    ids = g.tiles.classes.expand()
    # bytes before tile i: tile 0's reads, then the (i-1, i) pair's bytes
    pa, pb, _ = g.tiles.classes.pairs
    index = {(int(a), int(b)): j for j, (a, b) in enumerate(zip(pa, pb))}
    pos = np.array([index[(int(a), int(b))] for a, b in zip(ids[:-1], ids[1:])], dtype=np.intp)
    for m, x in g.xfer.items():
        out = np.empty(n)
        out[0] = g.first[m]
        out[1:] = x[pos]
        xfer[m] = out
        last[m] = g.last[m]
    return Prepared(tiles, g.ticks_per_cycle, xfer, last, dict(g.totals), g.compute[ids], g.tail)


def memory_ticks(tot: Mapping[str, tuple[float, float]], memories: Mapping[str, Any]) -> float:
    """Time to move all of an op's bytes, the memories in parallel (for the 'bound' label)."""
    return max((memories[m].ticks(rd + wr) for m, (rd, wr) in tot.items()), default=0.0)
