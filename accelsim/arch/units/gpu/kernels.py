"""Kernel models of the GPU unit: how long one CUDA kernel of an op takes, and what it moves.

Each model returns a ``Kernel``: per-tile compute (cycles of the SM clock), per-tile bytes of
each operand, a fixed overhead, and a description for the per-op table. The unit turns it into
a tile schedule, so the device's memory times the bytes and the engine overlaps them with the
compute (the larger of compute and memory time, plus the overhead and a little exposure):

* GEMM (C = A B^T per batch element). For each CTA tile (tm x tn) of a documented candidate set
  (``CTA_TILES``), like cuBLAS's heuristic: CTAs = batch ceil(M/tm) ceil(N/tn). With the
  ``waves`` schedule (Ampere-style cuBLAS): when the CTAs do not fill the SMs, split K into
  s = min(floor(SMs / CTAs), floor(K / 512)) chunks; waves = ceil(CTAs s / SMs); compute =
  waves x tm tn ceil(K/s) / (MACs per SM per cycle x
  mma_efficiency x tile rate), where a tile's rate is min(1, (tm tn / (tm + tn)) / 64): the MACs
  it does per operand element it reads from shared memory, against a 128 x 128 tile's (smaller
  tiles starve the tensor cores). Tiles are padded (a wave of partial tiles costs a full
  tile), which is the wave and tile quantisation. With the ``stream_k`` schedule (Hopper
  cuBLAS/CUTLASS persistent kernels: CTAs share the K loops of the output tiles, which is what
  the H200 measurements show), compute = CTAs tm tn K / (SMs x rate), at least one 512-deep
  K chunk of one tile: tile padding stays, wave quantisation goes. The tile with the least
  estimated time, max(compute, bytes / streaming rate),
  wins (ties: less compute, larger tiles, less splitting). Bytes: A, B (once: the L2 keeps a
  wave's reuse) and C, plus the fp32 partials of a split K, written and read back through DRAM
  unless they fit in half the L2. The kernel streams its operands at ``gemm_stream_fraction``
  of the memory's bandwidth (per dtype; int8 through ``torch._int_mm`` is slow), a ceiling on
  top of the memory's own time. Overhead: ``gemm_overhead_us``.
* Weight-only int4 (W4A16, dequantise then bf16 MMA, torch's tinygemm): two ceilings, weight
  bytes at ``w4a16_stream_fraction`` of the memory's bandwidth and MACs at
  ``w4a16_mma_efficiency`` of the bf16 peak; overhead ``w4a16_overhead_us``.
* Grouped GEMM (MoE experts in one kernel, ``GroupedGemm``; bf16/fp16): a persistent kernel
  over every group's output tiles, sum_g ceil(m_g/tm) ceil(N/tn) tiles in waves of SMs (no
  split-K), at ``grouped_mma_efficiency`` of the MMA rate and the tile rate above; its bytes
  (A and C over all rows, each group's B once) at ``grouped_stream_fraction`` of the memory's
  bandwidth; overhead ``grouped_overhead_us``. Other dtypes: the groups as separate GEMM
  kernels back to back (no grouped kernel measured for them).
* Element-wise and normalisation: bytes at the kind's ``bw_fraction`` of the memory's bandwidth
  (and FLOPs at the CUDA cores' rate), plus the kind's ``overhead_us``.
* Fused attention, decode (q_len <= 4): split-KV, K and V streamed at ``bw_fraction``;
  prefill: CTAs = batch heads ceil(q_len/128), each scoring its 128 queries against the keys it
  attends (causal: on average half), waves of CTAs at ``efficiency`` of the bf16 peak, plus
  ``cta_overhead_us`` per wave; no S = QK^T round trip through HBM.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: CTA tiles (tm, tn) the GEMM model chooses from: the Hopper/Ampere cuBLAS tile shapes that
#: wgmma/mma.sync kernels use (skinny 16/32-row tiles stand for the GEMV-like kernels)
CTA_TILES = ((256, 128), (128, 256), (128, 128), (128, 64), (64, 128), (64, 64), (32, 128),
             (16, 128))
MIN_SPLIT_K = 512   # K per chunk at least, when split-K fills the SMs
#: a CTA tile feeds its tensor cores at full rate when tm tn / (tm + tn), its MACs per operand
#: element brought from shared memory, reaches this (128 x 128); smaller tiles in proportion
FULL_RATE_INTENSITY = 64.0
DECODE_Q = 4        # q_len up to this: the split-KV decode kernel
Q_TILE = 128        # queries per CTA in the fused prefill kernel


@dataclass(frozen=True)
class Kernel:
    """One kernel: ``compute[i]`` cycles per tile, ``reads``/``writes`` bytes per operand (spread
    evenly over the tiles), ``overhead`` cycles, and a description."""

    name: str
    compute: float                  # total compute cycles
    reads: dict[str, float]
    writes: dict[str, float]
    overhead: float
    #: tiles the kernel is cut into, so that memory and compute overlap (1/tiles exposed)
    tiles: int = 64

    def tile_arrays(self) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        n = self.tiles
        c = np.full(n, self.compute / n)
        return (c, {k: np.full(n, v / n) for k, v in self.reads.items() if v},
                {k: np.full(n, v / n) for k, v in self.writes.items() if v})


@dataclass(frozen=True)
class GemmShape:
    batch: int
    m: int
    n: int
    k: int
    a_bytes: float
    b_bytes: float
    c_bytes: float


def gemm(s: GemmShape, sms: int, macs_per_sm_cycle: float, overhead: float, dtype: str,
         bytes_per_cycle: float, l2_bytes: float, stream_fraction: float = 1.0,
         schedule: str = "waves") -> Kernel:
    """The tensor-core GEMM model (module docstring): the candidate with the least estimated
    time, max(compute, bytes / streaming rate), wins."""
    best: tuple[float, float, int, int, float, int, float] | None = None
    base = s.a_bytes + s.b_bytes + s.c_bytes
    for tm, tn in CTA_TILES:
        ctas = s.batch * math.ceil(s.m / tm) * math.ceil(s.n / tn)
        rate = macs_per_sm_cycle * min(1.0, tm * tn / (tm + tn) / FULL_RATE_INTENSITY)
        split = 1
        if ctas < sms:
            split = max(1, min(sms // ctas, s.k // MIN_SPLIT_K))
        if schedule == "stream_k":  # persistent CTAs share the K loops: no wave quantisation
            waves = max(ctas * tm * tn * s.k / sms, tm * tn * min(s.k, MIN_SPLIT_K)) / (tm * tn * s.k)
            cycles = waves * tm * tn * s.k / rate
        else:
            waves = math.ceil(ctas * split / sms)
            cycles = waves * tm * tn * math.ceil(s.k / split) / rate
        # fp32 partials of a split K are reduced through the L2 when they fit, else via DRAM
        partial = 2 * (split - 1) * s.batch * s.m * s.n * 4.0 if schedule == "waves" else 0.0
        if partial <= l2_bytes / 2:
            partial = 0.0
        est = max(cycles, (base + partial) / (bytes_per_cycle * stream_fraction))
        key = (est, cycles, -tm * tn, split)
        if best is None or key < best[:4]:
            best = (est, cycles, -tm * tn, split, waves, tm * 10_000 + tn, partial)
    assert best is not None
    _, cycles, _, split, waves, code, partial = best
    tm, tn = divmod(code, 10_000)
    if stream_fraction != 1.0:  # the kernel streams its operands below the memory's rate
        cycles = max(cycles, (base + partial) / (bytes_per_cycle * stream_fraction))
    how = (f"stream-k, {waves:.2f} tile-waves" if schedule == "stream_k" else
           f"split-k {split}, {waves} wave(s)")
    return Kernel(f"gemm {dtype} {tm}x{tn} {how} of {sms}", cycles,
                  {"A": s.a_bytes, "B": s.b_bytes, "C": partial / 2},
                  {"C": s.c_bytes + partial / 2}, overhead)


def w4a16(s: GemmShape, stream_cycles: float, mma_cycles: float, overhead: float) -> Kernel:
    """Weight-only int4 x bf16 (module docstring): the slower of the two ceilings."""
    return Kernel("w4a16 dequant + bf16 mma (tinygemm)", max(stream_cycles, mma_cycles),
                  {"A": s.a_bytes, "B": s.b_bytes}, {"C": s.c_bytes}, overhead)


def elementwise(kind: str, reads: dict[str, float], writes: dict[str, float], bw_cycles: float,
                flop_cycles: float, overhead: float) -> Kernel:
    return Kernel(f"{kind} kernel", max(bw_cycles, flop_cycles), reads, writes, overhead)


def attention_decode(reads: dict[str, float], writes: dict[str, float], bw_cycles: float,
                     overhead: float) -> Kernel:
    return Kernel("attention split-KV decode (fused)", bw_cycles, reads, writes, overhead)


def attention_prefill(batch: int, heads: int, q_len: int, pairs_per_head: int, head_dim: int,
                      sms: int, macs_per_sm_cycle: float, cta_overhead: float,
                      reads: dict[str, float], writes: dict[str, float], overhead: float
                      ) -> Kernel:
    """Fused prefill attention (module docstring): waves of 128-query CTAs."""
    ctas = batch * heads * math.ceil(q_len / Q_TILE)
    waves = math.ceil(ctas / sms)
    macs_per_cta = 2 * head_dim * pairs_per_head * batch * heads / ctas  # QK^T and PV
    cycles = waves * (cta_overhead + macs_per_cta / macs_per_sm_cycle)
    return Kernel(f"attention fused prefill, {ctas} CTAs in {waves} wave(s)", cycles, reads,
                  writes, overhead)


def grouped_gemm(groups: tuple[int, ...], n: int, k: int, reads: dict[str, float],
                 writes: dict[str, float], sms: int, macs_per_sm_cycle: float, overhead: float,
                 dtype: str, bytes_per_cycle: float, stream_fraction: float) -> Kernel:
    """A grouped GEMM (module docstring): one persistent kernel over every group's output
    tiles, sum_g ceil(m_g/tm) ceil(N/tn) of them in waves of SMs (no split-K); the tile with
    the least max(compute, bytes / streaming rate) wins."""
    total = sum(reads.values()) + sum(writes.values())
    stream = total / (bytes_per_cycle * stream_fraction)
    best: tuple[float, float, int, int, int, int] | None = None
    for tm, tn in CTA_TILES:
        tiles = sum(math.ceil(m / tm) for m in groups) * math.ceil(n / tn)
        rate = macs_per_sm_cycle * min(1.0, tm * tn / (tm + tn) / FULL_RATE_INTENSITY)
        waves = math.ceil(tiles / sms)
        cycles = waves * tm * tn * k / rate
        key = (max(cycles, stream), cycles, -tm * tn)
        if best is None or key < best[:3]:
            best = (*key, waves, tm, tn)
    assert best is not None
    est, _, _, waves, tm, tn = best
    return Kernel(f"grouped gemm {dtype} {tm}x{tn}, {len(groups)} groups in {waves} wave(s) "
                  f"of {sms}", est, reads, writes, overhead)


def sequence(name: str, parts: list[Kernel]) -> Kernel:
    """Kernels run back to back, costed as one op: times, bytes and overheads add up."""
    reads: dict[str, float] = {}
    writes: dict[str, float] = {}
    for p in parts:
        for mine, theirs in ((reads, p.reads), (writes, p.writes)):
            for key, v in theirs.items():
                mine[key] = mine.get(key, 0.0) + v
    return Kernel(name, sum(p.compute for p in parts), reads, writes,
                  sum(p.overhead for p in parts))
