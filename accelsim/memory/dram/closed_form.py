"""Closed forms of one DRAM channel under an open-page policy: sustained bandwidth per access
pattern and idle read latency, from the standard's timings (in tCK; Tb = BL / beats per tCK,
the bus time of one burst of B = bus bytes x BL).

Access patterns (the micro-benchmarks of ``accelsim dram``):

* ``seq``: reads of consecutive addresses. With columns lowest in the address mapping a row's
  R = row_bytes / B bursts go to one bank back to back, and consecutive rows to other banks
  and bank groups. The controller's queue (``queue_depth`` requests) spans
  g = min(bankgroups, floor(queue_depth B / row_bytes)) rows (at least 1), whose bursts it
  can alternate: s = max(Tb, tCCD_S, tCCD_L / g) (g = 1: tCCD_L, same bank group); with bank
  groups below the column in the mapping (``...cobg``) every burst alternates, g = bankgroups.
  The next
  row is activated as soon as its first read enters the queue, queue_depth - 1 bursts ahead,
  so max(0, tRCD - (queue_depth - 1) s) is exposed per row; activations are at most 4 per
  tFAW and one per tRRD_S: T_row = max(R Tb, R s, tFAW / 4, tRRD_S) + exposed.
  Bandwidth = R B / T_row.
* ``seq_rw50``: the same stream, every other request a write. The controller drains writes in
  batches of ``write_batch`` (a queue's worth): each read/write switch costs the bus
  turnaround, read -> write CL + Tb + 2 - CWL beyond the burst and write -> read
  CWL + Tb + tWTR_L; per batch of 2 x write_batch bursts the time is their bursts at the seq
  spacing plus the two turnarounds.
* ``random``: each read opens a row in a random bank (an ACT, a read, a PRE). Rate
  = min(1 / Tb (bus), 1 / tRRD (tRRD_L with probability 1/bankgroups, else tRRD_S),
  4 / tFAW, banks / tRC (each bank busy for tRC per access), queue_depth / L_conflict (Little's
  law on the controller's queue)).
* ``one_bank``: every read to one bank, each to another row: one access per
  max(tRC, tRCD + tRTP + tRP).

Refresh (``refresh=True``): all-bank refresh blocks the channel for tRFC every tREFI, so every
rate is scaled by (1 - tRFC / tREFI).

Idle read latency (one isolated read, no queueing): row hit CL + Tb; closed row tRCD + CL + Tb;
row conflict tRP + tRCD + CL + Tb.
"""
from __future__ import annotations

from dataclasses import dataclass

from .standard import Standard

PATTERNS = ("seq", "seq_rw50", "random", "one_bank")
LATENCY_CASES = ("row_hit", "closed_row", "conflict")
QUEUE_DEPTH = 32     # DRAMsim3's default trans_queue_size (requests)


@dataclass(frozen=True)
class Sustained:
    """One channel's sustained bandwidth on a pattern, and what bounds it."""

    pattern: str
    gb_s: float
    peak_gb_s: float
    bound: str

    @property
    def efficiency(self) -> float:
        return self.gb_s / self.peak_gb_s


def _refresh_factor(std: Standard, refresh: bool) -> float:
    t = std.timing
    return 1.0 - t.tRFC / t.tREFI if refresh else 1.0


def _seq_row(std: Standard, queue_depth: int) -> tuple[float, float, str]:
    """(tCK per row, burst spacing, bound) of a read stream (module docstring)."""
    o, t = std.organisation, std.timing
    tb = std.burst_ck
    bursts = o.row_bytes / o.burst_bytes
    rows_in_queue = queue_depth * o.burst_bytes / o.row_bytes
    if o.address_mapping.endswith("bg"):   # bank groups below the column: bursts alternate
        g = o.bankgroups
    else:
        g = min(o.bankgroups, max(1, int(rows_in_queue + 1e-9)))
    s = max(tb, t.tCCD_S, t.tCCD_L / g)
    # the next row (another bank) is activated as soon as its first read enters the queue,
    # queue_depth - 1 bursts before it is needed
    exposed = max(0.0, t.tRCD - (queue_depth - 1) * s)
    terms = {"bus": bursts * tb, f"column spacing (tCCD over {g} bank group(s))": bursts * s,
             "activations (tFAW)": t.tFAW / 4, "activations (tRRD)": float(t.tRRD_S)}
    bound = max(terms, key=terms.get)
    if exposed:
        bound += " + exposed activation"
    return terms[bound] + exposed, s, bound


def sustained(std: Standard, pattern: str, refresh: bool = True,
              queue_depth: int = QUEUE_DEPTH) -> Sustained:
    """Sustained bandwidth of one channel on ``pattern`` (module docstring)."""
    o, t = std.organisation, std.timing
    tb, B = std.burst_ck, o.burst_bytes
    if pattern == "seq":
        row_ck, _, bound = _seq_row(std, queue_depth)
        per_ck = o.row_bytes / row_ck
    elif pattern == "seq_rw50":
        row_ck, s, bound = _seq_row(std, queue_depth)
        batch = max(1, queue_depth // 2)
        turn = (t.CL + tb + 2 - t.CWL) + (t.CWL + tb + t.tWTR_L)
        bursts = 2 * batch
        per_ck = bursts * B / (bursts * row_ck / (o.row_bytes / B) + turn)
        bound = f"{bound} + read/write turnarounds per {batch}-write batch"
    elif pattern == "random":
        bg = o.bankgroups
        trrd = (t.tRRD_L + (bg - 1) * t.tRRD_S) / bg
        latency = t.tRP + t.tRCD + t.CL + tb
        rates = {"bus": 1 / tb, "activations (tRRD)": 1 / trrd,
                 "activations (tFAW)": 4 / t.tFAW, "banks busy (tRC)": o.banks / t.tRC,
                 "queue depth (Little's law)": queue_depth / latency}
        bound = min(rates, key=rates.get)
        per_ck = B * rates[bound]
    elif pattern == "one_bank":
        cycle = max(t.tRC, t.tRCD + t.tRTP + t.tRP)
        per_ck, bound = B / cycle, "one bank (tRC)"
    else:
        raise ValueError(f"unknown pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    gb_s = per_ck / t.tCK_ns * _refresh_factor(std, refresh)
    if refresh:
        bound += "; refresh"
    return Sustained(pattern, gb_s, std.peak_gb_s, bound)


def idle_latency(std: Standard, case: str) -> float:
    """Idle read latency in tCK (module docstring)."""
    t, tb = std.timing, std.burst_ck
    base = t.CL + tb
    if case == "row_hit":
        return base
    if case == "closed_row":
        return t.tRCD + base
    if case == "conflict":
        return t.tRP + t.tRCD + base
    raise ValueError(f"unknown latency case {case!r}; choose one of {', '.join(LATENCY_CASES)}")
