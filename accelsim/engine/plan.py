"""The mapper's stages before time starts: lower -> map -> place -> cost.

* lower: the lowering passes of the device (target-aware; composite ops expanded last);
* map: every op's candidate units (pins, else every unit that accepts it);
* place: which memory each operand moves through (placement passes, e.g. ``buffer_edges``);
* cost: each candidate's ``OpCost`` and its bytes per memory (``timing.Prepared``), then, for
  this device's memory rates, its closed-form latency, which the fidelity may refine into the
  estimate a scheduling policy assigns by.

The first three stages and the costing do not depend on memory bandwidths or on the policy, so
they are memoised per (trace, device structure): a sweep over bandwidth plans and costs once
and recomputes only the closed forms. Which candidate an op runs on is decided while it is
scheduled (the policy).
"""
from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..arch.base import OpCost
from ..workload.ops import Op
from ..workload.trace import Segment, Trace
from .mapping import candidate_units
from .fidelities import Fidelity
from .passes import passes_for
from .timing import Prepared, memory_ids


@dataclass(frozen=True, eq=False)
class Candidate:
    """One unit an op may run on, costed there."""

    unit: str
    cost: OpCost
    #: bytes per tile per memory and compute in device ticks
    prepared: Prepared
    #: closed-form latency with private memory ports (device ticks)
    closed_form: float
    #: the fidelity's latency estimate, used by scheduling policies (device ticks)
    estimate: float

    @property
    def totals(self) -> dict[str, tuple[float, float]]:
        """Per memory: total (bytes read, bytes written)."""
        return self.prepared.totals

    @property
    def ticks_per_cycle(self) -> float:
        """Device ticks per cycle of the unit's clock."""
        return self.prepared.ticks_per_cycle


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
    #: the part shared by every plan of this trace on devices of the same structure (memos)
    static: Any = field(default=None, compare=False, repr=False)

    @cached_property
    def chain(self) -> bool:
        """No two ops can overlap in time: every op depends on the op before it."""
        return all(p.index - 1 in p.deps for p in self.ops[1:])


@dataclass(frozen=True, eq=False)
class _StaticOp:
    op: Op
    deps: tuple[int, ...]
    placement: dict[str, str]
    #: (unit, cost, prepared) per candidate unit
    options: tuple[tuple[str, OpCost, Prepared], ...]


@dataclass(frozen=True, eq=False)
class _StaticSegment:
    segment: Segment
    ops: tuple[_StaticOp, ...]
    #: the assembler's memo of columns that only depend on this and the chosen units
    columns: dict = field(default_factory=dict)
    #: the plans of the trace these segments belong to, by memory timing ids (``plan``)
    plans: dict = field(default_factory=dict)


def lower(device: Any, trace: Trace) -> Trace:
    """Stage 1: the device's lowering passes over every segment."""
    passes = passes_for(device, "lower")
    segments = []
    for seg in trace.segments:
        for p in passes:
            seg = p.run(seg)
        segments.append(seg)
    return Trace(trace.name, tuple(segments), trace.meta)


#: plans kept per trace's static segments (one per memory timing: a bandwidth sweep point)
_PLANS_MAX = 8


def plan(device: Any, trace: Trace, fidelity: Any = None) -> list[SegmentPlan]:
    """Lowered, mapped, placed and costed segments of ``trace`` on ``device``.

    Where the fidelity's estimate is the closed form, a plan depends only on the static
    segments and the memories' timing: it is memoised with the static segments (in the
    first one's ``plans``, so it lives as long as they do) by the device's memory timing ids.
    Plans are immutable, so calls share them."""
    statics = _static(device, trace)
    if not statics or (fidelity is not None
                       and type(fidelity).estimate is not Fidelity.estimate):
        return _plan(device, statics, fidelity)
    memo, key = statics[0].plans, memory_ids(device)
    hit = memo.get(key)
    if hit is not None and len(hit) == len(statics) and \
            all(p.static is st for p, st in zip(hit, statics)):
        return list(hit)
    out = _plan(device, statics, None)
    if len(memo) >= _PLANS_MAX:
        memo.clear()
    memo[key] = out
    return list(out)


def _plan(device: Any, statics: list["_StaticSegment"], fidelity: Any) -> list[SegmentPlan]:
    mems = device.memories
    out = []
    for st in statics:
        ops = []
        for i, so in enumerate(st.ops):
            cands = []
            for unit, cost, prep in so.options:
                closed = prep.closed_form(mems)
                c = Candidate(unit, cost, prep, closed, closed)
                if fidelity is not None:
                    est = fidelity.estimate(c, device)
                    if est != closed:
                        c = Candidate(unit, cost, prep, closed, est)
                cands.append(c)
            ops.append(PlannedOp(i, so.op, so.deps, tuple(cands), so.placement))
        out.append(SegmentPlan(st.segment, tuple(ops), st))
    return out


_STATIC: "OrderedDict[tuple, tuple[Trace, list[_StaticSegment]]]" = OrderedDict()
_STATIC_SIZE = 16


def _static(device: Any, trace: Trace) -> list[_StaticSegment]:
    """Stages 1-4 up to the memory rates, memoised on the trace and the device's structure
    (unit configs and context keys, memory names and kinds, buffer capacities, mapping, clock)."""
    key = (id(trace), structure_key(device))
    hit = _STATIC.get(key)
    if hit is not None and hit[0] is trace:
        _STATIC.move_to_end(key)
        return hit[1]
    lowered = lower(device, trace)
    place = passes_for(device, "place")
    segs = [_static_segment(device, seg, place) for seg in lowered.segments]
    _STATIC[key] = (trace, segs)  # the trace is kept, so its id is not reused while cached
    if len(_STATIC) > _STATIC_SIZE:
        _STATIC.popitem(last=False)
    return segs


#: per-device tokens for structures that cannot be hashed: never reused, where ``id(device)``
#: would be once the device is freed, and a later device would hit its memoised plans
_UNSHARED = itertools.count()


def structure_key(device: Any) -> tuple:
    """Everything planning depends on but the memories' rates (cached on the device)."""
    key = getattr(device, "_structure_key", None)
    if key is None:
        key = (device.config.clock_ghz,
               tuple((n, type(u), u.config, u.context_key()) for n, u in device.units.items()),
               tuple((n, type(m), m.offchip, None if m.offchip else m.capacity_bytes)
                     for n, m in device.memories.items()),
               json.dumps(device.config.mapping.model_dump(mode="json"), sort_keys=True))
        try:
            hash(key)
        except TypeError:  # an unhashable config (e.g. a dict field): never share, with a
            key = ("unshared", next(_UNSHARED))   # token no later device gets (an id would)
        device._structure_key = key
    return key


def _static_segment(device: Any, seg: Segment, place: list) -> _StaticSegment:
    names = seg.resolved_deps()
    index = {op.name: i for i, op in enumerate(seg.ops)}
    deps = [tuple(index[d] for d in names[op.name]) for op in seg.ops]
    placement: dict[int, dict[str, str]] = {}
    for p in place:
        for (j, operand), mem in p.run(seg, deps).items():
            placement.setdefault(j, {})[operand] = mem
    ops = []
    for i, op in enumerate(seg.ops):
        where = placement.get(i, {})
        options = tuple(_option(device, u, op, where) for u in candidate_units(device, op))
        ops.append(_StaticOp(op, deps[i], where, options))
    return _StaticSegment(seg, tuple(ops))


def _option(device: Any, unit: str, op: Op, where: dict[str, str]
            ) -> tuple[str, OpCost, Prepared]:
    """Stage 4 for one (op, unit) up to the memory rates: cost and bytes per memory."""
    cost = device.units[unit].cost(op)
    default, tpc = device.unit_memory(unit), device.ticks_per_cycle(unit)
    key = (default, tuple(sorted(where.items())), tpc)
    prep = cost.memo.get(key)
    if prep is None:
        prep = cost.memo[key] = Prepared.of(cost.tiles, default, where, tpc)
    return unit, cost, prep
