"""Closed forms of one DRAM channel under an open-page policy: sustained bandwidth per access
pattern and idle read latency, from the standard's timings (in tCK; Tb = BL / beats per tCK,
the bus time of one burst of B = bus bytes x BL).

Access patterns (the micro-benchmarks of ``accelsim dram``):

* ``seq``: reads of consecutive addresses. With columns lowest in the address mapping a row's
  R = row_bytes / B bursts go to one bank back to back, and consecutive rows to other banks
  and bank groups. Bursts of one row are spaced max(Tb, tCCD_L) (same bank group); bursts of
  two rows in different bank groups can alternate at max(Tb, tCCD_S, tCCD_L / 2). The
  controller's in-order queue (``queue_depth`` requests) spans queue_depth B / row_bytes rows:
  at two or more, g = min(bankgroups, that) rows alternate throughout, s = max(Tb, tCCD_S,
  tCCD_L / g); below two, only a row's first and last queue_depth - 1 bursts overlap its
  neighbours (min(2 (queue_depth - 1), R) bursts at the alternating spacing, the rest at
  tCCD_L). With bank groups below the column in the mapping (``...cobg``) every burst
  alternates, g = bankgroups. The next row is activated as soon as its first read enters the
  queue, queue_depth - 1 bursts ahead, so max(0, tRCD - (queue_depth - 1) s) is exposed per
  row; activations are at most 4 per tFAW and one per tRRD_S per rank:
  T_row = max(R Tb, column time, tFAW / 4 / ranks, tRRD_S / ranks) + exposed;
  bandwidth = R B / T_row.
* ``seq_rw50``: the same stream, every other request a write. The controller serves a queue
  of reads, then a write buffer of writes (``queue_depth`` each, as DRAMsim3's 32-entry
  queues), so every 2 x queue_depth bursts pay one read -> write turnaround
  (CL + Tb - CWL + tRTRS) and one write -> read (CWL + Tb + tWTR_L) on top of the stream's
  spacing.
* ``random``: each read opens a row in a random bank of a random rank (an ACT, a read, a PRE).
  Rate = min(1 / (Tb + tRTRS (ranks - 1) / ranks) (bus, with rank switches),
  ranks / tRRD (tRRD_L with probability 1/bankgroups, else tRRD_S), 4 ranks / tFAW,
  banks / tRC (each bank busy for tRC per access), queue_depth / L_conflict (Little's law on
  the controller's queue)).
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
    """(tCK per row, mean burst spacing, bound) of a read stream (module docstring)."""
    o, t = std.organisation, std.timing
    tb = std.burst_ck
    bursts = o.row_bytes / o.burst_bytes
    rows_in_queue = queue_depth * o.burst_bytes / o.row_bytes
    solo_s = max(tb, t.tCCD_L)                       # one row alone: same bank group
    if o.address_mapping.endswith("bg"):   # bank groups below the column: bursts alternate
        g = o.bankgroups
    else:
        g = min(o.bankgroups, max(1, int(rows_in_queue + 1e-9)))
    pair_s = max(tb, t.tCCD_S, t.tCCD_L / max(g, 2))
    if g >= 2:
        column, how = bursts * pair_s, f"column spacing (tCCD over {g} bank groups)"
    else:   # the queue spans one row: only its head and tail interleave with the neighbours
        overlap = min(2 * (queue_depth - 1), bursts)
        column = overlap * pair_s + (bursts - overlap) * solo_s
        how = "column spacing (tCCD_L within a row, tCCD_S across the queue's two rows)"
    s = column / bursts
    # the next row (another bank) is activated as soon as its first read enters the queue,
    # queue_depth - 1 bursts before it is needed
    exposed = max(0.0, t.tRCD - (queue_depth - 1) * s)
    terms = {"bus": bursts * tb, how: column, "activations (tFAW)": t.tFAW / 4 / o.ranks,
             "activations (tRRD)": t.tRRD_S / o.ranks}
    bound = max(terms, key=terms.get)
    row_ck = terms[bound] + exposed
    if exposed:
        bound += " + exposed activation"
    return row_ck, s, bound


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
        turn = (t.CL + tb - t.CWL + t.tRTRS) + (t.CWL + tb + t.tWTR_L)
        bursts = 2 * queue_depth       # a queue of reads, then a write buffer of writes
        per_ck = bursts * B / (bursts * row_ck / (o.row_bytes / B) + turn)
        bound = f"{bound} + read/write turnarounds every {queue_depth} reads and writes"
    elif pattern == "random":
        bg = o.bankgroups
        trrd = (t.tRRD_L + (bg - 1) * t.tRRD_S) / bg
        latency = t.tRP + t.tRCD + t.CL + tb
        switch = t.tRTRS * (o.ranks - 1) / o.ranks   # a random rank: switches on the bus
        rates = {"bus": 1 / (tb + switch), "activations (tRRD)": o.ranks / trrd,
                 "activations (tFAW)": 4 * o.ranks / t.tFAW,
                 "banks busy (tRC)": o.banks / t.tRC,
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
