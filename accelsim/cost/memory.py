"""SRAM (a CACTI-like fitted model) and DRAM (energy per bit by kind).

SRAM, fitted to CACTI 7 at 28 nm (hwcomponents-cacti, 64-bit accesses, 1 KB to 1 MB; the
points are in ``data/constants.csv``):

* read energy of one 64-bit access to a bank of C KB: ``E64(C) = a + b * sqrt(C)`` (the bitline
  and H-tree wires grow with the side of the array, ~sqrt(C)); below 1 KB,
  ``E64(1 KB) * sqrt(C / 1 KB)``. Fitted a = -0.60 pJ, b = 1.30 pJ/sqrt(KB); largest error 8%;
* write energy = read energy x the mean write/read ratio of CACTI's 32 KB and 256 KB points;
* area of a C KB bank: ``A(C) = A1 * C ** g`` (power law, g ~ 0.99: CACTI's area per bit is
  almost constant); leakage per bit: the mean of CACTI's 32 KB and 256 KB points.

Width and banking: an access of W bits (W >= 64) reads W/64 sub-arrays of C*64/(W*banks) KB in
parallel, so energy per bit is ``E64(sub-array) / 64``; ``banks`` further splits the capacity
(an access touches one bank). Sub-arrays are capped at 1 MB (the largest CACTI point, about
where CACTI itself banks): beyond it, the array is split into 1 MB banks and each bit also
crosses a global wire of half the macro's side less half a bank's (``wire`` model).
Area = number of sub-arrays x A(sub-array), so small banks pay their periphery. Energies scale to other nodes with the
Stillmaker-Baas energy factor from 28 nm, areas with the area factor.

DRAM: an energy per bit read or written at the interface, by kind (``memory.dram.kind``); not
scaled with the logic node. Where the library has a row-activation energy (``dram,activate``
rows: one ACT+PRE of a row of ``page_bytes``), streaming is assumed: one activation per full
row moved, i.e. ``activate / (8 x page_bytes)`` per bit. It is added to the per-bit figure only
where that figure excludes activation (``in_access_bit=no``); otherwise it is split out of it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import scaling, techlib

FIT_NODE = 28.0
MAX_BANK_KB = 1024.0


@dataclass(frozen=True)
class SramFit:
    """Fitted SRAM constants at 28 nm (see module docstring)."""

    a_pj: float
    b_pj: float
    write_ratio: float
    area_a1_mm2: float
    area_exp: float
    leak_w_per_bit: float
    max_rel_error: float


@lru_cache(maxsize=1)
def sram_fit() -> SramFit:
    """Least-squares fit (relative errors) of the CACTI points in the library."""
    pts = [(float(e.param("capacity_kb")), e.value) for e in techlib.find("sram", "read_64b")]
    c = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    x = np.c_[np.ones_like(c), np.sqrt(c)]
    (a, b), *_ = np.linalg.lstsq(x / y[:, None], np.ones_like(y), rcond=None)
    err = float(np.max(np.abs(x @ np.array([a, b]) / y - 1)))
    reads = {float(e.param("capacity_kb")): e.value for e in techlib.find("sram", "read_64b")}
    wr = [e.value / reads[float(e.param("capacity_kb"))] for e in techlib.find("sram", "write_64b")]
    ar = [(float(e.param("capacity_kb")), e.value) for e in techlib.find("sram", "area")]
    lc = np.log([p[0] for p in ar])
    g, ln_a1 = np.polyfit(lc, np.log([p[1] for p in ar]), 1)
    leaks = [e.value * 1e-6 / (float(e.param("capacity_kb")) * 8192)
             for e in techlib.find("sram", "leakage")]
    return SramFit(float(a), float(b), float(np.mean(wr)), float(math.exp(ln_a1)), float(g),
                   float(np.mean(leaks)), err)


def read64_pj_28nm(capacity_kb: float) -> float:
    """Energy (pJ, 28 nm) of one 64-bit read of a bank of ``capacity_kb``."""
    f = sram_fit()
    if capacity_kb < 1.0:
        return (f.a_pj + f.b_pj) * math.sqrt(capacity_kb)
    return f.a_pj + f.b_pj * math.sqrt(capacity_kb)


def bank_area_mm2_28nm(capacity_kb: float) -> float:
    """Area (mm^2, 28 nm) of one bank of ``capacity_kb``."""
    f = sram_fit()
    return f.area_a1_mm2 * capacity_kb ** f.area_exp


@dataclass(frozen=True)
class SramGeometry:
    """How a capacity/width/banks request is split: sub-arrays and their size."""

    subarrays: float
    subarray_kb: float
    global_wire_mm: float


def sram_geometry(capacity_bytes: float, width_bits: float, banks: int, node_nm: float
                  ) -> SramGeometry:
    """Sub-array count and size; a global wire when sub-arrays exceed 1 MB (see docstring).

    Beyond 1 MB the sub-array count becomes fractional (banks of exactly 1 MB), so energy and
    area stay continuous in the capacity; the global wire spans half the side of the whole
    macro minus that of one bank.
    """
    words = max(1.0, width_bits / 64.0)
    sub_kb = capacity_bytes / 1024.0 / (banks * words)
    n = banks * words
    wire = 0.0
    if sub_kb > MAX_BANK_KB:
        n *= sub_kb / MAX_BANK_KB
        sub_kb = MAX_BANK_KB
        af = scaling.area_factor(FIT_NODE, node_nm)
        total = n * bank_area_mm2_28nm(sub_kb) * af
        wire = 0.5 * (math.sqrt(total) - math.sqrt(bank_area_mm2_28nm(sub_kb) * af))
    return SramGeometry(n, sub_kb, wire)


def wire_pj_per_bit_mm(node_nm: float) -> float:
    """Energy (pJ) to move one bit 1 mm: activity x capacitance per mm x VDD^2."""
    c = techlib.get("wire", "capacitance").value
    alpha = techlib.get("wire", "activity").value
    return alpha * c * scaling.vdd(node_nm) ** 2


def sram_costs(capacity_bytes: float, width_bits: float, banks: int, node_nm: float
               ) -> dict[str, float]:
    """read_bit / write_bit energy (pJ), area (um^2) and leakage (W) of an SRAM at a node."""
    g = sram_geometry(capacity_bytes, width_bits, banks, node_nm)
    f = sram_fit()
    e_read = read64_pj_28nm(g.subarray_kb) / 64.0 * scaling.energy_factor(FIT_NODE, node_nm)
    e_wire = g.global_wire_mm * wire_pj_per_bit_mm(node_nm)
    area_mm2 = g.subarrays * bank_area_mm2_28nm(g.subarray_kb) \
        * scaling.area_factor(FIT_NODE, node_nm)
    leak = capacity_bytes * 8 * f.leak_w_per_bit * scaling.leakage_factor(FIT_NODE, node_nm)
    return {"read_bit": e_read + e_wire, "write_bit": e_read * f.write_ratio + e_wire,
            "area_um2": area_mm2 * 1e6, "leak_w": leak}


@dataclass(frozen=True)
class DramActivation:
    """Row activation of a DRAM kind: energy of one ACT+PRE, row size, and whether the kind's
    per-bit figure already contains it (then it is split out of it, never added)."""

    energy_pj: float
    page_bytes: float
    in_access_bit: bool

    @property
    def pj_per_bit(self) -> float:
        """Activation energy per bit streamed: one activation per full row (``page_bytes``)."""
        return self.energy_pj / (self.page_bytes * 8.0)


def dram_activation(kind: str) -> DramActivation | None:
    """The library's row activation of ``kind``, or None where it has none."""
    act = techlib.find("dram", "activate", kind=techlib.check_dram_kind(kind))
    if not act:
        return None
    e = act[0]
    return DramActivation(e.value, float(e.param("page_bytes")),
                          e.param("in_access_bit").lower() == "yes")


def dram_costs(kind: str) -> dict[str, float]:
    """Energies (pJ) of a DRAM kind.

    ``read_bit``/``write_bit``: everything one bit streamed costs, activation included (the
    cited per-bit figure, plus the amortised activation where that figure excludes it);
    ``read_bit_noact``/``write_bit_noact``: the same without activation (the figure, less the
    activation share where it contains it), for a memory that counts its activations itself
    (``type: dram``). Where the library has a row activation also ``activate`` (one ACT+PRE)
    and ``activate_bit`` (its share per streamed bit, ``activate / (8 x page_bytes)``), which
    the estimator reports apart as ``dram.activate``; where it has them, ``refresh`` (one
    all-bank refresh of a rank, IDD5-derived) and ``bank_read_bit`` (a column read inside the
    bank by a PIM unit: no I/O, TSV or interposer path; activation excluded).
    """
    k = techlib.check_dram_kind(kind)
    e = techlib.get("dram", "access_bit", kind=k).value
    act = dram_activation(k)
    out = {"read_bit": e, "write_bit": e, "read_bit_noact": e, "write_bit_noact": e}
    if act is not None:
        total = e if act.in_access_bit else e + act.pj_per_bit
        core = e - act.pj_per_bit if act.in_access_bit else e
        out = {"read_bit": total, "write_bit": total, "read_bit_noact": core,
               "write_bit_noact": core, "activate": act.energy_pj,
               "activate_bit": act.pj_per_bit}
    for action in ("refresh", "bank_read_bit"):
        hit = techlib.find("dram", action, kind=k)
        if hit:
            out[action] = hit[0].value
    return out
