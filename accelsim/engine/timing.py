"""Closed-form time of one op on one unit, from its tile schedule and its memories.

The memories own the time to move bytes (``Memory.ticks``); this module only overlaps it with
the unit's compute. Tile i+1's transfer (its reads plus tile i's writes, on every memory it
uses, the memories in parallel) overlaps tile i's compute when the unit double-buffers:

    total = x_0 + sum_i max(c_i, x_{i+1}) + c_last + tail + final write

with ``x_i = max over memories m of transfer_{m,i} / rate_m`` and compute in device ticks
(unit cycles x ticks per cycle); without double buffering transfers and compute alternate. The
tile fidelity replays the exact two-buffer recurrence instead.
"""
from __future__ import annotations

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


def totals(s: Streams) -> dict[str, tuple[float, float]]:
    """(bytes read, bytes written) per memory."""
    return {m: (float(rd.sum()) if rd is not None else 0.0,
                float(wr.sum()) if wr is not None else 0.0) for m, (rd, wr) in s.items()}


def closed_form(tiles: TileSchedule, s: Streams, memories: Mapping[str, Any],
                ticks_per_cycle: float = 1.0) -> float:
    """Latency (device ticks) of the op with a private port on each memory (no contention)."""
    return _closed_form(tiles, s, memories, ticks_per_cycle)[0]


def _closed_form(tiles: TileSchedule, s: Streams, memories: Mapping[str, Any],
                 tpc: float) -> tuple[float, float, float]:
    """(latency, exposed first transfer x_0, exposed final write, compute after the last
    transfer), device ticks."""
    finite = [(memories[m], rd, wr) for m, (rd, wr) in s.items() if not memories[m].unlimited]
    if not finite:
        return (tiles.compute_cycles() if tpc == 1.0 else tiles.compute_cycles() * tpc), 0.0, \
            0.0, 0.0
    n = tiles.n
    xfer: np.ndarray | None = None
    last_write = 0.0
    for mem, rd, wr in finite:
        x = mem.ticks(transfers(rd, wr, n))
        xfer = x if xfer is None else np.maximum(xfer, x)
        if wr is not None and n:
            last_write = max(last_write, float(wr[-1]) / mem.bytes_per_tick)
    assert xfer is not None
    c = tiles.compute if tpc == 1.0 else tiles.compute * tpc
    tail = tiles.tail if tpc == 1.0 else tiles.tail * tpc
    end = float(c[-1]) + tail
    if not tiles.double_buffered:
        return float(xfer.sum() + c.sum()) + tail + last_write, float(xfer[0]), last_write, end
    overlap = np.maximum(c[:-1], xfer[1:]).sum() if n > 1 else 0.0
    return float(xfer[0] + overlap + c[-1]) + tail + last_write, float(xfer[0]), last_write, end


def phases(tiles: TileSchedule, s: Streams, memories: Mapping[str, Any], tpc: float
           ) -> list[tuple[float, float, dict[str, float]]]:
    """The op's traffic in three phases, as (begin, end offset from the op's start, bytes per
    memory): the exposed first transfer (tile 0's reads, 0 to x_0); the body, everything else
    but the final write, overlapped with compute (x_0 to the last transfer, which the last
    tile's compute and the pipeline tail follow); the exposed final write (latency - final write
    to latency). Phases without bytes are left out, as are memories with unlimited bandwidth."""
    total, x0, lw, end = _closed_form(tiles, s, memories, tpc)
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    body: dict[str, float] = {}
    for m, (rd, wr) in s.items():
        if memories[m].unlimited:
            continue
        f = float(rd[0]) if rd is not None and tiles.n else 0.0
        w = float(wr[-1]) if wr is not None and tiles.n else 0.0
        all_ = (float(rd.sum()) if rd is not None else 0.0) + (float(wr.sum()) if wr is not None
                                                              else 0.0)
        first[m], last[m], body[m] = f, w, max(all_ - f - w, 0.0)
    out = [(0.0, x0, first), (x0, total - lw - end, body), (total - lw, total, last)]
    return [(b0, b1, {m: b for m, b in parts.items() if b > 0}) for b0, b1, parts in out
            if any(b > 0 for b in parts.values())]


def memory_ticks(tot: Mapping[str, tuple[float, float]], memories: Mapping[str, Any]) -> float:
    """Time to move all of an op's bytes, the memories in parallel (for the 'bound' label)."""
    return max((memories[m].ticks(rd + wr) for m, (rd, wr) in tot.items()), default=0.0)
