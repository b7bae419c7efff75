"""``op``: one process per op; its bytes share each memory's bandwidth fairly (fluid) with the
ops that overlap it in time.

An op's traffic on a memory moves in three phases (``engine.timing.Prepared.phases``): tile 0's reads
(exposed, due at x_0), the body overlapped with compute (due where the last tile's compute and
the pipeline tail begin) and the final write (due at the latency). Each phase is a flow on the memory's fair-share port that
cannot go faster than the op would alone (``engine.resources.FairShareBandwidth``), so a lone op
takes exactly its closed-form latency, and an op overlapping others is slowed by a max-min fair
share where together they want more than the memory has; a phase that ends late delays the
op's later phases by as much.
"""
from __future__ import annotations

from . import FIDELITIES, Fidelity


@FIDELITIES.register("op")
class OpLevel(Fidelity):
    """One process per op; fair-share (fluid) bandwidth between overlapping ops."""

    ports = "fluid"

    def __init__(self) -> None:
        self._phases: dict[int, list] = {}

    def body(self, env, cand, ports, memories):
        from ..resources import wait_until  # simpy: loaded when events run, not at lookup
        start, dur = env.now, cand.closed_form
        ph = self._phases.get(id(cand))
        if ph is None:
            ph = self._phases[id(cand)] = (cand.prepared.phases_memo(memories) if dur > 0
                                              else [])
        late = 0.0  # how much later than alone the op runs, once a phase was slowed
        for begin, end, parts in ph:
            first = start + begin if not late else start + begin + late
            if env.now < first:  # compute before the phase's first byte
                yield wait_until(env, first)
            due = start + end if not late else start + end + late
            flows = [ports[m].transfer(b, due) for m, b in parts.items() if ports.get(m)]
            if len(flows) == 1:
                yield flows[0]
            elif flows:
                yield env.all_of(flows)
            if env.now < due:
                yield wait_until(env, due)
            elif env.now > due:
                late = env.now - (start + end)
        finish = start + dur if not late else start + dur + late
        if env.now < finish:  # compute after the last transfer
            yield wait_until(env, finish)
