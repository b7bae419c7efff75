"""Mapper: lower the trace, assign every op to a unit, and cost it there.

An op runs on the unit named by its ``unit`` tag if it has one; otherwise on the capable unit
that would finish it earliest given the work already assigned (greedy, deterministic: ties go
to the unit listed first in the YAML).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..arch.base import OpCost
from ..arch.system import Arch
from ..errors import AccelsimError
from ..workload.ops import Op
from ..workload.trace import Segment, Trace


@dataclass(frozen=True)
class PlannedOp:
    index: int
    op: Op
    unit: str
    cost: OpCost
    deps: tuple[int, ...]


@dataclass(frozen=True)
class SegmentPlan:
    segment: Segment
    ops: tuple[PlannedOp, ...]


def plan(arch: Arch, trace: Trace) -> list[SegmentPlan]:
    """Lowered, mapped and costed segments of ``trace`` on ``arch``."""
    return [_plan_segment(arch, s.lowered()) for s in trace.segments]


def _plan_segment(arch: Arch, seg: Segment) -> SegmentPlan:
    deps = seg.resolved_deps()
    index = {op.name: i for i, op in enumerate(seg.ops)}
    load = {name: 0.0 for name in arch.units}
    planned = []
    for i, op in enumerate(seg.ops):
        unit = _choose_unit(arch, op, load)
        cost = arch.units[unit].cost(op)
        load[unit] += cost.compute_cycles
        planned.append(PlannedOp(i, op, unit, cost, tuple(index[d] for d in deps[op.name])))
    return SegmentPlan(seg, tuple(planned))


def _choose_unit(arch: Arch, op: Op, load: dict[str, float]) -> str:
    pinned = dict(op.tags).get("unit")
    if pinned is not None:
        if pinned not in arch.units:
            raise AccelsimError(f"op {op.name!r} asks for unit {pinned!r}, which arch "
                                f"{arch.name!r} lacks; units: {', '.join(arch.units)}")
        return pinned
    capable = [n for n, u in arch.units.items() if u.can_run(op)]
    if not capable:
        hint = "a 'type: vector' unit" if op.category == "vector" else "a GEMM unit such as 'type: systolic_array'"
        raise AccelsimError(f"no unit of arch {arch.name!r} can run op {op.name!r} "
                            f"(kind {op.kind}); add {hint}")
    if len(capable) == 1:
        return capable[0]
    return min(capable, key=lambda n: (load[n] + arch.units[n].cost(op).compute_cycles,
                                       capable.index(n)))
