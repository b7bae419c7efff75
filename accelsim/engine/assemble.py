"""The last stage: per-op columns, action counts per unit and per memory, unit statistics.

A segment with ``repeat: n`` was scheduled once; its timeline is replicated ``n`` times, each
run shifted by the segment's span (segment boundaries are barriers).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from . import timing
from .plan import Candidate, SegmentPlan
from .result import PER_OP_COLUMNS
from .schedule import Slot


@dataclass(frozen=True, eq=False)
class Run:
    """One scheduled segment."""

    plan: SegmentPlan
    slots: list[Slot]

    @cached_property
    def chosen(self) -> list[Candidate]:
        return [p.candidates[s.choice] for p, s in zip(self.plan.ops, self.slots)]

    @property
    def span(self) -> float:
        return max(s.end for s in self.slots)

    @property
    def repeat(self) -> int:
        return self.plan.segment.repeat


def unit_actions(runs: list[Run]) -> dict[str, dict[str, float]]:
    """Unit action counts over the whole workload, by unit (first unit seen first)."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in runs:
        n = r.repeat
        for c in r.chosen:
            ua = out[c.unit]
            for k, v in c.cost.actions.items():
                ua[k] += v * n
    return out


def memory_actions(runs: list[Run], device: Any) -> dict[str, dict[str, float]]:
    """Memory action counts over the whole workload, by memory (device order)."""
    out: dict[str, dict[str, float]] = {m: defaultdict(float) for m in device.memories}
    for r in runs:
        n = r.repeat
        for c in r.chosen:
            for m, acts in op_memory_actions(c, device).items():
                om = out[m]
                for k, v in acts.items():
                    om[k] += v * n
    return {m: dict(a) for m, a in out.items() if a}


memory_ids = timing.memory_ids


def op_memory_actions(c: Candidate, device: Any) -> dict[str, dict[str, float]]:
    """What one run of the op makes each memory do; memoised on the prepared op (its bytes
    per memory) by the device's memory timing ids (each memory's model and config). Do not
    modify the result."""
    prep = c.prepared
    key = ("memory_actions", memory_ids(device))
    hit = prep._memo.get(key)
    if hit is None:
        hit = prep.memo_put(key, {m: device.memories[m].actions(rd, wr)
                                  for m, (rd, wr) in c.totals.items()})
    return hit


def unit_stats(runs: list[Run], device: Any) -> dict[str, dict[str, float]]:
    """Per unit: clock, ops run, busy cycles in its own clock, busy seconds."""
    out: dict[str, dict[str, float]] = {}
    for u in device.units:
        tpc = device.ticks_per_cycle(u)
        busy = sum((s.end - s.start) * r.repeat for r in runs
                   for s, c in zip(r.slots, r.chosen) if c.unit == u)
        n = sum(r.repeat for r in runs for c in r.chosen if c.unit == u)
        out[u] = {"clock_hz": device.unit_clock_hz(u), "ops": float(n),
                  "busy_cycles": busy / tpc, "busy_s": busy / device.clock_hz}
    return out


def peak_macs_per_tick(runs: list[Run], device: Any) -> float:
    """Peak MACs per device tick of the MAC units that ran (each at its ops' best dtypes)."""
    best: dict[str, float] = {}
    for r in runs:
        for c in r.chosen:
            if c.cost.macs:
                best[c.unit] = max(best.get(c.unit, 0.0), c.cost.peak.macs)
    return float(sum(best[u] / device.ticks_per_cycle(u) for u in sorted(best)))


@dataclass(frozen=True, eq=False)
class _StaticColumns:
    """What one segment's columns hold that time and memory rates do not change."""

    one: dict[str, np.ndarray]          # op identity and bytes, per op of one run
    repeat: int                         # runs of the segment
    tpc: np.ndarray                     # device ticks per unit cycle, per op
    compute: np.ndarray                 # compute in device ticks, per op
    work: np.ndarray
    peak: np.ndarray
    mem_bytes: dict[str, np.ndarray]    # bytes each op moves through each memory

    @cached_property
    def tiled(self) -> dict[str, np.ndarray]:
        """``one`` tiled over the repeats, with each row's repeat index (``segment_columns``;
        ``columns`` gathers all segments' rows at once instead)."""
        n, k = self.repeat, self.tpc.shape[0]
        tiled = {key: _tile(v, n) for key, v in self.one.items()}
        tiled["repeat"] = np.repeat(np.arange(n), k)
        return tiled


def _activations(c: Candidate, device: Any) -> float:
    """DRAM rows the op's off-chip traffic opens, as its memories count them (``type: dram``);
    NaN where none of them counts rows."""
    mems = device.memories
    counts = [acts.get("activations") for m, acts in op_memory_actions(c, device).items()
              if mems[m].offchip]
    counts = [n for n in counts if n is not None]
    return float(sum(counts)) if counts else math.nan


def _static_columns(r: Run, device: Any) -> _StaticColumns:
    """Memoised on the segment's plan-independent part, per choice of units."""
    memo = getattr(r.plan.static, "columns", None)
    key = tuple(s.choice for s in r.slots)
    hit = memo.get(key) if memo is not None else None
    if hit is not None:
        return hit
    chosen, n, mems = r.chosen, r.repeat, device.memories
    tpc = np.array([c.ticks_per_cycle for c in chosen])
    # per op: (off-chip read, off-chip write, on-chip read, on-chip write) bytes, each summed
    # over the op's memories in their order
    moved = [[sum(t[which] for m, t in c.totals.items() if mems[m].offchip == offchip)
              for offchip, which in ((True, 0), (True, 1), (False, 0), (False, 1))]
             for c in chosen]

    def traffic(offchip: bool, which: int) -> np.ndarray:
        return np.array([row[(0 if offchip else 2) + which] for row in moved], dtype=float)

    one = {
        "segment": np.array([r.plan.segment.name] * len(chosen), dtype=object),
        "op": np.array([p.op.name for p in r.plan.ops], dtype=object),
        "kind": np.array([p.op.kind for p in r.plan.ops], dtype=object),
        "unit": np.array([c.unit for c in chosen], dtype=object),
        "macs": np.array([c.cost.macs for c in chosen]),
        "flops": np.array([c.cost.flops for c in chosen]),
        "dram_read_bytes": traffic(True, 0), "dram_write_bytes": traffic(True, 1),
        "sram_read_bytes": np.array([c.cost.bytes.get("sram_read", 0.0) for c in chosen]),
        "sram_write_bytes": np.array([c.cost.bytes.get("sram_write", 0.0) for c in chosen]),
        "buffer_read_bytes": traffic(False, 0), "buffer_write_bytes": traffic(False, 1),
        "kernel": np.array([c.cost.kernel for c in chosen], dtype=object),
        "dram_activations": np.array([_activations(c, device) for c in chosen]),
    }
    used = {m for c in chosen for m in c.totals}
    hit = _StaticColumns(
        one, n, tpc, np.array([c.cost.compute_cycles for c in chosen]) * tpc,
        np.array([c.cost.work for c in chosen]), np.array([c.cost.peak_work for c in chosen]),
        {m: np.array([sum(c.totals.get(m, (0.0, 0.0))) for c in chosen]) for m in mems
         if m in used})
    if memo is not None:
        memo[key] = hit
    return hit


def _tile(v: np.ndarray, n: int) -> np.ndarray:
    """``np.tile(v, n)`` of a 1-D array (``v`` itself when n is 1: callers pass fresh arrays);
    ``np.tile`` is Python-level and costs more than the copy on these short columns."""
    return v if n == 1 else np.concatenate((v,) * n)


def segment_columns(r: Run, device: Any, offset: float, energy: np.ndarray,
                    energy_dram: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-op columns of all ``repeat`` runs of a segment, each run shifted by its span;
    ``energy_dram`` is the DRAM components' part of ``energy`` (NaN where not given)."""
    st = _static_columns(r, device)
    n, span, k = r.repeat, r.span, len(r.slots)
    start = np.array([s.start for s in r.slots])
    end = np.array([s.end for s in r.slots])
    cycles = end - start
    unit_cycles = cycles / st.tpc
    mem_ticks = np.zeros(k)
    for m, b in st.mem_bytes.items():  # the memories move an op's bytes in parallel
        mem_ticks = np.maximum(mem_ticks, device.memories[m].ticks(b))
    one = {
        "cycles": cycles, "compute_cycles": st.compute, "stall_cycles": cycles - st.compute,
        "utilization": np.divide(st.work, unit_cycles * st.peak, out=np.zeros(k),
                                 where=unit_cycles * st.peak > 0),
        "bound": np.where(mem_ticks > st.compute, "memory", "compute").astype(object),
        "energy_j": energy, "unit_cycles": unit_cycles,
        "energy_dram_j": energy_dram if energy_dram is not None else np.full(k, np.nan),
    }
    out = dict(st.tiled)
    out.update({key: np.tile(v, n) for key, v in one.items()})
    shift = offset + st.tiled["repeat"] * span
    out["start"] = np.tile(start, n) + shift
    out["end"] = np.tile(end, n) + shift
    return out


@dataclass(frozen=True, eq=False)
class _StaticWorkload:
    """The rate- and time-independent columns of every run of every segment (one row per op
    per repeat), and how each row maps back to its op: built once per choice of units."""

    statics: tuple[_StaticColumns, ...]     # per run (checked by identity on a memo hit)
    tiled: dict[str, np.ndarray]            # the static columns, all rows
    op_of_row: np.ndarray                   # row -> index into the ops of all runs
    run_of_row: np.ndarray                  # row -> run index
    compute: np.ndarray                     # per op of all runs: compute in device ticks
    tpc: np.ndarray
    work: np.ndarray
    peak: np.ndarray
    #: per memory: bytes per op (0 outside the runs that use it) and which ops' runs use it
    mem_bytes: dict[str, tuple[np.ndarray, np.ndarray]]


def _static_workload(runs: list[Run], device: Any) -> _StaticWorkload:
    """Memoised in the first run's static segment memo (it lives as long as the trace's plan),
    by the identities of every run's static columns, checked on a hit."""
    statics = tuple(_static_columns(r, device) for r in runs)
    memo = getattr(runs[0].plan.static, "columns", None) if runs else None
    key = ("workload",) + tuple(map(id, statics))
    hit = memo.get(key) if memo is not None else None
    if hit is not None and all(a is b for a, b in zip(hit.statics, statics)):
        return hit
    sizes = [len(r.slots) for r in runs]
    base = np.cumsum([0] + sizes[:-1]).astype(int)
    op_of_row = np.concatenate([_tile(np.arange(k) + b, r.repeat)
                                for r, k, b in zip(runs, sizes, base)] or [np.zeros(0, int)])
    run_of_row = np.concatenate([np.full(k * r.repeat, j)
                                 for j, (r, k) in enumerate(zip(runs, sizes))]
                                or [np.zeros(0, int)])
    # every row's static columns gathered from the per-op ones (what tiling each segment over
    # its repeats and concatenating gave, in one indexing step per column)
    tiled = {key_: np.concatenate([st.one[key_] for st in statics])[op_of_row]
             for key_ in statics[0].one} if statics else {}
    if statics:
        tiled["repeat"] = np.concatenate([np.repeat(np.arange(r.repeat), k)
                                          for r, k in zip(runs, sizes)])
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0))
    mem_bytes = {}
    for m in device.memories:
        if any(m in st.mem_bytes for st in statics):
            b = cat([st.mem_bytes.get(m, np.zeros(k)) for st, k in zip(statics, sizes)])
            used = cat([np.full(k, m in st.mem_bytes) for st, k in zip(statics, sizes)])
            mem_bytes[m] = (b, used.astype(bool))
    hit = _StaticWorkload(statics, tiled, op_of_row, run_of_row,
                          cat([st.compute for st in statics]), cat([st.tpc for st in statics]),
                          cat([st.work for st in statics]), cat([st.peak for st in statics]),
                          mem_bytes)
    if memo is not None:
        memo[key] = hit
    return hit


def columns(runs: list[Run], device: Any, energies: list[np.ndarray],
            dram_energies: list[np.ndarray] | None = None) -> tuple[dict, float]:
    """All per-op columns and the total span (device ticks); ``dram_energies`` the DRAM
    components' part of ``energies`` (NaN where not given). Each segment's ``repeat`` runs
    are its one scheduled run shifted by its span (start = start + offset + repeat x span).

    Computed per op of one run of each segment, then gathered to every row in one indexing
    step; every element goes through the same arithmetic as one segment at a time did."""
    sw = _static_workload(runs, device)
    start = np.array([s.start for r in runs for s in r.slots], dtype=float)
    end = np.array([s.end for r in runs for s in r.slots], dtype=float)
    k = start.shape[0]
    cycles = end - start
    unit_cycles = cycles / sw.tpc
    mem_ticks = np.zeros(k)
    for m, (b, used) in sw.mem_bytes.items():  # the memories move an op's bytes in parallel
        mem_ticks = np.maximum(mem_ticks, np.where(used, device.memories[m].ticks(b), 0.0))
    denom = unit_cycles * sw.peak
    util = np.divide(sw.work, denom, out=np.zeros(k), where=denom > 0)
    energy = np.concatenate([np.asarray(e, dtype=float) for e in energies]) if energies \
        else np.zeros(0)
    energy_dram = np.concatenate([np.asarray(e, dtype=float) for e in dram_energies]) \
        if dram_energies else np.full(k, np.nan)
    per_op = np.array([cycles, sw.compute, cycles - sw.compute, util, energy, unit_cycles,
                       start, end, energy_dram])
    rows = per_op[:, sw.op_of_row]
    offsets, spans, offset = [], [], 0.0
    for r in runs:
        offsets.append(offset)
        spans.append(r.span)
        offset += r.span * r.repeat
    shift = np.array(offsets)[sw.run_of_row] + sw.tiled["repeat"] * np.array(spans)[sw.run_of_row]
    out = {key: v.copy() for key, v in sw.tiled.items()}
    for i, key in enumerate(("cycles", "compute_cycles", "stall_cycles", "utilization",
                             "energy_j", "unit_cycles")):
        out[key] = rows[i]
    out["bound"] = np.where(mem_ticks > sw.compute, "memory", "compute").astype(object)[
        sw.op_of_row]
    out["start"] = rows[6] + shift
    out["end"] = rows[7] + shift
    out["energy_dram_j"] = rows[8]
    return {key: out[key] for key in PER_OP_COLUMNS}, offset
