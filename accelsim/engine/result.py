"""SimResult: totals, the per-op table, action counts and the timeline of one simulation."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config.bounds import MAX_OP_RUNS
from ..errors import AccelsimError

if TYPE_CHECKING:
    import pandas as pd

    from ..cost.estimator import CostReport
    from .capacity import CapacityCheck

#: per-op columns. Times (start, end, cycles, compute/stall cycles) are in device cycles (the
#: device's ``clock_ghz``); ``unit_cycles`` is the op's duration in its unit's own clock.
#: ``dram_*`` bytes go through off-chip memories, ``buffer_*`` through on-chip ones, ``sram_*``
#: through the unit's own buffers; ``kernel`` says what ran where a unit tells (a GPU's kernel);
#: ``dram_activations``: rows the op's off-chip traffic opens where its memory counts them
#: (``type: dram``; NaN elsewhere). ``energy_dram_j`` is the part of ``energy_j`` spent in DRAM
#: components (the memories' per-bit and activation energy and a unit's own DRAM path, e.g. a
#: PIM's bank-bundle reads); the rest is the unit's logic and buffers.
PER_OP_COLUMNS = [
    "segment", "repeat", "op", "kind", "unit", "start", "end", "cycles", "compute_cycles",
    "stall_cycles", "utilization", "macs", "flops", "dram_read_bytes", "dram_write_bytes",
    "sram_read_bytes", "sram_write_bytes", "bound", "energy_j", "unit_cycles",
    "buffer_read_bytes", "buffer_write_bytes", "kernel", "dram_activations", "energy_dram_j",
]


@dataclass
class SimResult:
    """Result of ``accelsim.simulate``. Cycles are in the device's clock; bytes are bytes."""

    arch: str
    workload: str
    fidelity: str
    clock_hz: float
    cycles: float
    #: per-op columns (numpy arrays, one entry per op per segment repeat); see ``per_op``
    columns: dict[str, np.ndarray]
    actions: dict[str, float]
    peak_macs_per_cycle: float
    config_hash: str
    version: str
    meta: dict[str, Any] = field(default_factory=dict)
    #: energy, power and area (``accelsim.cost``); per-op dynamic energy is ``per_op.energy_j``
    cost: "CostReport | None" = None
    #: per unit: clock, busy cycles in its own clock and busy seconds
    units: dict[str, dict[str, float]] = field(default_factory=dict)
    #: resident weights and KV cache against the main memory's capacity
    capacity: "CapacityCheck | None" = None

    @property
    def fits_memory(self) -> bool:
        return self.capacity is None or self.capacity.fits

    @property
    def infeasible(self) -> list[str]:
        """Why the design cannot hold this workload (empty when it can)."""
        return self.capacity.problems() if self.capacity is not None else []

    @cached_property
    def per_op(self) -> pd.DataFrame:
        """One row per op run: timing, stalls, utilisation, bytes per level, bound, energy (J).
        Built on first read: pandas is imported only here (issue 16)."""
        import pandas as pd
        return pd.DataFrame({k: self.columns[k] for k in PER_OP_COLUMNS})

    @property
    def latency_s(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def compute_cycles(self) -> float:
        return float(self.columns["compute_cycles"].sum())

    @property
    def stall_cycles(self) -> float:
        return float(self.columns["stall_cycles"].sum())

    @property
    def macs(self) -> float:
        return float(self.columns["macs"].sum())

    @property
    def flops(self) -> float:
        return float(self.columns["flops"].sum())

    @property
    def utilization(self) -> float:
        """MACs done / (cycles x peak MACs per cycle of the GEMM units that ran)."""
        denom = self.cycles * self.peak_macs_per_cycle
        return self.macs / denom if denom else 0.0

    def bytes_by_level(self) -> dict[str, float]:
        cols = ["dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes",
                "buffer_read_bytes", "buffer_write_bytes"]
        return {c.removesuffix("_bytes"): float(self.columns[c].sum()) for c in cols}

    def summary(self) -> dict[str, Any]:
        """Headline numbers (the JSON contract of ``accelsim run`` / ``accelsim gemm``)."""
        return {
            "arch": self.arch, "workload": self.workload, "fidelity": self.fidelity,
            "cycles": _num(self.cycles), "compute_cycles": _num(self.compute_cycles),
            "stall_cycles": _num(self.stall_cycles), "utilization": self.utilization,
            "latency_s": self.latency_s, "clock_hz": self.clock_hz,
            "macs": _num(self.macs), "flops": _num(self.flops),
            "ops": int(len(self.columns["op"])),
            "bytes": {k: _num(v) for k, v in self.bytes_by_level().items()},
            "fits_memory": self.fits_memory,
            "resident_bytes": _num(self.capacity.resident_bytes if self.capacity else 0.0),
            "config_hash": self.config_hash, "accelsim_version": self.version,
        } | (_nums(self.cost.summary()) if self.cost is not None else {})

    def to_dict(self, per_op: bool = True) -> dict[str, Any]:
        d = self.summary()
        d["actions"] = {k: _num(v) for k, v in sorted(self.actions.items())}
        if self.cost is not None:
            d["cost"] = _nums(self.cost.to_dict())
        if self.meta:
            d["meta"] = self.meta
        d["units"] = {u: _nums(v) for u, v in self.units.items()}
        if self.capacity is not None:
            d["capacity"] = _nums(self.capacity.to_dict())
            d["infeasible"] = self.infeasible
        if per_op:
            d["per_op"] = [{k: _num(v) if isinstance(v, (float, np.floating, np.integer)) else v
                            for k, v in row.items()} for row in self.per_op.to_dict("records")]
        return d

    def chrome_trace(self) -> dict[str, Any]:
        """Timeline as Chrome/Perfetto trace JSON: one track per unit, times in microseconds."""
        us = 1e6 / self.clock_hz
        units = sorted(self.per_op["unit"].unique())
        tid = {u: i + 1 for i, u in enumerate(units)}
        events: list[dict[str, Any]] = [
            {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": f"{self.arch}"}}]
        events += [{"ph": "M", "name": "thread_name", "pid": 1, "tid": tid[u], "args": {"name": u}}
                   for u in units]
        for r in self.per_op.itertuples(index=False):
            events.append({
                "ph": "X", "pid": 1, "tid": tid[r.unit], "name": r.op, "cat": r.kind,
                "ts": r.start * us, "dur": r.cycles * us,
                "args": {"segment": r.segment, "repeat": int(r.repeat), "cycles": r.cycles,
                         "stall_cycles": r.stall_cycles, "bound": r.bound},
            })
        return {"traceEvents": events, "displayTimeUnit": "ns",
                "otherData": {"workload": self.workload, "fidelity": self.fidelity,
                              "config_hash": self.config_hash, "accelsim_version": self.version}}


def _nums(d: dict[str, Any]) -> dict[str, Any]:
    """``_num`` applied to the numbers of a (nested) dict; other values kept."""
    return {k: _nums(v) if isinstance(v, dict) else
            _num(v) if isinstance(v, (int, float, np.floating, np.integer))
            and not isinstance(v, bool) else v for k, v in d.items()}


def _num(v: Any) -> Any:
    """JSON-friendly number: ints stay ints, inf becomes None."""
    v = float(v)
    if not math.isfinite(v):
        return None
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


# --------------------------------------------------------------------------- sanity of results

def check_op_runs(workload: str, n: int) -> None:
    """AccelsimError before the engine lays out more than ``MAX_OP_RUNS`` per-op rows."""
    if n > MAX_OP_RUNS:
        raise AccelsimError(f"workload {workload!r} runs {n:,} ops (segment repeat x lowered "
                            f"ops), more than the {MAX_OP_RUNS:,} accelsim simulates at once "
                            f"(MAX_OP_RUNS); lower a segment's repeat or split the workload")


#: per-op columns that must be finite and >= 0 (times in cycles, work, bytes)
_NONNEGATIVE = ("start", "end", "cycles", "compute_cycles", "stall_cycles", "unit_cycles",
                "macs", "flops", "dram_read_bytes", "dram_write_bytes", "sram_read_bytes",
                "sram_write_bytes", "buffer_read_bytes", "buffer_write_bytes")
_OUT_OF_RANGE = ("a size or rate far out of range (a clock, bandwidth, SRAM size, PE count or "
                 "op dimension; see 'Input bounds' in docs/engine.md)")
_OVERFLOW = "an overflow in the model (op dimensions or repeats too large)"


def check_result(res: SimResult) -> SimResult:
    """The last stage of every simulation: each reported quantity (latency, cycles, work,
    bytes, energy) is finite and non-negative, or an AccelsimError names the quantity and the
    likely cause, so a corrupt number never reaches a table, a store or a Pareto front.
    Energy (and area) may be NaN where a unit or memory declares it unknown
    (``CostReport.energy_known``). Returns ``res``."""
    def fail(what: str, value: Any, cause: str) -> AccelsimError:
        return AccelsimError(f"simulating {res.workload!r} on {res.arch!r} gave {what} = "
                             f"{value!r}, which is not a valid result (likely cause: {cause}); "
                             f"nothing is reported")

    def check(what: str, v: float, tol: float = 0.0) -> None:
        if math.isnan(v) or math.isinf(v):
            raise fail(what, v, _OUT_OF_RANGE)
        if v < -tol:
            raise fail(what, v, _OVERFLOW)

    if not (math.isfinite(res.clock_hz) and res.clock_hz > 0):
        raise fail("clock_hz", res.clock_hz, _OUT_OF_RANGE)
    check("cycles", float(res.cycles))
    check("latency_s", res.latency_s)
    if res.cycles > 0 and res.latency_s == 0:
        raise fail("latency_s", 0.0, "a clock so fast that the cycles take no time")
    for name in _NONNEGATIVE if not _columns_ok(res.columns) else ():
        col = res.columns.get(name)
        if col is None or not len(col):
            continue
        col = np.asarray(col, dtype=float)
        finite = np.isfinite(col)
        if not finite.all():
            raise fail(f"{name} of op {_op_at(res, int(np.argmin(finite)))!r}",
                       float(col[~finite][0]), _OUT_OF_RANGE)
        i = int(np.argmin(col))
        scale = float(np.abs(col).max())
        if col[i] < -1e-9 * max(scale, 1.0):  # float rounding aside
            raise fail(f"{name} of op {_op_at(res, i)!r}", float(col[i]), _OVERFLOW)
    work = res.macs + res.flops
    if res.cycles == 0 and work > 0:
        raise fail("cycles", 0.0, f"{work:g} MACs and FLOPs taking no time: an unlimited "
                   f"bandwidth or rate somewhere with a unit that reports no compute cycles")
    for name, v in res.actions.items():
        if not math.isfinite(v):
            raise fail(f"action count {name}", v, _OUT_OF_RANGE)
    energy = res.columns.get("energy_j")
    known = res.cost is None or res.cost.energy_known
    if energy is not None and len(energy):
        e = np.asarray(energy, dtype=float)
        bad = np.isinf(e) | (e < 0) | (np.isnan(e) if known else False)
        if bad.any():
            i = int(np.argmax(bad))
            raise fail(f"energy_j of op {_op_at(res, i)!r}", float(e[i]),
                       _OVERFLOW if e[i] < 0 else _OUT_OF_RANGE)
    if res.cost is not None:
        c = res.cost
        for what, v in (("energy_j", c.energy_j), ("energy_dynamic_j", c.dynamic_j),
                        ("energy_leakage_j", c.leakage_j)):
            if math.isnan(v) and not known:
                continue
            check(what, v)
        if not (math.isnan(c.area_mm2) and c.unmodelled):
            check("area_mm2", c.area_mm2)
    return res


def _columns_ok(columns: dict[str, Any]) -> bool:
    """All ``_NONNEGATIVE`` columns finite and >= 0 (float rounding aside), checked in a few
    array operations; False sends ``check_result`` through the column-by-column check that
    names the first offender (or finds nothing where the columns are ragged or missing)."""
    cols = [columns.get(name) for name in _NONNEGATIVE]
    if any(c is None for c in cols):
        return False
    n = len(cols[0])
    if not n or any(len(c) != n for c in cols):
        return False
    try:
        m = np.array(cols, dtype=float)
    except (TypeError, ValueError):
        return False
    if not np.isfinite(m).all():
        return False
    scale = np.maximum(np.abs(m).max(axis=1), 1.0)
    return bool((m.min(axis=1) >= -1e-9 * scale).all())


def _op_at(res: SimResult, i: int) -> str:
    ops = res.columns.get("op")
    return str(ops[i]) if ops is not None and 0 <= i < len(ops) else f"#{i}"
