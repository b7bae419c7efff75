"""A ``type: dram`` memory at tile fidelity: a bank-aware port serving row bursts (issue 13).

A tile's transfer of n bytes is a contiguous address range, laid out by the standard's
address mapping (``Organisation.address_mapping``, DRAMsim3 field order): the fields below the
channel field make the bytes one channel receives contiguously (``chunk``: row_bytes for
``...chco``, row_bytes x bankgroups for ``...chcobg``, a channel's whole rank x bank space for
``roch...co``), chunks go to the channels round robin. A channel serves its bytes as **row
bursts**: every row_bytes-aligned block it touches is one activation and the column reads of
the bursts it holds. The time of a channel's bursts, in tCK (closed_form.py's terms):

* a full row: ``T_row`` of the ``seq`` closed form (R = row_bytes / B column reads spaced by the
  bank-group-aware tCCD spacing s, activations at most one per tRRD_S and four per tFAW per
  rank, the activation exposed beyond the controller's look-ahead), and at least tRC / banks
  (each bank reopened once per ``banks`` rows);
* a partial row of r bursts: max(r s, the same activation spacing) (its activation costs as
  much as a full row's);
* ``random``: one activation per burst, 1 / the random closed form's rate (bus, tRRD, tFAW,
  banks / tRC, queue depth over the conflict latency); ``one_bank``: max(tRC, tRCD + tRTP + tRP)
  per burst (every read a row miss in one bank);
* a transfer that finds the channel idle (no transfer in flight, and the same op's previous
  transfer on it ended earlier) first waits the closed-row read latency tRCD + CL + Tb: the
  controller's look-ahead hides it only inside a stream.

A lone transfer ends when its busiest channel ends. An op's transfers issued back to back
(each as the previous one ends) are a **run** (``Stream``): the channels work through the run's
bytes at their own pace, the controller's queues holding the next requests, so transfer k ends
when the busiest channel of the run's first k transfers does (misaligned tiles do not pay an
idle channel each). Channels with identical traffic are computed once
(``BankTiming.groups``: the channel holding the first chunk, the one holding the last, and
the rest with the ceiling and with the floor of the chunks per channel): at most four
representative channels whatever the channel count (``busiest_ck`` takes their largest
without building them); ``BankTiming.per_channel`` computes every channel (the test of the
representative scaling).

**Refresh** is a periodic blocker: all-bank refresh takes the channel for tRFC at the end of
every tREFI (from the segment's tick 0), nothing moves then. The port keeps time on the
*available* clock A(t) = t - refreshed time before t; a demand of S available ticks started
at t0 ends at A^-1(A(t0) + S). Over a long stream this is the closed form's (1 - tRFC/tREFI)
factor; a short transfer either misses refresh or waits all of tRFC.

**Sharing**: transfers in flight at once share the busiest channel's time equally
(processor sharing on the available clock: the controller interleaves their row bursts), a
lone transfer takes exactly its demand. ``reserve(share)`` (a PIM op's priority share of a
dual-row-buffer DRAM, policy ``concurrent``) serves the transfers at (1 - shares) of the
available clock while held. Assumed: transfers spread over all channels (true
from channels x chunk bytes up; a smaller transfer keeps the channels it does not touch idle
and its demand is its busiest channel's). Not modelled: read/write turnarounds (tile traffic
is not split by direction here), bank conflicts between concurrent streams, per-pattern
traffic (the tile fidelity merges an op's operands on a memory into one stream).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import simpy
from simpy.events import Event

from .closed_form import _seq_row
from .standard import Standard

#: service left (available ticks) below which a flow counts as done (float residue)
_EPS = 1e-12
SERVICE_PATTERNS = ("seq", "random", "one_bank")
#: row-burst pieces memoised per timing (cleared when full: bounded memory)
_MEMO_MAX = 1 << 16


@dataclass(frozen=True)
class BankTiming:
    """One channel's row-burst costs and refresh windows, in device ticks (module docstring)."""

    standard: Standard
    channels: int
    ticks_per_ck: float
    refresh: bool
    queue_depth: int

    # -- layout ------------------------------------------------------------------------
    @cached_property
    def chunk(self) -> int:
        """Bytes one channel receives contiguously (the fields below ``ch`` in the mapping)."""
        o = self.standard.organisation
        m = o.address_mapping
        fields = [m[i:i + 2] for i in range(0, len(m), 2)]
        size = {"ra": o.ranks, "bg": o.bankgroups, "ba": o.banks_per_group, "ro": o.rows,
                "co": o.row_bytes}
        if "ch" not in fields:
            return o.row_bytes * o.bankgroups * o.banks_per_group * o.ranks
        out = 1
        for f in fields[fields.index("ch") + 1:]:
            out *= size.get(f, 1)
        return out

    # -- costs (tCK) -------------------------------------------------------------------
    @cached_property
    def _seq(self) -> tuple[float, float, float]:
        """(full row tCK, column spacing s, activation floor tCK) of a stream."""
        o, t = self.standard.organisation, self.standard.timing
        row_ck, s, _ = _seq_row(self.standard, self.queue_depth)
        exposed = max(0.0, t.tRCD - (self.queue_depth - 1) * s)
        act = max(t.tFAW / 4 / o.ranks, t.tRRD_S / o.ranks, t.tRC / o.banks) + exposed
        return max(row_ck, t.tRC / o.banks), s, act

    @cached_property
    def burst_ck(self) -> dict[str, float]:
        """tCK per burst of the random and one-bank patterns (closed_form.py's bounds)."""
        o, t = self.standard.organisation, self.standard.timing
        tb, bg = self.standard.burst_ck, o.bankgroups
        trrd = (t.tRRD_L + (bg - 1) * t.tRRD_S) / bg
        latency = t.tRP + t.tRCD + t.CL + tb
        switch = t.tRTRS * (o.ranks - 1) / o.ranks
        random = max(tb + switch, trrd / o.ranks, t.tFAW / 4 / o.ranks, t.tRC / o.banks,
                     latency / self.queue_depth)
        return {"random": random, "one_bank": max(t.tRC, t.tRCD + t.tRTP + t.tRP)}

    @cached_property
    def latency_ticks(self) -> float:
        """Closed-row read latency tRCD + CL + Tb, paid by a transfer on an idle channel."""
        t = self.standard.timing
        return (t.tRCD + t.CL + self.standard.burst_ck) * self.ticks_per_ck

    def piece_ck(self, start: int, end: int) -> float:
        """tCK of one channel's contiguous bytes [start, end) of its address space (stream)."""
        rb, B = self.standard.organisation.row_bytes, self.standard.organisation.burst_bytes
        full_ck, s, act = self._seq
        first, last = start // rb, (end - 1) // rb
        if first == last:
            return max(math.ceil((end - start) / B) * s, act)
        ck = 0.0
        if start % rb:
            ck += max(math.ceil((rb - start % rb) / B) * s, act)
            first += 1
        if end % rb:
            ck += max(math.ceil((end % rb) / B) * s, act)
            last -= 1
        return ck + (last - first + 1) * full_ck

    @cached_property
    def _chunk_ck(self) -> float:
        return self.piece_ck(0, self.chunk)

    # -- one transfer over the channels ------------------------------------------------
    def groups(self, addr: int, nbytes: int) -> list[tuple[int, float]]:
        """(channels, tCK each) of the representative channels of a stream of ``nbytes`` from
        byte ``addr`` (module docstring)."""
        U, C = self.chunk, self.channels
        q0, q1 = addr // U, (addr + nbytes - 1) // U
        n = q1 - q0 + 1
        if n == 1:
            return [(1, self.piece_ck(addr % U, addr % U + nbytes))]
        head = self.piece_ck(addr % U, U)             # chunk q0 (maybe partial)
        tail_end = (addr + nbytes - 1) % U + 1
        tail = self.piece_ck(0, tail_end)             # chunk q1 (maybe partial)
        full = self._chunk_ck
        per, extra = divmod(n, C)        # channels q0 .. q0+extra-1 (mod C) hold per + 1 chunks
        c_head, c_tail = 0, (n - 1) % C  # channel offsets from q0's channel

        def chunks(c: int) -> int:
            return per + (1 if c < extra else 0)

        out: list[tuple[int, float]] = []
        if c_head == c_tail:             # one channel holds both ends
            out.append((1, head + tail + (chunks(0) - 2) * full))
        else:
            out.append((1, head + (chunks(0) - 1) * full))
            out.append((1, tail + (chunks(c_tail) - 1) * full))
        # the other channels: 'extra' channels with per + 1 full chunks, the rest with per
        big = extra - sum(1 for c in {c_head, c_tail} if c < extra)
        small = (C - extra) - sum(1 for c in {c_head, c_tail} if c >= extra)
        if big > 0:
            out.append((big, (per + 1) * full))
        if small > 0 and per > 0:
            out.append((small, per * full))
        return out

    @cached_property
    def _pieces(self) -> dict[tuple[int, int], float]:
        return {}

    def _piece(self, start: int, end: int) -> float:
        """``piece_ck`` memoised (a run's head and its tails repeat)."""
        key = (start, end)
        ck = self._pieces.get(key)
        if ck is None:
            if len(self._pieces) >= _MEMO_MAX:
                self._pieces.clear()
            ck = self._pieces[key] = self.piece_ck(start, end)
        return ck

    def busiest_ck(self, addr: int, nbytes: int) -> float:
        """tCK of the busiest channel of a stream of ``nbytes`` (> 0) from ``addr``: the
        largest of ``groups`` without building them (the tile port asks once per transfer)."""
        U, C = self.chunk, self.channels
        a0 = addr % U
        n = (addr + nbytes - 1) // U - addr // U + 1
        if n == 1:
            return self._piece(a0, a0 + nbytes)
        head = self._piece(a0, U)
        tail = self._piece(0, (addr + nbytes - 1) % U + 1)
        full = self._chunk_ck
        per, extra = divmod(n, C)
        c_tail = (n - 1) % C
        chunks0 = per + (1 if extra else 0)
        if c_tail == 0:
            best = head + tail + (chunks0 - 2) * full
        else:
            best = max(head + (chunks0 - 1) * full,
                       tail + (per + (1 if c_tail < extra else 0) - 1) * full)
        ends_big = (1 if extra else 0) + (1 if 0 < c_tail < extra else 0)
        if extra - ends_big > 0:
            best = max(best, (per + 1) * full)
        elif per > 0 and (C - extra) - (2 - ends_big if c_tail else 1 - ends_big) > 0:
            best = max(best, per * full)
        return best

    def per_channel(self, addr: int, nbytes: int) -> list[float]:
        """tCK of every channel (all simulated: the reference for ``groups``)."""
        U, C = self.chunk, self.channels
        out = [0.0] * C
        a, end = addr, addr + nbytes
        while a < end:
            q = a // U
            b = min(end, (q + 1) * U)
            out[(q - addr // U) % C] += self.piece_ck(a % U, a % U + (b - a))
            a = b
        return out

    def demand(self, addr: int, nbytes: float, pattern: str = "seq") -> float:
        """Available ticks one transfer keeps the channels busy (its busiest channel) on
        ``pattern`` (``SERVICE_PATTERNS``: the tile port streams; the others for tests and
        micro-benchmarks)."""
        if nbytes <= 0:
            return 0.0
        if pattern == "seq":
            ck = self.busiest_ck(addr, int(math.ceil(nbytes)))
        elif pattern in self.burst_ck:
            B = self.standard.organisation.burst_bytes
            ck = math.ceil(math.ceil(nbytes / B) / self.channels) * self.burst_ck[pattern]
        else:
            raise ValueError(f"unknown pattern {pattern!r}; choose one of "
                             f"{', '.join(SERVICE_PATTERNS)}")
        return ck * self.ticks_per_ck

    # -- refresh: the available clock -------------------------------------------------
    @cached_property
    def _refresh(self) -> tuple[float, float] | None:
        """(tREFI, tREFI - tRFC) in ticks, None without refresh."""
        if not self.refresh:
            return None
        t = self.standard.timing
        return t.tREFI * self.ticks_per_ck, (t.tREFI - t.tRFC) * self.ticks_per_ck

    def available(self, when: float) -> float:
        """A(t): ticks before ``when`` in which the channel was not refreshing."""
        r = self._refresh
        if r is None:
            return when
        period, up = r
        k = math.floor(when / period)
        return k * up + min(when - k * period, up)

    def wall(self, avail: float) -> float:
        """A^-1: the earliest tick by which ``avail`` available ticks have passed."""
        r = self._refresh
        if r is None or avail <= 0:
            return avail
        period, up = r
        k = math.ceil(avail / up) - 1
        return k * period + (avail - k * up)

    def end(self, start: float, demand: float) -> float:
        """When a lone transfer of ``demand`` available ticks started at ``start`` ends."""
        end = self.wall(self.available(start) + demand)
        return end if end > start else start   # nothing left to move (inside a refresh)


class Stream:
    """One op's transfers through one DRAM, in order: consecutive addresses from an aligned
    base (the op's tiles), the current run of back-to-back transfers and when the last ended.

    Within a run (each transfer issued as the previous one ends) the channels work through
    the run's bytes at their own pace (the controller's queues hold the stream's next
    requests), so transfer k ends when the busiest channel of the run's first k transfers
    does: its demand is busiest(run through k) - busiest(run through k - 1). A single
    transfer, or the first of a run, costs its own busiest channel."""

    __slots__ = ("addr", "last_end", "run_start", "run_bytes", "run_ck")

    def __init__(self) -> None:
        self.addr = 0
        self.last_end: float | None = None
        self.run_start = 0
        self.run_bytes = 0
        self.run_ck = 0.0


def stream_demand(timing: BankTiming, stream: Stream, nbytes: float, now: float,
                  busy: bool) -> float:
    """Demand (available ticks) of the stream's next transfer of ``nbytes`` issued at ``now``
    (``busy``: other transfers in flight on the port); advances the stream."""
    n = int(math.ceil(nbytes))
    gap = stream.last_end is None or now > stream.last_end
    if gap:   # a new run: the channels start from this transfer
        stream.run_start, stream.run_bytes, stream.run_ck = stream.addr, 0, 0.0
    stream.run_bytes += n
    ck = timing.busiest_ck(stream.run_start, stream.run_bytes)
    d = (ck - stream.run_ck) * timing.ticks_per_ck
    stream.run_ck = ck
    stream.addr = (stream.addr + n) % (timing.chunk * timing.channels)
    if gap and not busy:
        d += timing.latency_ticks
    return d


class _Xfer(Event):
    """A transfer on a ``BankPort``: succeeds when its demand has been served."""

    __slots__ = ("stream", "left", "priority")

    def __init__(self, env: simpy.Environment, stream: Stream, demand: float,
                 priority: bool = False) -> None:
        super().__init__(env)
        self.stream = stream
        self.left = demand
        self.priority = priority


class BankPort:
    """The SimPy port of a ``type: dram`` memory at tile fidelity (module docstring): a
    transfer starts when asked (the controller queues its bursts) and its event succeeds when
    its demand has been served."""

    def __init__(self, env: Any, timing: BankTiming) -> None:
        """``env``: an ``engine.resources.Environment`` (events at absolute times)."""
        self._env = env
        self.timing = timing
        self.active: list[_Xfer] = []
        self.reserved: list[float] = []   # priority shares held off the top (``reserve``)
        self._last_a = timing.available(env.now)
        self._wake: Event | None = None

    def stream(self) -> Stream:
        return Stream()

    def transfer(self, nbytes: float, stream: Stream, priority: bool = False) -> _Xfer:
        """Move ``nbytes`` as ``stream``'s next transfer (``priority``: the bytes of an op
        holding a reservation, served before the others, which wait meanwhile)."""
        env = self._env
        now = env.now
        busy = bool(self.active)
        if busy:
            self._settle()
        else:
            self._last_a = self.timing.available(now)
        x = _Xfer(env, stream, stream_demand(self.timing, stream, nbytes, now, busy),
                  priority)
        self.active.append(x)
        self._reschedule()
        return x

    def reserve(self, share: float) -> None:
        """Serve the transfers at (1 - share) of the available clock until ``release``."""
        if not 0.0 <= share < 1.0:
            raise ValueError(f"a reserved share is in [0, 1), got {share!r}")
        self._settle()
        self.reserved.append(share)
        self._reschedule()

    def release(self, share: float) -> None:
        self._settle()
        self.reserved.remove(share)
        self._reschedule()

    def _served(self) -> list[_Xfer]:
        """The transfers being served: the priority ones while any is in flight, else all."""
        if not self.reserved:
            return self.active
        prio = [x for x in self.active if x.priority]
        return prio or self.active

    @property
    def _speed(self) -> float:
        """Share of the available clock the transfers get: the product of (1 - share), as
        ``engine.resources.FairShareBandwidth.budget``."""
        left = 1.0
        for share in self.reserved:
            left *= 1.0 - share
        return left

    def _settle(self) -> None:
        a = self.timing.available(self._env.now)
        if self.active and a > self._last_a:
            served = self._served()
            share = (a - self._last_a) / len(served)
            if self.reserved and served is self.active:
                share *= self._speed
            for x in served:
                x.left -= share
        self._last_a = a

    def _reschedule(self) -> None:
        if self._wake is not None:
            self._wake.callbacks = []
            self._wake = None
        active = self.active
        if active:
            served = self._served()
            if len(served) == 1:
                a_next = self._last_a + served[0].left
            else:
                a_next = self._last_a + min(x.left for x in served) * len(served)
            if self.reserved and served is active:
                a_next = self._last_a + (a_next - self._last_a) / self._speed
            wake = self._wake = Event(self._env)
            wake._ok, wake._value = True, None
            self._env.schedule_at(wake, self.timing.wall(a_next))
            wake.callbacks.append(self._on_wake)

    def _on_wake(self, _event: Event) -> None:
        self._wake = None
        self._settle()
        now = self._env.now
        tol = _EPS * max(1.0, self._last_a)
        done = [x for x in self.active if x.left <= tol]
        for x in done:
            self.active.remove(x)
            x.stream.last_end = now
            x.succeed()
        self._reschedule()
