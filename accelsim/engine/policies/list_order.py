"""``list_order``: every unit starts its ops in trace order (the pre-spine analytical schedule).

Before time starts, ops are assigned in trace order to the candidate unit with the earliest
estimated finish in an estimated list schedule (ties to the unit listed first); each unit then
starts its ops strictly in that order, whatever becomes ready first.
"""
from __future__ import annotations

from typing import Literal

from . import POLICIES, DispatchState, Policy, PolicyConfig
from ..plan import SegmentPlan


class ListOrderConfig(PolicyConfig):
    type: Literal["list_order"] = "list_order"


@POLICIES.register("list_order")
class ListOrder(Policy):
    """Trace order on every unit; assignment fixed before time starts."""

    config_model = ListOrderConfig

    def prepare(self, seg: SegmentPlan, state: DispatchState) -> None:
        free = {u: 0.0 for u in state.unit_rank}
        end: list[float] = []
        self.assigned: dict[int, int] = {}
        self.sequence: dict[str, list[int]] = {u: [] for u in state.unit_rank}
        self.next: dict[str, int] = {u: 0 for u in state.unit_rank}
        for p in seg.ops:
            ready = max((end[d] for d in p.deps), default=0.0)
            k = min(range(len(p.candidates)), key=lambda k: (
                max(ready, free[p.candidates[k].unit]) + p.candidates[k].estimate,
                state.unit_rank[p.candidates[k].unit]))
            c = p.candidates[k]
            end.append(max(ready, free[c.unit]) + c.estimate)
            free[c.unit] = end[-1]
            self.assigned[p.index] = k
            self.sequence[c.unit].append(p.index)

    def assign(self, i: int, state: DispatchState) -> int:
        return self.assigned[i]

    def may_start(self, i: int, state: DispatchState) -> bool:
        unit = state.cand(i).unit
        return self.sequence[unit][self.next[unit]] == i

    def pick(self, unit: str, state: DispatchState) -> int | None:
        i = super().pick(unit, state)
        if i is not None:
            self.next[unit] += 1
        return i
