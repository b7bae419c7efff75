"""DRAM actions counted from the traffic, and the components that price them.

What a transfer of R read and W written bytes makes one standard's channels do (the access
patterns of closed_form.py; B = bus bytes x BL, the burst; row = ``row_bytes``):

* ``read_bits`` = 8 R, ``write_bits`` = 8 W;
* bursts = (R + W) / B;
* ``activations`` (rows opened, = row misses under the open-page policy): on a stream
  (``stream`` / ``seq`` / ``seq_rw50``) consecutive addresses fill a row before the next is
  opened, so (R + W) / row; on ``random`` and ``one_bank`` every burst opens its own row, so
  one per burst;
* ``row_hits`` = bursts - activations (column accesses to an already open row);
* ``refreshes``: all-bank refresh is issued every tREFI per rank whether or not data moves, so
  over an elapsed time t: t / (tREFI tCK) x channels x ranks (``refresh_operations``); it is
  a background action of the run, counted once over its wall-clock time (like leakage), not
  per op.

Energy (technology library, ``accelsim/cost/data``): bits at the kind's per-bit figure with
the activation taken out where the cited figure contains it (``read_bit_noact``), each
activation at the kind's ACT+PRE energy (IDD-derived: DRAMsim3 / ramulator2 configs), each
refresh at the kind's IDD5-derived refresh energy (``refresh``). Where the library has no
activation or refresh energy for the kind (HBM3, HBM4: no source), the count is reported but
carries no energy of its own (informational; the per-bit figure is all there is); a standard
without a DRAM kind (LPDDR5, GDDR6) has no cost model at all (energy unknown).
"""
from __future__ import annotations

from ...arch.base import Component
from .standard import Standard

STREAM_PATTERNS = ("stream", "seq", "seq_rw50")
ROW_PER_BURST_PATTERNS = ("random", "one_bank")


def traffic_actions(std: Standard, read_bytes: float, write_bytes: float,
                    pattern: str = "stream") -> dict[str, float]:
    """Action counts of moving these bytes through channels of ``std`` (module docstring)."""
    o = std.organisation
    moved = float(read_bytes) + float(write_bytes)
    bursts = moved / o.burst_bytes
    if pattern in STREAM_PATTERNS:
        acts = moved / o.row_bytes
    elif pattern in ROW_PER_BURST_PATTERNS:
        acts = bursts
    else:
        raise ValueError(f"unknown access pattern {pattern!r}; choose one of "
                         f"{', '.join(STREAM_PATTERNS + ROW_PER_BURST_PATTERNS)}")
    return {"read_bits": 8.0 * read_bytes, "write_bits": 8.0 * write_bytes,
            "activations": acts, "row_hits": max(0.0, bursts - acts)}


def refresh_operations(std: Standard, elapsed_s: float, channels: int) -> float:
    """All-bank refreshes over ``elapsed_s``: elapsed / tREFI x channels x ranks."""
    t = std.timing
    per_channel = elapsed_s * 1e9 / (t.tREFI * t.tCK_ns)
    return per_channel * channels * std.organisation.ranks


def dram_components(kind: str) -> tuple[list[Component], frozenset[str]]:
    """(components pricing a DRAM of ``kind``, its informational actions): the interface
    ('' = the memory's own name), its activations (``.activate``) and refreshes
    (``.refresh``) where the library has them."""
    from ...cost.memory import dram_costs
    costs = dram_costs(kind)
    p = {"kind": kind}
    comps = [Component("", "dram", 1, p, {"read_bits": "read_bit_noact",
                                          "write_bits": "write_bit_noact"})]
    info = {"row_hits"}
    if "activate" in costs:
        comps.append(Component("activate", "dram", 1, p, {"activations": "activate"}))
    else:
        info.add("activations")
    if "refresh" in costs:
        comps.append(Component("refresh", "dram", 1, p, {"refreshes": "refresh"}))
    else:
        info.add("refreshes")
    return comps, frozenset(info)
