"""SimPy resources for memory ports (DESIGN 2.7), each usable and tested on its own.

- ``FairShareBandwidth``: a fluid port of ``rate`` bytes per tick shared max-min fairly by the
  flows in progress. A flow may have a due time (it cannot move its bytes faster than it would
  alone: cap = bytes / (due - start)); the rate is water-filled over the flows (a flow never
  gets more than its cap, the rest is split equally). A flow never slowed down ends exactly at
  its due time, so a lone op takes exactly its closed-form latency. ``reserve(share)`` takes a
  share of the rate off the top for as long as it is held (a PIM op's priority share of a
  dual-row-buffer DRAM, policy ``concurrent``): the flows then split rate x (1 - shares).
- ``FifoBandwidth``: whole transfers served one at a time in request order at the full rate
  (a ``simpy.Resource`` of capacity 1 held for ``bytes / rate``).

Both are ``simpy.resources.base.BaseResource`` subclasses. ``Environment`` adds
``schedule_at`` (an event at an absolute time, so that due times are met to the last bit);
the resources work on a plain ``simpy.Environment`` too.
"""
from __future__ import annotations

import math
from heapq import heappush
from typing import Any, Generator

import simpy
from simpy.core import BoundClass
from simpy.events import NORMAL, Event
from simpy.resources.base import BaseResource, Get

#: relative tolerance below which a slowed flow counts as finished (floating-point residue)
_EPS = 1e-12


class Environment(simpy.Environment):
    """A SimPy environment that can schedule an event at an absolute time."""

    def schedule_at(self, event: Event, when: float, priority: int = NORMAL) -> None:
        heappush(self._queue, (max(when, self._now), priority, next(self._eid), event))


def wait_until(env: simpy.Environment, when: float) -> Event:
    """A triggered event processed at ``when`` (exactly, on an ``Environment``)."""
    ev = Event(env)
    ev._ok, ev._value = True, None
    if isinstance(env, Environment):
        env.schedule_at(ev, when)
    else:
        env.schedule(ev, NORMAL, max(when - env.now, 0.0))
    return ev


class Flow(Event):
    """Request to move ``nbytes``, at most as fast as finishing at ``due`` (None: as fast as the
    port allows); succeeds when the last byte has moved. It starts at once (a port has no
    queue: every flow in progress gets its share), so it is a plain event rather than a SimPy
    ``Put`` with its queue bookkeeping (a third of the op fidelity's scheduling time)."""

    def __init__(self, resource: "FairShareBandwidth", nbytes: float,
                 due: float | None = None, priority: bool = False) -> None:
        if not nbytes > 0:
            raise ValueError(f"a flow moves a positive number of bytes, got {nbytes!r}")
        now, rate = resource._env.now, resource.rate
        self.nbytes = float(nbytes)
        if due is None or not due > now:
            due = now + self.nbytes / rate
        self.due: float = due          # end if never slowed
        self.cap = min(self.nbytes / (due - now), rate)
        self.left = due - now          # nominal ticks left at the cap
        self.speed = 0.0               # allocated rate / cap
        self.slowed = False
        self.priority = priority       # served before the others (``transfer``)
        self.started: float | None = None
        super().__init__(resource._env)
        resource._start(self)

    def finish_time(self, now: float) -> float:
        if not self.slowed:
            return self.due
        return now + self.left / self.speed if self.speed > 0 else math.inf


class _NoGet(Get):
    pass


def water_fill(wants: list[float], budget: float) -> list[float]:
    """Max-min fair split of ``budget``: nobody gets more than it wants, the rest equally
    (in order of increasing want)."""
    if len(wants) == 1:
        return [wants[0] if wants[0] <= budget else budget]
    if sum(wants) < budget * (1.0 - 1e-9):   # everyone gets what it wants (clearly: the
        return list(wants)                   # equal-split test below passes for each)
    out = [0.0] * len(wants)
    order = sorted(range(len(wants)), key=lambda i: wants[i])
    for k, i in enumerate(order):
        share = budget / (len(order) - k)
        out[i] = wants[i] if wants[i] <= share else share
        budget -= out[i]
    return out


class FairShareBandwidth(BaseResource):
    """A memory port of ``rate`` bytes per tick, shared max-min fairly (see module docstring)."""

    PutType = Flow
    GetType = _NoGet
    put = BoundClass(Flow)  # type: ignore[assignment]
    get = BoundClass(_NoGet)  # type: ignore[assignment]

    def __init__(self, env: simpy.Environment, rate: float) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"a fair-share port needs a finite rate > 0, got {rate!r}")
        self.rate = float(rate)
        self.reserved: list[float] = []   # priority shares held off the top (``reserve``)
        self.active: list[Flow] = []
        self._last = env.now
        self._wake: Event | None = None
        super().__init__(env, capacity=math.inf)

    def transfer(self, nbytes: float, due: float | None = None, priority: bool = False
                 ) -> Flow:
        """Start moving ``nbytes`` (due: the absolute time it would end alone). A
        ``priority`` flow (the bytes of an op holding a reservation) is served first, from the
        whole rate; the others split what it leaves, at most rate x (1 - shares)."""
        return self.put(nbytes, due, priority)  # type: ignore[call-arg]

    def reserve(self, share: float) -> None:
        """Take ``share`` (0 <= share < 1) of the rate off the top until ``release(share)``:
        the flows in progress and those that start meanwhile split what is left."""
        if not 0.0 <= share < 1.0:
            raise ValueError(f"a reserved share is in [0, 1), got {share!r}")
        self._settle()
        self.reserved.append(share)
        self._reallocate()

    def release(self, share: float) -> None:
        """Give back a share taken by ``reserve``."""
        self._settle()
        self.reserved.remove(share)
        self._reallocate()

    @property
    def budget(self) -> float:
        """The rate the flows split: all of it unless shares are reserved (then the product
        of (1 - share): each reservation takes its share of what the others leave, > 0)."""
        if not self.reserved:
            return self.rate
        left = 1.0
        for share in self.reserved:   # each takes its share of what the others leave
            left *= 1.0 - share
        return self.rate * left

    def _start(self, event: Flow) -> None:
        self._settle()
        event.started = self._env.now
        self.active.append(event)
        self._reallocate()

    # -- BaseResource hooks (flows bypass the put queue: see ``Flow``) ------------------------
    def _do_put(self, event: Any) -> bool:  # type: ignore[override]
        return True

    def _do_get(self, event: Any) -> bool:  # type: ignore[override]
        return True

    # -- the fluid model -------------------------------------------------------------------
    def _settle(self) -> None:
        """Advance every active flow to now at its current speed."""
        now = self._env.now
        dt = now - self._last
        if dt > 0:
            for f in self.active:
                f.left = f.due - now if not f.slowed else f.left - dt * f.speed
        self._last = now

    def _reallocate(self) -> None:
        """Water-fill the rate over the active flows and schedule the next completion."""
        if not self.reserved and not any(f.priority for f in self.active):
            allocs = water_fill([f.cap for f in self.active], self.rate)
        else:   # priority flows first from the whole rate, the rest from what they leave
            prio = [f for f in self.active if f.priority]
            first = water_fill([f.cap for f in prio], self.rate) if prio else []
            rest = [f for f in self.active if not f.priority]
            left = max(0.0, min(self.budget, self.rate - sum(first)))
            then = water_fill([f.cap for f in rest], left) if rest else []
            by_id = {id(f): a for f, a in zip(prio + rest, first + then)}
            allocs = [by_id[id(f)] for f in self.active]
        for f, alloc in zip(self.active, allocs):
            f.speed = 1.0 if alloc == f.cap else alloc / f.cap
            if f.speed < 1.0:
                f.slowed = True
        if self._wake is not None:
            self._wake.callbacks = []  # superseded
            self._wake = None
        if self.active:
            now = self._env.now
            when = min(f.finish_time(now) for f in self.active)
            if when < math.inf:   # else a release or a new flow reallocates
                self._wake = wait_until(self._env, when)
                self._wake.callbacks.append(self._on_wake)

    def _on_wake(self, _event: Event) -> None:
        self._wake = None
        self._settle()
        now = self._env.now
        done = [f for f in self.active
                if (now >= f.due if not f.slowed else f.left <= _EPS * max(1.0, now))]
        for f in done:
            self.active.remove(f)
            f.succeed()
        self._reallocate()

    def allocation(self) -> dict[int, float]:
        """Current bytes per tick of each active flow (by id), for tests and traces."""
        return {id(f): f.speed * f.cap for f in self.active}


class FifoBandwidth(simpy.Resource):
    """A memory port that serves whole transfers one at a time in request order."""

    def __init__(self, env: simpy.Environment, rate: float) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"a FIFO port needs a finite rate > 0, got {rate!r}")
        self.rate = float(rate)
        super().__init__(env, capacity=1)

    def transfer(self, nbytes: float) -> Generator[Event, Any, None]:
        """Process body: wait for the port, then hold it for ``nbytes / rate`` ticks."""
        with self.request() as req:
            yield req
            yield self._env.timeout(nbytes / self.rate)
