"""``tile``: one transfer and one compute step per tile, two buffers per op.

Tile i+1's transfer (its reads plus tile i's writes) moves on each memory it uses while tile i
computes, if the unit double-buffers; the op ends after the last tile's compute, its pipeline
tail and its final writes. Memories an op uses transfer in parallel. Transfers of overlapping
ops share each memory's bandwidth fairly (a DRAM controller interleaves their bursts), as at op
fidelity, but tile by tile: a compute-bound op asks for bandwidth only while it has a free
buffer.
"""
from __future__ import annotations

import simpy

from . import FIDELITIES, Fidelity


@FIDELITIES.register("tile")
class TileLevel(Fidelity):
    """Per-tile transfers (fair share per memory) and compute, double-buffered."""

    ports = "fluid"

    def alone(self, cand, memories):
        """The recurrence ``body`` runs, with private ports: tile i loads once tile i-1 has
        loaded and a buffer is free (tile i-2's compute, or i-1's with one buffer), computes
        once loaded and tile i-1 is done; then the tail and the final write."""
        prep = cand.prepared.dense()  # per tile (fold classes expanded)
        t = prep.tiles
        rates = [(memories[m].bytes_per_tick, x, prep.last[m]) for m, x in prep.xfer.items()
                 if not memories[m].unlimited]
        if not rates:
            return prep.compute_ticks()
        c = prep.compute.tolist()
        loads = [[float(x[i]) for _, x, _ in rates] for i in range(t.n)]
        lag = 2 if t.double_buffered else 1
        loaded, ends = 0.0, []
        for i in range(t.n):
            start = max(loaded, ends[i - lag]) if i >= lag else loaded
            loaded = max((start + b / r for (r, _, _), b in zip(rates, loads[i]) if b > 0),
                         default=start)
            ends.append(max(ends[-1], loaded) + c[i] if ends else loaded + c[i])
        now = ends[-1] if ends else 0.0
        if prep.tail:
            now = now + prep.tail
        return max((now + w / r for r, _, w in rates if w > 0), default=now)

    def body(self, env, cand, ports, memories):
        prep = cand.prepared.dense()  # per tile (fold classes expanded)
        t = prep.tiles
        used = [(ports[m], x, prep.last[m]) for m, x in prep.xfer.items()
                if ports.get(m) is not None]
        if not used:  # nothing to contend for: the tiles run back to back
            yield env.timeout(prep.compute_ticks())
            return
        c = prep.compute
        slots = simpy.Container(env, capacity=2, init=2 if t.double_buffered else 1)
        ready = simpy.Container(env, init=0)

        def move(parts):
            flows = [p.transfer(n) for p, n in parts if n > 0]
            if len(flows) == 1:
                yield flows[0]
            elif flows:
                yield env.all_of(flows)

        def loader():
            for i in range(t.n):
                yield slots.get(1)
                yield from move([(p, float(x[i])) for p, x, _ in used])
                yield ready.put(1)

        env.process(loader())
        for i in range(t.n):
            yield ready.get(1)
            yield env.timeout(float(c[i]))
            yield slots.put(1)
        if prep.tail:
            yield env.timeout(prep.tail)
        yield from move([(p, w) for p, _, w in used])
