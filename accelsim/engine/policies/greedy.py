"""``greedy`` (default): run-time dispatch to the unit that would finish an op first.

When an op becomes ready it goes to the candidate unit with the earliest estimated finish
(``max(now, unit's queued work) + estimate``, the fidelity's latency estimates; ties to the
unit listed first); each unit starts its queued ops in readiness order (ties in trace order).
A unit that falls idle takes over a queued op it can run when it would finish it no later than
the unit it waits for, by the estimates (re-dispatch: estimates ignore contention, so the unit
it waits for is often late). With one capable unit per op this is readiness order, the
pre-spine event-driven schedule.
"""
from __future__ import annotations

from typing import Literal

from . import POLICIES, DispatchState, Policy, PolicyConfig


class GreedyConfig(PolicyConfig):
    type: Literal["greedy"] = "greedy"
    redispatch: bool = True


@POLICIES.register("greedy")
class Greedy(Policy):
    """Earliest estimated finish at ready time; readiness order; idle units take over."""

    config_model = GreedyConfig
    config: GreedyConfig

    def redispatch(self, unit: str, state: DispatchState) -> tuple[int, int] | None:
        if self.config is not None and not self.config.redispatch:
            return None
        # only an op with another candidate can move (skipping the rest changes nothing)
        waiting = [i for u, q in state.queues.items() if u != unit for i in q
                   if len(state.candidates(i)) > 1]
        if not waiting:
            return None
        for i in sorted(waiting, key=lambda i: self.priority(i, state)):
            here = next((k for k, c in enumerate(state.candidates(i)) if c.unit == unit), None)
            if here is None or not state.holds_free(i):
                continue
            there = state.cand(i)
            ahead = [j for j in state.queues[there.unit]
                     if self.priority(j, state) < self.priority(i, state)]
            eta = state.busy_until(there.unit) + sum(state.cand(j).estimate for j in ahead)
            # the other unit's running op may be overdue (busy_until then says now): moving
            # never loses by the estimates when the op finishes here no later than there
            if state.now + state.candidates(i)[here].estimate <= eta + there.estimate:
                return i, here
        return None
