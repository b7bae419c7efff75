"""simulate(arch, trace): plan, schedule each distinct segment once, assemble the result."""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from .. import __version__
from ..arch.base import OpCost
from ..arch.system import Arch
from ..cost.estimator import ArchCost, arch_cost, tokens_of
from ..errors import AccelsimError
from ..workload.trace import Trace
from .plan import SegmentPlan, plan
from .result import PER_OP_COLUMNS, SimResult
from .schedule import FIDELITIES, OpTiming, schedule


def simulate(arch: Arch, workload: Trace, fidelity: str = "op") -> SimResult:
    """Simulate ``workload`` on ``arch`` at ``fidelity`` ('analytical', 'op' or 'tile')."""
    if fidelity not in FIDELITIES:
        raise AccelsimError(f"unknown fidelity {fidelity!r}; choose one of {', '.join(FIDELITIES)}")
    bpc = arch.dram_bytes_per_cycle
    plans = plan(arch, workload)
    pricing = arch_cost(arch)  # energy/area model of the arch (memoised)
    columns = []
    unit_actions: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    op_energy: dict[int, float] = {}  # per distinct OpCost, this call only
    offset = 0.0
    gemm_units: set[str] = set()
    for sp in plans:
        timing = schedule(sp, fidelity, bpc)
        span = max(t.end for t in timing)
        energy = np.array([_op_energy(pricing, p.unit, p.cost, op_energy) for p in sp.ops])
        columns.append(_segment_columns(sp, timing, bpc, offset, span, energy))
        for p in sp.ops:
            ua = unit_actions[p.unit]
            for k, v in p.cost.actions.items():
                ua[k] += v * sp.segment.repeat
            if p.cost.macs:
                gemm_units.add(p.unit)
        offset += span * sp.segment.repeat
    actions = {f"{u}.{k}": v for u, acts in unit_actions.items() for k, v in acts.items()}
    per_op = {k: np.concatenate([c[k] for c in columns]) for k in PER_OP_COLUMNS}
    peak = sum(arch.units[u].peak_macs_per_cycle for u in sorted(gemm_units))
    cost = pricing.report(unit_actions, latency_s=offset / arch.clock_hz,
                          flops=float(per_op["flops"].sum()), tokens=tokens_of(workload.meta))
    return SimResult(
        arch=arch.name, workload=workload.name, fidelity=fidelity, clock_hz=arch.clock_hz,
        cycles=offset, columns=per_op, actions=actions, peak_macs_per_cycle=peak,
        config_hash=arch.config_hash(), version=__version__, cost=cost,
    )


def _op_energy(pricing: ArchCost, unit: str, cost: OpCost, memo: dict[int, float]) -> float:
    """Dynamic energy (J) of one run of an op, memoised per OpCost object within a call."""
    hit = memo.get(id(cost))
    if hit is None:
        hit = memo[id(cost)] = pricing.op_energy_j(unit, cost.actions)
    return hit


def _segment_columns(sp: SegmentPlan, timing: list[OpTiming], bpc: float, offset: float,
                     span: float, energy: np.ndarray) -> dict[str, np.ndarray]:
    """Per-op columns of all ``repeat`` runs of a segment, each run shifted by ``span``."""
    n = sp.segment.repeat
    costs = [p.cost for p in sp.ops]
    start = np.array([t.start for t in timing])
    end = np.array([t.end for t in timing])
    compute = np.array([c.compute_cycles for c in costs])
    cycles = end - start
    work = np.array([c.macs or c.flops for c in costs])
    peak = np.array([c.peak_macs_per_cycle for c in costs])
    dram = np.array([[c.bytes.get(k, 0.0) for k in ("dram_read", "dram_write", "sram_read",
                                                      "sram_write")] for c in costs])
    mem_cycles = dram[:, :2].sum(axis=1) / bpc if math.isfinite(bpc) else np.zeros(len(costs))
    one = {
        "segment": np.array([sp.segment.name] * len(costs), dtype=object),
        "op": np.array([p.op.name for p in sp.ops], dtype=object),
        "kind": np.array([p.op.kind for p in sp.ops], dtype=object),
        "unit": np.array([p.unit for p in sp.ops], dtype=object),
        "start": start, "end": end, "cycles": cycles, "compute_cycles": compute,
        "stall_cycles": cycles - compute,
        "utilization": np.divide(work, cycles * peak, out=np.zeros(len(costs)),
                                 where=cycles * peak > 0),
        "macs": np.array([c.macs for c in costs]), "flops": np.array([c.flops for c in costs]),
        "dram_read_bytes": dram[:, 0], "dram_write_bytes": dram[:, 1],
        "sram_read_bytes": dram[:, 2], "sram_write_bytes": dram[:, 3],
        "bound": np.where(mem_cycles > compute, "memory", "compute").astype(object),
        "energy_j": energy,
    }
    rep = np.repeat(np.arange(n), len(costs))
    out = {k: np.tile(v, n) for k, v in one.items()}
    out["repeat"] = rep
    out["start"] = out["start"] + offset + rep * span
    out["end"] = out["end"] + offset + rep * span
    return out
