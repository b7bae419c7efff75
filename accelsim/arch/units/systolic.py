"""Systolic array (``type: systolic_array``): R x C PEs, dataflows os / ws / is.

Mapping (SCALE-Sim v2/v3 convention, Samajdar et al., ISPASS 2020, Sec. III; read from
SCALE-Sim 3.0.0's ``compute/systolic_compute_*.py``): each dataflow lays two GEMM dims
spatially (Sr on rows, Sc on cols) and streams the third (T) in time:

    os: Sr=M, Sc=N, T=K      ws: Sr=K, Sc=N, T=M      is: Sr=K, Sc=M, T=N

folds = ceil(Sr/R) * ceil(Sc/C), column folds outer and row folds inner (SCALE-Sim 3.0.0's
order, so ws/is accumulate partial sums over consecutive K folds). Each fold occupies the array for
S cycles of issue plus L = R + C - 2 cycles of skewed fill/drain, with
S = T (os) or S = R + T (ws/is: R cycles to preload the stationary operand). Folds always
use the full R and C, as in SCALE-Sim.

    fold_overlap: false  compute = folds * (S + L) - 1      (SCALE-Sim 3.0.0 exactly; it
                         reports the index of the last cycle, hence the -1)
    fold_overlap: true   os: compute = folds * max(T, R) + L (a fold's R outputs per column
                         drain in the shadow of the next fold);
                         ws/is with stationary_double_buffer (default; TPU-style weight FIFO,
                         Jouppi et al., ISCA 2017, Sec. 2): the next fold's stationary tile
                         shifts in while the current one streams, so
                         compute = R + (folds - 1) * max(T, R) + T + L;
                         ws/is without it: compute = folds * S + L

DRAM traffic per fold follows from SRAM reuse: an input tile is fetched when it changes
between consecutive folds, or only on first touch if the whole operand fits in its SRAM
(half of it when double-buffered); partial sums (ws/is with several K folds) stay on chip if
the whole output fits, else each is spilled and re-read at accumulator width.

Stream tiling (``stream_tiling``, ws/is with fold overlap and stationary_double_buffer): SCALE-Sim
streams all of T (M for ws, N for is) in every fold, so for prefill-sized M a fold's partial
sums (T x C) overflow the ofmap SRAM and go to DRAM on every K fold. Like a compiler tiling the
streamed loop, the unit may instead run the GEMM as consecutive sub-GEMMs over chunks of T
(R, 2R, 4R, ... or all of T, whichever moves the fewest DRAM bytes; each chunk re-reads the
stationary operand). Chunks of at least R leave the compute cycles unchanged under the formula
above; the extra stationary preloads are charged as ``pe_shift_bits``. Only chunkings within
``MAX_TILES`` tiles (``accelsim.config.bounds``) are considered; an op whose unchunked folds
exceed it is refused with an error.

Energy actions (``components()`` maps them to the cost library): ``mac_<pe_dtype>`` per MAC;
``dequant_ops`` with ``weight_dequant`` (low-bit weights dequantised to pe_dtype, (q - z) s, one
pe_dtype MAC per B element entering the array, by one dequantiser per feeding column; no extra
cycles: it is pipelined with the loads);
``pe_forward_bits``, register bits written between neighbouring PEs per MAC (os: both inputs
plus the in-place accumulator; ws/is: the streamed input plus the partial sum passed down);
``pe_shift_bits``, bits shifted through PE rows outside the MACs (ws/is: preloading the
stationary tile, ri*(ri+1)/2 hops per column; os: draining the outputs, same count at
accumulator width); ``<ifmap|filter|ofmap>_sram_<read|write>_bits`` per operand SRAM. DRAM
traffic is stated once, per operand (A, B, C) and fold, in the tile schedule; the memory model
prices it. Only useful MACs move data (idle PEs are assumed clock-gated).
"""
from __future__ import annotations

import math
from itertools import accumulate
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from ...config import as_value_error
from ...config.bounds import MAX_PES, MAX_SRAM_KB, MAX_TILES, SaneModel, check_pes
from ...errors import AccelsimError
from ...workload.dtypes import DType, dtype
from ...workload.ops import Gemm, Op
from ..base import (Component, OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig,
                    check_tiles)
from ..folds import FoldClasses, Node, Seq, axis_runs
from .systolic_reuse import input_reads, output_traffic, residency
from ..registry import register_unit


class SystolicSram(SaneModel):
    """Operand SRAMs (KiB each, at most MAX_SRAM_KB) in front of the array."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ifmap_kb: float = Field(1024, gt=0, le=MAX_SRAM_KB)
    filter_kb: float = Field(1024, gt=0, le=MAX_SRAM_KB)
    ofmap_kb: float = Field(1024, gt=0, le=MAX_SRAM_KB)
    double_buffered: bool = True


class SystolicConfig(UnitConfig):
    type: Literal["systolic_array"] = "systolic_array"
    rows: int = Field(gt=0, le=MAX_PES, description="PE rows (R)")
    cols: int = Field(gt=0, le=MAX_PES, description="PE columns (C); rows x cols <= MAX_PES")
    dataflow: Literal["os", "ws", "is"] = "os"
    pe_dtype: str = Field("int8", description="precision of the PE multipliers")
    fold_overlap: bool = True
    stationary_double_buffer: bool = Field(
        True, description="ws/is: a second stationary register per PE, so the next fold's "
        "stationary tile loads while the current one streams (ignored for os)")
    stream_tiling: bool = Field(
        True, description="ws/is: split the streamed dimension into chunks when that saves "
        "DRAM traffic (partial sums and streamed tiles kept on chip); false streams all of it "
        "in every fold, as SCALE-Sim does")
    weight_dequant: bool = Field(
        False, description="dequantise low-bit integer weights (B: int1-int4, ternary, with "
        "group scales) to pe_dtype as they enter the array: the conventional mpGEMM path "
        "(low-bit bytes in DRAM and SRAM, one dequantise per weight element per fold)")
    sram: SystolicSram = SystolicSram()

    @field_validator("pe_dtype")
    @classmethod
    def _known_dtype(cls, v: str) -> str:
        return as_value_error(lambda name: dtype(name).name, v)

    @model_validator(mode="after")
    def _pe_count(self) -> "SystolicConfig":
        check_pes(self.rows * self.cols, "rows x cols")
        return self


def fits(operand: DType, pe: DType) -> bool:
    """Whether a PE of precision ``pe`` computes ``operand`` values exactly."""
    if pe.is_float:
        if operand.is_float:
            return operand.mantissa_bits <= pe.mantissa_bits and operand.bits <= pe.bits
        return operand.bits <= pe.mantissa_bits + 1  # small ints are exact in the mantissa
    return not operand.is_float and operand.bits <= pe.bits


ACC_BITS = 32  # partial sums and accumulators: int32 for int PEs, fp32 for float PEs


@register_unit("systolic_array")
class SystolicArray(Unit):
    """R x C PE array (os / ws / is), SCALE-Sim-exact fold timing and SRAM-reuse DRAM traffic."""

    config_model = SystolicConfig
    categories = ("gemm",)
    informational_actions = frozenset({"pe_cycles"})
    config: SystolicConfig

    def peak(self, dtypes=()) -> Peak:
        """One MAC per PE per cycle, whatever the (exactly representable) operand dtypes."""
        return Peak.of_macs(self.config.rows * self.config.cols)

    def check(self, op: Op) -> None:
        assert isinstance(op, Gemm)
        pe = dtype(self.config.pe_dtype)
        bad = [f"{n}={d}" for n, d in (("A", op.a_dtype), ("B", op.b_dtype))
               if not fits(dtype(d), pe) and not (n == "B" and self._dequantised(dtype(d)))]
        if bad:
            raise AccelsimError(
                f"operand dtype {', '.join(bad)} is not exact on {pe.name} PEs (pe_dtype); "
                f"use a unit with a wider pe_dtype or quantise the op")

    def _dequantised(self, b: DType) -> bool:
        """Whether B of dtype ``b`` is dequantised on the way in (``weight_dequant``)."""
        return self.config.weight_dequant and not b.is_float and b.bits <= 4

    # -- timing ---------------------------------------------------------------------------
    def mapping(self, m: int, n: int, k: int) -> tuple[int, int, int]:
        """(Sr, Sc, T) of a GEMM under this array's dataflow."""
        return {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[self.config.dataflow]

    @property
    def _preload_hidden(self) -> bool:
        """ws/is with a double-buffered stationary operand: preloads overlap streaming."""
        return self.config.dataflow != "os" and self.config.stationary_double_buffer

    def fold_schedule(self, t: np.ndarray, first: int = 0, last: int = -1
                      ) -> tuple[np.ndarray, float]:
        """Issue cycles of each fold (or fold class), given its streamed length ``t``, and the
        final tail (fill/drain L); the formulas are in the module docstring. ``first`` and
        ``last`` index the first and last fold (classes of their own when ``t`` is per class)."""
        r, c, df = self.config.rows, self.config.cols, self.config.dataflow
        lat = float(r + c - 2)
        t = t.astype(float)
        s = t if df == "os" else t + r
        if not self.config.fold_overlap:  # SCALE-Sim counts the last cycle's index: one less
            compute = s + lat
            compute[last] -= 1
            return compute, 0.0
        if df != "os" and not self._preload_hidden:
            return s, lat
        compute = np.maximum(t, r)
        if self._preload_hidden:  # first preload exposed; the last fold has no next preload
            compute[first] += r
            compute[last] = compute[last] - max(t[last], r) + t[last]
        return compute, lat

    # -- energy / area --------------------------------------------------------------------
    def pe_register_bits(self) -> float:
        """Pipeline register bits per PE: forwarded operands, accumulator, stationary register(s)."""
        pe = dtype(self.config.pe_dtype).bits
        if self.config.dataflow == "os":
            return 2 * pe + ACC_BITS  # A and B forwarded, output accumulated in place
        stationary = 2 if self.config.stationary_double_buffer else 1
        return pe + ACC_BITS + stationary * pe  # streamed input, partial sum, stationary operand

    def components(self) -> list[Component]:
        """PE MACs, PE registers and links, and the three operand SRAMs."""
        cfg = self.config
        n, pe = cfg.rows * cfg.cols, dtype(cfg.pe_dtype)
        moved = {"pe_forward_bits": "write_bit", "pe_shift_bits": "write_bit"}

        sram = sram_component
        return [
            Component("pe_mac", "mac", n, {"dtype": pe.name}, {f"mac_{pe.name}": "mac"}),
            Component("pe_regs", "register", n, {"bits": self.pe_register_bits()}, moved),
            Component("pe_links", "wire", 1, {"pitch_of": ("pe_mac", "pe_regs")},
                      {k: "bit" for k in moved}),
            sram("ifmap", cfg.sram.ifmap_kb, cfg.rows * pe.bits),
            sram("filter", cfg.sram.filter_kb, cfg.cols * pe.bits),
            sram("ofmap", cfg.sram.ofmap_kb, cfg.cols * ACC_BITS),
        ] + ([Component("dequant", "mac", cfg.rows if cfg.dataflow == "is" else cfg.cols,
                        {"dtype": pe.name, "acc": pe.name}, {"dequant_ops": "mac"})]
             if cfg.weight_dequant else [])

    # -- cost -------------------------------------------------------------------------------
    def _cost(self, op: Op) -> OpCost:
        assert isinstance(op, Gemm)
        cfg = self.config
        R, C = cfg.rows, cfg.cols
        t_chunk, passes = self._stream_plan(op)

        # Each pass's fold classes, once per distinct run of copies; the first and the last
        # copy get classes of their own, so that the first and last folds (exposed preload,
        # SCALE-Sim's -1) are classes of one fold each.
        runs: list[tuple[_Pass, int]] = []
        for i, (p, n) in enumerate(passes):
            if i == 0 and n > 1:
                runs.append((p, 1))
                n -= 1
            if i == len(passes) - 1 and n > 1:
                runs += [(p, n - 1), (p, 1)]
            else:
                runs.append((p, n))
        offsets = list(accumulate([p.t.shape[0] for p, _ in runs], initial=0))
        classes = FoldClasses(Seq.cat([Seq.rep(_shift(p.order, o), n)
                                       for (p, n), o in zip(runs, offsets)]), offsets[-1])

        def cat(field: str) -> np.ndarray | None:
            parts = [getattr(p, field) for p, _ in runs]
            if all(a is None for a in parts):
                return None
            if len(runs) == 1:  # one pass: its arrays as they are
                return parts[0]
            return np.concatenate([a if a is not None else np.zeros(p.t.shape)
                                   for a, (p, _) in zip(parts, runs)])

        def total(get: Any) -> float:
            if len(passes) == 1:  # the common case: sum() of one term, without a generator
                p, n = passes[0]
                return float(0 + get(p) * n)
            return float(sum(get(p) * n for p, n in passes))

        compute, tail = self.fold_schedule(cat("t"), classes.first, classes.last)
        w = classes.counts
        traffic = (Traffic("A", read=cat("a_read"), counts=w),
                   Traffic("B", read=cat("b_read"), counts=w),
                   Traffic("C", read=cat("c_read"), write=cat("c_write"), counts=w))
        tiles = TileSchedule(compute=compute, traffic=traffic, tail=tail,
                             double_buffered=cfg.sram.double_buffered, classes=classes)
        per_sram = {o: (total(lambda p: p.sram[o][0]), total(lambda p: p.sram[o][1]))
                    for o in ("ifmap", "filter", "ofmap")}
        macs = float(op.macs())
        pe = dtype(cfg.pe_dtype)
        df = cfg.dataflow
        fwd = (2 * pe.bits if df == "os" else pe.bits) + ACC_BITS
        shift_bits = total(lambda p: p.shift_hops) * (ACC_BITS if df == "os" else pe.bits)
        n_f = tiles.n
        detail = {"folds": float(n_f), "stream_chunk": float(t_chunk),
                  "mapping_eff": total(lambda p: p.used_pe_folds) / (n_f * R * C),
                  "c_spill_read_bytes": total(lambda p: p.spill_read)}
        actions = {f"mac_{pe.name}": macs,
                   "pe_cycles": float(tiles.compute_cycles()) * R * C,
                   "pe_forward_bits": macs * fwd, "pe_shift_bits": shift_bits}
        for name, (rd, wr) in per_sram.items():
            actions[f"{name}_sram_read_bits"] = 8 * rd
            actions[f"{name}_sram_write_bits"] = 8 * wr
        if self._dequantised(dtype(op.b_dtype)):   # every B element that enters the array
            b_el = dtype(op.b_dtype).bytes + (2.0 / op.group_size if op.group_size else 0.0)
            actions["dequant_ops"] = per_sram["filter"][0] / b_el
        return OpCost(
            unit=self.name, tiles=tiles, macs=macs, flops=2 * macs,
            bytes={"sram_read": sum(v[0] for v in per_sram.values()),
                   "sram_write": sum(v[1] for v in per_sram.values())},
            actions=actions, peak=self.peak(), detail=detail)

    def _stream_plan(self, op: Gemm) -> tuple[int, list[tuple["_Pass", int]]]:
        """The streamed-dimension chunk and the passes (with copies) that run in sequence.

        With ``stream_tiling`` (ws/is, fold overlap and a double-buffered stationary operand,
        where chunks of at least R cost no compute cycles), T is split into chunks of ``t_c``
        in {T, R, 2R, 4R, ...} (the remainder joins the last chunk): the one with the least
        DRAM traffic, the longest on a tie. Short chunks keep
        partial sums and the streamed operand on chip at the price of re-reading the
        stationary operand once per chunk. Each chunk is analysed on its own (operands are not
        assumed to stay on chip from one chunk to the next), so T itself wins unless chunking
        really saves traffic.
        """
        cfg = self.config
        dim = {"ws": "m", "is": "n"}.get(cfg.dataflow)
        t = getattr(op, dim) if dim else 0
        if not (dim and cfg.stream_tiling and cfg.fold_overlap and self._preload_hidden
                and t > cfg.rows):
            return self.mapping(op.m, op.n, op.k)[2], [(self._pass(op), 1)]
        chunks = [t] + sorted((cfg.rows << j for j in range(t.bit_length())
                               if cfg.rows << j < t), reverse=True)
        passes: dict[int, _Pass] = {}  # by chunk length: candidates share their passes

        def one(length: int) -> _Pass:
            if length not in passes:
                passes[length] = self._pass(replace(op, **{dim: length}))
            return passes[length]

        best: tuple[float, int, list[tuple[_Pass, int]]] | None = None
        for t_c in chunks:  # longest first: a shorter chunk must strictly save traffic
            n, rest = divmod(t, t_c)  # the rest joins the last chunk, so no chunk is < R
            if n * one(t).folds > MAX_TILES:  # no chunking beyond the tile budget
                break
            plan = [(one(t_c), n - (rest > 0))] if n - (rest > 0) else []
            if rest:
                plan.append((one(t_c + rest), 1))
            traffic = sum(p.dram_bytes * k for p, k in plan)
            if best is None or traffic < best[0]:
                best = (traffic, t_c, plan)
        assert best is not None
        return best[1], best[2]

    def _pass(self, op: Gemm) -> "_Pass":
        """One pass of the array over ``op`` by fold classes: per class the streamed length and
        DRAM traffic, the classes' order (``accelsim.arch.folds``), and SRAM, register-shift
        and PE-use totals.

        Folds run (b, j, i): column folds outer, row folds inner, repeated per batch element.
        Along each axis a fold is the first, a middle one or the last; every per-fold value
        (used rows and columns, whether a tile id changes from the previous fold, is touched
        for the first or last time) is the same for all folds of one (b, j, i) class, so the
        reuse rules below run on a reduced grid of at most 3 x 3 x 3 folds, one per class,
        with tile ids renumbered on that grid (ids stay injective, so every equality between
        ids, hence every mask, is the full grid's) and residency decided on the real operand
        sizes. Totals weight each class by its fold count.
        """
        cfg = self.config
        R, C = cfg.rows, cfg.cols
        sr, sc, t = self.mapping(op.m, op.n, op.k)
        fr, fc = math.ceil(sr / R), math.ceil(sc / C)
        folds = fr * fc
        nb = op.batch
        check_tiles(self.name, op, nb * folds)
        (bi, bn), (jr, jn), (ir, i_n) = axis_runs(nb), axis_runs(fc), axis_runs(fr)
        nbr, fcr, frr = len(bi), len(jr), len(ir)
        per = fcr * frr

        # one reduced fold per class, (b, j, i) order; *_idx are reduced indices. Plain lists:
        # at most 27 entries, where numpy calls cost more than the arithmetic (issue 16)
        ri_of = [min(R, sr - x * R) for x in ir]         # used rows of each row-fold class
        cj_of = [min(C, sc - x * C) for x in jr]         # used cols of each col-fold class
        grid = [(b, j, i) for b in range(nbr) for j in range(fcr) for i in range(frr)]
        # per fold class: its b, j, i, real row-fold index, fold count, used rows and cols
        b_idx, j_idx, i_idx, i_real, count, ri, cj = zip(*[
            (b, j, i, ir[i], float(bn[b]) * float(jn[j]) * float(i_n[i]), ri_of[i], cj_of[j])
            for b, j, i in grid])

        a_b, b_b, c_b = (dtype(op.a_dtype).bytes, dtype(op.b_dtype).bytes, dtype(op.c_dtype).bytes)
        if op.group_size:
            b_b += 2.0 / op.group_size       # one fp16 scale per group of B
        acc_b = 4.0                          # partial sums spill as int32 / fp32
        b_of = (0,) * len(grid) if op.b_shared else b_idx

        # tile ids (on the reduced grid) and element counts of A[M,K], B[K,N], C[M,N]
        df = cfg.dataflow
        if df == "os":      # rows of A (i), cols of B (j), C block (i, j) complete
            a_id, a_n = [b * frr + i for b, _, i in grid], [r * op.k for r in ri]
            b_id, b_n = [b * fcr + j for b, j in zip(b_of, j_idx)], [op.k * c for c in cj]
            c_id = [(b * frr + i) * fcr + j for b, j, i in grid]
            c_n, partial = [r * c for r, c in zip(ri, cj)], False
        elif df == "ws":    # B block (i, j) stationary, A cols i streamed, C cols j accumulated over i
            a_id, a_n = [b * frr + i for b, _, i in grid], [op.m * r for r in ri]
            b_id = [(b * frr + i) * fcr + j for b, j, i in zip(b_of, j_idx, i_idx)]
            b_n = [r * c for r, c in zip(ri, cj)]
            c_id, c_n, partial = [b * fcr + j for b, j, _ in grid], [op.m * c for c in cj], fr > 1
        else:               # "is": A block (i, j) stationary, B rows i streamed, C rows j accumulated
            a_id, a_n = [(b * frr + i) * fcr + j for b, j, i in grid], [r * c for r, c in zip(ri, cj)]
            b_id, b_n = [b * frr + i for b, i in zip(b_of, i_idx)], [r * op.n for r in ri]
            c_id, c_n, partial = [b * fcr + j for b, j, _ in grid], [c * op.n for c in cj], fr > 1

        # Every batch element touches its own A, C (and unshared B) tiles in the same order, so
        # the reuse masks of those operands are found on one element's tile ids and repeated.
        kb = 1024.0 * (0.5 if cfg.sram.double_buffered else 1.0)  # usable bytes per KiB
        a_bytes = [v * a_b for v in a_n]
        a_rd = input_reads(a_id[:per], a_bytes, residency(nb * op.m * op.k * a_b, a_bytes,
                                                          cfg.sram.ifmap_kb * kb), nbr)
        bshare = 1 if op.b_shared else nb
        b_sep = not op.b_shared or nb == 1
        b_bytes = [v * b_b for v in b_n]
        b_rd = input_reads(b_id[:per] if b_sep else b_id, b_bytes,
                           residency(bshare * op.k * op.n * b_b, b_bytes,
                                     cfg.sram.filter_kb * kb), nbr if b_sep else 1)
        c_mode = residency(nb * op.m * op.n * acc_b, [v * acc_b for v in c_n],
                           cfg.sram.ofmap_kb * kb)
        c_rd, c_wr = output_traffic(c_id[:per], c_n, c_b, acc_b, partial, c_mode, nbr)

        # Per-class values and their totals weighted by the class counts, every total one row
        # of one matrix: a row sum is numpy's pairwise sum of that row, as ``(a * count).sum()``
        # of each array on its own was, at the price of three numpy calls instead of ten.
        rows = np.array([a_bytes, a_rd, b_bytes, b_rd, c_rd, c_wr,
                         [v * acc_b if x != 0 else 0.0 for x, v in zip(i_real, c_n)],
                         [v * c_b for v in c_n],
                         [c * r * (r + 1) / 2 for c, r in zip(cj, ri)],
                         [r * c for r, c in zip(ri, cj)]], dtype=float)
        rows.setflags(write=False)  # rows 1, 3, 4, 5 are the pass's per-class DRAM arrays
        (a_sram, a_dram, b_sram, b_dram, c_dram_rd, c_dram_wr, psum, c_out, hops,
         used) = (rows * count).sum(axis=1).tolist()
        # SRAM per operand (read, write bytes): every fold reads its A and B tiles into the
        # array and writes its C tile; accumulation re-reads partial sums; DRAM fills write
        # SRAM, DRAM stores read it.
        psum_rd = psum * partial
        sram = {
            "ifmap": (a_sram, a_dram),
            "filter": (b_sram, b_dram),
            "ofmap": (psum_rd + c_dram_wr, c_out + c_dram_rd),
        }
        # the classes' order: (b, j, i) nested runs; list arguments (not generators) are cheaper
        rep, cat = Seq.rep, Seq.cat
        order = cat([rep(cat([rep(cat([rep((b * fcr + j) * frr + i, i_n[i]) for i in range(frr)]),
                                  jn[j]) for j in range(fcr)]), bn[b]) for b in range(nbr)])
        return _Pass(t=np.full(len(grid), t), a_read=rows[1], b_read=rows[3],
                     c_read=rows[4] if c_dram_rd else None, c_write=rows[5],
                     dram_bytes=a_dram + b_dram + c_dram_rd + c_dram_wr, sram=sram,
                     shift_hops=hops, used_pe_folds=used, spill_read=c_dram_rd,
                     order=order, folds=nb * folds)


@dataclass(frozen=True, eq=False)
class _Pass:
    """One pass of the array over a GEMM (see ``SystolicArray._pass``)."""

    t: np.ndarray
    a_read: np.ndarray
    b_read: np.ndarray
    c_read: np.ndarray | None  # None: no partial sums read back
    c_write: np.ndarray
    dram_bytes: float          # reads + writes, as the stream plan compares them
    sram: dict[str, tuple[float, float]]
    shift_hops: float
    used_pe_folds: float
    spill_read: float
    order: Node                # the classes' order (accelsim.arch.folds)
    folds: int                 # folds of the pass


def _shift(node: Node, offset: int) -> Node:
    """A sequence tree with every class id moved by ``offset``."""
    if not offset:
        return node
    if isinstance(node, (int, np.integer)):
        return int(node) + offset
    if node[0] == "cat":
        return ("cat", tuple(_shift(c, offset) for c in node[1]))
    return ("rep", _shift(node[1], offset), node[2])


def sram_component(name: str, kb: float, width: float) -> Component:
    """One operand SRAM (``<name>_sram``): capacity and port width, charged per bit read and
    written (actions ``<name>_sram_read_bits`` / ``_write_bits``)."""
    return Component(f"{name}_sram", "sram", 1, {"capacity_bytes": kb * 1024, "width_bits": width},
                     {f"{name}_sram_read_bits": "read_bit", f"{name}_sram_write_bits": "write_bit"})


def inner_array(name: str, cfg, rows: int | None = None, cols: int | None = None,
                pe_dtype: str = "int8") -> "SystolicArray":
    """A systolic array with another PE array's shape (or ``rows`` x ``cols``), dataflow, fold
    options and SRAMs (``sram.acts_kb`` / ``weights_kb`` / ``outputs_kb``): the fold schedule
    and DRAM traffic that unit shares with this one (MixPE, BitFusion, OLAccel)."""
    s = cfg.sram
    return SystolicArray(name, SystolicConfig(
        rows=rows or cfg.rows, cols=cols or cfg.cols, dataflow=cfg.dataflow, pe_dtype=pe_dtype,
        fold_overlap=cfg.fold_overlap, stationary_double_buffer=cfg.stationary_double_buffer,
        stream_tiling=cfg.stream_tiling,
        sram=SystolicSram(ifmap_kb=s.acts_kb, filter_kb=s.weights_kb, ofmap_kb=s.outputs_kb,
                          double_buffered=s.double_buffered)))
