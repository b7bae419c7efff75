"""The mapper's stages before time starts: lower -> map -> place -> cost.

* lower: the lowering passes of the device (target-aware; composite ops expanded last);
* map: every op's candidate units (pins, else every unit that accepts it);
* place: which memory each operand moves through (placement passes, e.g. ``buffer_edges``);
* cost: each candidate's ``OpCost``, its bytes per memory and its closed-form latency, which
  the fidelity may refine into the estimate a scheduling policy assigns by.

Which candidate an op finally runs on is decided while it is scheduled (the policy).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..arch.base import OpCost
from ..workload.ops import Op
from ..workload.trace import Segment, Trace
from . import timing
from .mapping import candidate_units
from .passes import passes_for


@dataclass(frozen=True, eq=False)
class Candidate:
    """One unit an op may run on, costed there."""

    unit: str
    cost: OpCost
    #: per memory: per-tile bytes read / written
    streams: timing.Streams
    #: per memory: total (bytes read, bytes written)
    totals: dict[str, tuple[float, float]]
    #: device ticks per cycle of the unit's clock
    ticks_per_cycle: float
    #: closed-form latency with private memory ports (device ticks)
    closed_form: float
    #: the fidelity's latency estimate, used by scheduling policies (device ticks)
    estimate: float


@dataclass(frozen=True, eq=False)
class PlannedOp:
    index: int
    op: Op
    deps: tuple[int, ...]
    candidates: tuple[Candidate, ...]
    #: operand -> memory chosen by placement passes (others go to the unit's memory)
    placement: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class SegmentPlan:
    segment: Segment
    ops: tuple[PlannedOp, ...]

    @cached_property
    def chain(self) -> bool:
        """No two ops can overlap in time: every op depends on the op before it."""
        return all(p.index - 1 in p.deps for p in self.ops[1:])


def lower(device: Any, trace: Trace) -> Trace:
    """Stage 1: the device's lowering passes over every segment."""
    passes = passes_for(device, "lower")
    segments = []
    for seg in trace.segments:
        for p in passes:
            seg = p.run(seg)
        segments.append(seg)
    return Trace(trace.name, tuple(segments), trace.meta)


def plan(device: Any, trace: Trace, fidelity: Any = None) -> list[SegmentPlan]:
    """Lowered, mapped, placed and costed segments of ``trace`` on ``device``."""
    lowered = lower(device, trace)
    place = passes_for(device, "place")
    return [_plan_segment(device, seg, place, fidelity) for seg in lowered.segments]


def _plan_segment(device: Any, seg: Segment, place: list, fidelity: Any) -> SegmentPlan:
    names = seg.resolved_deps()
    index = {op.name: i for i, op in enumerate(seg.ops)}
    deps = [tuple(index[d] for d in names[op.name]) for op in seg.ops]
    placement: dict[int, dict[str, str]] = {}
    for p in place:
        for (j, operand), mem in p.run(seg, deps).items():
            placement.setdefault(j, {})[operand] = mem
    planned = []
    for i, op in enumerate(seg.ops):
        where = placement.get(i, {})
        cands = tuple(candidate(device, u, op, where, fidelity)
                      for u in candidate_units(device, op))
        planned.append(PlannedOp(i, op, deps[i], cands, where))
    return SegmentPlan(seg, tuple(planned))


def candidate(device: Any, unit: str, op: Op, where: dict[str, str], fidelity: Any = None
              ) -> Candidate:
    """Stage 4 for one (op, unit): cost, bytes per memory, closed form and estimate."""
    cost = device.units[unit].cost(op)
    s = timing.streams(cost.tiles, device.unit_memory(unit), where)
    tpc = device.ticks_per_cycle(unit)
    closed = timing.closed_form(cost.tiles, s, device.memories, tpc)
    c = Candidate(unit, cost, s, timing.totals(s), tpc, closed, closed)
    if fidelity is not None:
        est = fidelity.estimate(c, device)
        if est != closed:
            c = Candidate(unit, cost, s, c.totals, tpc, closed, est)
    return c
