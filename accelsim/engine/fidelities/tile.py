"""``tile``: one transfer and one compute step per tile, two buffers per op.

Tile i's transfer (its reads plus tile i-1's writes) starts once tile i-1 has loaded and a
buffer is free (tile i-2's compute has ended, or tile i-1's with one buffer); tile i computes
once loaded and tile i-1 is done; the op ends after the last tile's compute, its pipeline tail
and its final writes. Memories an op uses transfer in parallel. Only transfers contend (the
op holds its unit), so compute ends are computed, not simulated: one process per op whose
events are its transfers.

Each memory's port is its ``resource(env, 'tile')``: a fair share of the bandwidth between the
transfers in flight (a DRAM controller interleaves their bursts) for most memories; for
``type: dram`` the bank-aware port of ``memory/dram/bank_resource.py`` (row bursts,
activations under tRRD/tFAW, refresh as a periodic blocker, one representative channel per
group of identical channels), where each op's transfers are one stream of consecutive
addresses (``Stream``).
"""
from __future__ import annotations

from . import FIDELITIES, Fidelity


@FIDELITIES.register("tile")
class TileLevel(Fidelity):
    """Per-tile transfers (fair share or bank-aware per memory) and compute, double-buffered."""

    ports = "tile"

    def alone(self, cand, memories):
        return self.finish(cand, memories, 0.0)

    def finish(self, cand, memories, start):
        """The recurrence ``body`` runs, without contention, in absolute ticks from ``start``
        (refresh windows of a DRAM are fixed in time): the same arithmetic as the events."""
        from ...memory.dram.bank_resource import Stream, stream_demand
        prep = cand.prepared.dense()  # per tile (fold classes expanded)
        t = prep.tiles
        movers = []   # (bytes per tick or None, bank timing or None, stream, xfer, last write)
        for m, x in prep.xfer.items():
            mem = memories[m]
            if mem.unlimited:
                continue
            bank = getattr(mem, "tile_timing", None)   # what its resource(env, 'tile') follows
            movers.append((mem.bytes_per_tick, bank, Stream() if bank else None, x.tolist(),
                           prep.last[m]))
        if not movers:
            return start + prep.compute_ticks()
        if all(mv[1] is None for mv in movers) and start:
            # nothing depends on the absolute time: from 0, then shifted (the chain's rounding)
            return start + self.finish(cand, memories, 0.0)

        def move(now, sizes):
            end = now
            for (r, bank, st, _, _), b in zip(movers, sizes):
                if b <= 0:
                    continue
                if bank is None:
                    e = now + b / r
                else:
                    e = bank.end(now, stream_demand(bank, st, b, now, False))
                    st.last_end = e
                end = e if e > end else end
            return end

        c = prep.compute.tolist()
        lag = 2 if t.double_buffered else 1
        loaded, ends = start, []
        for i in range(t.n):
            begin = max(loaded, ends[i - lag]) if i >= lag else loaded
            loaded = move(begin, [mv[3][i] for mv in movers])
            ends.append(max(ends[-1], loaded) + c[i] if ends else loaded + c[i])
        now = ends[-1] if ends else start
        if prep.tail:
            now = now + prep.tail
        return move(now, [mv[4] for mv in movers])

    def body(self, env, cand, ports, memories):
        from ..resources import wait_until   # simpy: loaded only when events run
        prep = cand.prepared.dense()  # per tile (fold classes expanded)
        t = prep.tiles
        used = []   # (port, stream or None, xfer, last write)
        for m, x in prep.xfer.items():
            p = ports.get(m)
            if p is not None:
                used.append((p, p.stream() if hasattr(p, "stream") else None, x.tolist(),
                             prep.last[m]))
        if not used:  # nothing to contend for: the tiles run back to back
            yield env.timeout(prep.compute_ticks())
            return

        def move(sizes):
            flows = [p.transfer(b) if st is None else p.transfer(b, st)
                     for (p, st, _, _), b in zip(used, sizes) if b > 0]
            if len(flows) == 1:
                yield flows[0]
            elif flows:
                yield env.all_of(flows)

        c = prep.compute.tolist()
        lag = 2 if t.double_buffered else 1
        loaded, ends = env.now, []
        for i in range(t.n):
            begin = max(loaded, ends[i - lag]) if i >= lag else loaded
            if env.now < begin:
                yield wait_until(env, begin)
            yield from move([u[2][i] for u in used])
            loaded = env.now
            ends.append(max(ends[-1], loaded) + c[i] if ends else loaded + c[i])
        now = ends[-1] if ends else env.now
        if prep.tail:
            now = now + prep.tail
        if env.now < now:
            yield wait_until(env, now)
        yield from move([u[3] for u in used])
