"""``blocked``: NPU or PIM, never both at once on the same memory (the naive NPU+PIM of NeuPIMs,
ASPLOS'24 Sec 3: one row buffer per bank, so a PIM GEMV and the NPU's reads of the same
channels serialise).

The greedy policy, gated: an op on a PIM unit (a unit with ``pim`` in its categories'
implementation, i.e. ``type: pim_bank``) may start only while no op moving bytes through
that PIM unit's memory runs on another unit, and such an op may start only while no PIM op
runs. ``greedy`` (the default) lets them overlap uncoupled; ``concurrent`` (concurrent.py:
NeuPIMs' dual row buffer, ``dual_row_buffer: true`` on the memory) lets them overlap with PIM
priority, the other traffic derated by the share of activation spacing and command bus the
PIM GEMV holds.
"""
from __future__ import annotations

from typing import Literal

from . import POLICIES, DispatchState, PolicyConfig
from .greedy import Greedy


class BlockedConfig(PolicyConfig):
    type: Literal["blocked"] = "blocked"
    redispatch: bool = True


def _is_pim(cand) -> bool:
    return cand.cost.kernel.startswith("pim ") if cand.cost.kernel else False


def _moves_memory(cand) -> bool:
    return any((t.totals[0] + t.totals[1]) > 0 for t in cand.cost.tiles.traffic)


@POLICIES.register("blocked")
class Blocked(Greedy):
    """Greedy dispatch; PIM ops and memory traffic on other units never overlap."""

    config_model = BlockedConfig
    config: BlockedConfig

    def may_start(self, i: int, state: DispatchState) -> bool:
        me = state.cand(i)
        pim = _is_pim(me)
        for unit, run in state.running.items():
            if run is None or unit == me.unit:
                continue
            other = state.cand(run[0])
            if pim and not _is_pim(other) and _moves_memory(other):
                return False
            if not pim and _is_pim(other) and _moves_memory(me):
                return False
        return True

    def pick(self, unit: str, state: DispatchState) -> int | None:
        """``Policy.pick`` with the gate of ``may_start`` evaluated once per call: what runs
        elsewhere is the same for every op queued here (same result, linear time)."""
        if type(self).may_start is not Blocked.may_start:
            return super().pick(unit, state)
        pim_running = mem_running = False
        for u, run in state.running.items():
            if run is None or u == unit:
                continue
            other = state.cand(run[0])
            if _is_pim(other):
                pim_running = True
            elif _moves_memory(other):
                mem_running = True
        best = None
        for i in state.queues[unit]:
            if not state.holds_free(i):
                continue
            me = state.cand(i)
            if _is_pim(me):
                if mem_running:
                    continue
            elif pim_running and _moves_memory(me):
                continue
            if best is None or self.priority(i, state) < self.priority(best, state):
                best = i
        return best
