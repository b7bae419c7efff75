"""Place costed ops in time, at one of three fidelities.

- ``analytical``: no events. Each op takes its unit's closed-form latency with a private DRAM
  port (``TileSchedule.cycles_with_bandwidth``); ops are list-scheduled in DAG order on their
  units. No DRAM contention.
- ``op``: simpy, one process per op. An op holds its unit; its DRAM bytes hold the shared
  DRAM for bytes / bandwidth (FIFO); it ends at the later of its closed-form latency and the
  end of its transfer. A lone op therefore takes exactly its analytical latency.
- ``tile``: simpy, one transfer and one compute step per tile. Tile i+1's transfer (its reads
  plus tile i's writes) queues on the shared DRAM while tile i computes, if the unit double-
  buffers; the op ends after the last tile's compute, its pipeline tail and its final writes.

With unlimited bandwidth every op takes its compute cycles at all three fidelities.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import simpy

from ..errors import AccelsimError
from .plan import PlannedOp, SegmentPlan

FIDELITIES = ("analytical", "op", "tile")


@dataclass(frozen=True)
class OpTiming:
    start: float
    end: float

    @property
    def cycles(self) -> float:
        return self.end - self.start


def schedule(seg: SegmentPlan, fidelity: str, dram_bpc: float) -> list[OpTiming]:
    """Start and end cycle of every op of one run of the segment, starting at cycle 0."""
    if fidelity == "analytical":
        return _analytical(seg, dram_bpc)
    if fidelity in ("op", "tile"):
        return _des(seg, dram_bpc, tiles=fidelity == "tile")
    raise AccelsimError(f"unknown fidelity {fidelity!r}; choose one of {', '.join(FIDELITIES)}")


def _analytical(seg: SegmentPlan, bpc: float) -> list[OpTiming]:
    unit_free: dict[str, float] = {}
    out: list[OpTiming] = []
    for p in seg.ops:
        start = max([out[d].end for d in p.deps] + [unit_free.get(p.unit, 0.0)])
        end = start + p.cost.tiles.cycles_with_bandwidth(bpc)
        unit_free[p.unit] = end
        out.append(OpTiming(start, end))
    return out


def _des(seg: SegmentPlan, bpc: float, tiles: bool) -> list[OpTiming]:
    env = simpy.Environment()
    units = {p.unit: None for p in seg.ops}
    unit_res = {u: simpy.Resource(env, capacity=1) for u in units}
    dram = simpy.Resource(env, capacity=1)
    done = [env.event() for _ in seg.ops]
    timing: list[OpTiming | None] = [None] * len(seg.ops)
    finite = math.isfinite(bpc)

    def transfer(nbytes: float):
        if finite and nbytes > 0:
            with dram.request() as req:
                yield req
                yield env.timeout(nbytes / bpc)

    def run_op_level(p: PlannedOp):
        own = env.timeout(p.cost.tiles.cycles_with_bandwidth(bpc))
        rd, wr = p.cost.tiles.dram_bytes()
        yield env.all_of([own, env.process(transfer(rd + wr))])

    def run_tile_level(p: PlannedOp):
        t = p.cost.tiles
        if not finite:  # nothing to contend for: the tiles run back to back
            yield env.timeout(t.compute_cycles())
            return
        xfer = t.transfers()
        slots = simpy.Container(env, capacity=2, init=2 if t.double_buffered else 1)
        ready = simpy.Container(env, init=0)

        def loader():
            for i in range(t.n):
                yield slots.get(1)
                yield from transfer(float(xfer[i]))
                yield ready.put(1)

        env.process(loader())
        for i in range(t.n):
            yield ready.get(1)
            yield env.timeout(float(t.compute[i]))
            yield slots.put(1)
        if t.tail:
            yield env.timeout(t.tail)
        yield from transfer(float(t.write[-1]))

    body = run_tile_level if tiles else run_op_level

    def op_proc(p: PlannedOp):
        if p.deps:
            yield env.all_of([done[d] for d in p.deps])
        with unit_res[p.unit].request() as req:
            yield req
            start = env.now
            yield from body(p)
            timing[p.index] = OpTiming(start, env.now)
        done[p.index].succeed()

    for p in seg.ops:
        env.process(op_proc(p))
    env.run()
    if any(t is None for t in timing):  # cannot happen with deps on earlier ops only
        raise AccelsimError(f"segment {seg.segment.name!r}: some ops never ran (dependency cycle?)")
    return timing  # type: ignore[return-value]
