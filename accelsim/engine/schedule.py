"""The scheduler core: place one segment's ops in time under a policy, at a fidelity.

The same core serves every fidelity, so a schedule depends on the policy, never on the
fidelity: an op becomes ready when its dependencies end; the policy assigns it a unit; a free
unit starts the queued op the policy picks; the fidelity's op body runs while the op holds its
unit. Decisions are taken once per instant, after every event of that instant, in trace order
(SimPy events of priority ``_LATE``), so ties never depend on event order.

Exact fast path: in a chain segment (every op depends on the one before it) no two ops
overlap, so the schedule is each op's time alone (``Fidelity.alone``) back to back, computed
without events. ``fast_path=False`` forces the events
(tests check both give the same numbers, bit for bit).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AccelsimError
from .plan import SegmentPlan
from .policies import DispatchState, make_policy

if TYPE_CHECKING:
    import simpy
    from simpy.events import Event

#: after every NORMAL (0/1) event of the same instant
_LATE = 2


@dataclass(frozen=True)
class Slot:
    """When an op ran (device ticks from the segment's start) and on which candidate."""

    start: float
    end: float
    choice: int

    @property
    def cycles(self) -> float:
        return self.end - self.start


def schedule(seg: SegmentPlan, fidelity: Any, device: Any, fast_path: bool = True
             ) -> list[Slot]:
    """Start, end and candidate of every op of one run of the segment, from tick 0.

    A chain's slots are memoised on its (shared, immutable) plan per fidelity class, policy
    config and unit list: the plan fixes the candidates and the memories' timing, so nothing
    else enters (``_chain`` uses no events and no state beyond these)."""
    chain = fast_path and fidelity.fast_path and seg.chain
    if chain:
        memo = seg.__dict__.setdefault("_chain_slots", {})
        key = (type(fidelity), id(device.policy_config), tuple(device.units))
        hit = memo.get(key)
        if hit is not None and hit[0] is device.policy_config:
            return list(hit[1])
    policy = make_policy(device.policy_config, device)
    state = DispatchState(seg, list(device.units))
    policy.prepare(seg, state)
    if chain:
        slots = _chain(seg, fidelity, policy, state, device)
        if len(memo) >= 8:
            memo.clear()
        memo[key] = (device.policy_config, tuple(slots))
        return slots
    return _events(seg, fidelity, policy, state, device)


def _chain(seg: SegmentPlan, fidelity: Any, policy: Any, state: DispatchState, device: Any
           ) -> list[Slot]:
    """Each op's time alone, back to back: what the events give when nothing overlaps."""
    out: list[Slot] = []
    now = 0.0
    for p in seg.ops:
        state.now = now
        state.ready_at[p.index] = now
        k = policy.assign(p.index, state)
        end = fidelity.finish(p.candidates[k], device.memories, now)
        out.append(Slot(now, end, k))
        now = end
    return out


_LATE_EVENT: list[type] = []  # the _Late class, made on first use (simpy loads with events)


def _late_event_class() -> type:
    """``_Late``: an event processed after every other event of its instant. Built when a
    segment first needs events, so chain-only simulations never import simpy (issue 16)."""
    if not _LATE_EVENT:
        from simpy.events import Event

        class _Late(Event):
            def __init__(self, env: simpy.Environment) -> None:
                super().__init__(env)
                self._ok = True
                self._value = None
                env.schedule(self, priority=_LATE)

        _LATE_EVENT.append(_Late)
    return _LATE_EVENT[0]


class _Priority:
    """A memory port as seen by an op holding a reservation on it: its transfers are the
    port's priority transfers (``FairShareBandwidth.transfer`` / ``BankPort.transfer``)."""

    def __init__(self, port: Any) -> None:
        self._port = port

    def transfer(self, *args: Any) -> Any:
        return self._port.transfer(*args, priority=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


def _events(seg: SegmentPlan, fidelity: Any, policy: Any, state: DispatchState,
            device: Any) -> list[Slot]:
    from .resources import Environment
    _Late = _late_event_class()
    env = Environment()
    ports = fidelity.make_ports(env, device)
    ops = seg.ops
    waiting = [len(set(p.deps)) for p in ops]
    children: list[list[int]] = [[] for _ in ops]
    for p in ops:
        for d in set(p.deps):
            children[d].append(p.index)
    slots: list[Slot | None] = [None] * len(ops)
    from .policies import Policy
    claims_of = policy.port_claims if type(policy).port_claims is not Policy.port_claims \
        else None
    fresh: list[int] = []  # ready since the last decision
    pending = [False]

    def decide(_event: Event | None = None) -> None:
        pending[0] = False
        state.now = env.now
        for i in sorted(fresh):
            state.ready_at[i] = env.now
            state.enqueue(i, policy.assign(i, state))
        fresh.clear()
        for unit in state.unit_rank:
            if not state.idle(unit):
                continue
            i = policy.pick(unit, state)
            if i is None and not state.queues[unit]:
                moved = policy.redispatch(unit, state)
                if moved is not None:
                    state.move(*moved)
                    i = policy.pick(unit, state)
            if i is not None:
                state.start(i)
                env.process(run(i))

    def later() -> None:
        if not pending[0]:
            pending[0] = True
            _Late(env).callbacks.append(decide)

    def run(i: int):
        cand = state.cand(i)
        start = env.now
        claims = [] if claims_of is None else [
            (ports[m], share) for m, share in claims_of(i, state).items()
            if ports.get(m) is not None and hasattr(ports[m], "reserve")]
        mine = ports
        if claims:   # a priority share while the op runs (port_claims), its bytes first
            mine = dict(ports)
            for m in claims_of(i, state):
                if ports.get(m) is not None and hasattr(ports[m], "reserve"):
                    mine[m] = _Priority(ports[m])
            for port, share in claims:
                port.reserve(share)
        yield from fidelity.body(env, cand, mine, device.memories)
        for port, share in claims:
            port.release(share)
        slots[i] = Slot(start, env.now, state.choice[i])
        state.now = env.now
        state.finish(i)
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                fresh.append(c)
        later()

    fresh.extend(p.index for p in ops if not p.deps)
    decide()
    env.run()
    if any(s is None for s in slots):
        stuck = [ops[i].op.name for i, s in enumerate(slots) if s is None]
        raise AccelsimError(f"segment {seg.segment.name!r}: ops never ran under policy "
                            f"{type(policy).__name__} (gated forever?): {', '.join(stuck[:5])}")
    return slots  # type: ignore[return-value]
