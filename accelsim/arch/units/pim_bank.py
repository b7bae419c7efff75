"""In-bank PIM (``type: pim_bank``, AiM / Newton / NeuPIMs): multipliers in every DRAM bank that
run GEMVs on matrices stored in the banks, paced by the DRAM's own timing.

Bound to a ``type: dram`` memory (``memory:`` of the unit, default the device's main memory):
its channels, banks, row size and timing are the memory's standard. Commands (Newton, He et
al. MICRO'20; as NeuPIMs' NewtonSim implements them, casys-kaist/NeuPIMs@f299af3:
extern/NewtonSim/src/channel_state.cc, configuration.cc):

* GWRITE: one row's worth of the input vector (E = row_bytes / element bytes elements) into the
  channel's global buffer: (row_bytes / burst bytes) writes at tCCD_S + tCCD_L each (NewtonSim:
  (tCCD_S + tCCD_L) x 32 = 96 cycles on HBM2).
* G_ACT: all banks open the row of the chunk in grouped activations of four banks, two per
  tFAW window (NewtonSim's estimate): tFAW x max(0, ceil(banks / 4) / 2 - 1), then tRCD
  before the first COMP.
* COMP: every bank reads one column (multipliers x element bytes) and does ``multipliers``
  MACs into its accumulator; a row holds row_bytes / column bytes COMPs at max(Tb, tCCD_S)
  each (NewtonSim's estimate), at least ``pipeline_fill`` (6) of them.
* READRES: the banks' partial results (one per bank) over the bus, R = ceil(banks x out
  bytes / burst bytes) bursts, the first overlapped, the rest at max(Tb, tCCD_L); and one
  all-bank precharge, tRP.

So one tile (a chunk of E along K for ``banks`` outputs of one channel) takes
    t_tile = tRP + tFAW max(0, ceil(banks/4)/2 - 1) + tRCD + max(Tb, tCCD_S) max(C, 6)
             + max(Tb, tCCD_L) (R - 1),                C = row_bytes / column bytes
(HBM2 as DRAMsim3 has it, 16 banks, 2 KiB rows: 14 + 30 + 14 + 2 x 64 + 0 = 186 tCK, against
the 184 NeuPIMs' scheduler assumes per tile, src/scheduler/Scheduler.cc). A GEMV
C[m, N] = A[m, K] B[K, N] per batch element (B in the banks, each bank holding whole output
columns) takes m x chunks x (GWRITE + tiles x t_tile), chunks = ceil(K / E),
tiles = ceil(N / (banks x channels per element)). Batch elements (requests x heads) are
spread over the channels: channels per element = max(1, channels // batch), elements per
channel = ceil(batch / (channels / channels per element)). When K < E, p = min(E // K,
elements per channel) elements share a row (NeuPIMs packs a request's heads: one tile then
computes p results per bank over p K elements); the op takes ceil(elements per channel / p)
x the element time. Times are in the DRAM's tCK, converted to the device clock.

Accepts GEMV-shaped GEMMs only (m <= ``max_rows`` vectors per matrix, 16-bit float operands
no wider than the multipliers'); anything else is rejected with the reason. The matrix never
crosses the bus: the op's DRAM traffic is the vector in and the results out. Whether PIM ops
and other units' DRAM traffic overlap is the scheduling policy's (``blocked``: never;
``concurrent`` on a ``dual_row_buffer`` memory: yes, the other traffic derated by the share phi
of the channel's activation window and command slots the PIM holds, ``coupling_share``).

Placement (``placement:``, pim_placement.py): with ``kv: interleave`` (default) batch elements
spread over the channels as above; with ``kv: by_request`` each request's KV heads sit on one
channel and the ``pim_channel_balance`` pass gives the op as a ``ChannelPlacedGemm``: it takes
requests x t_request x share, t_request = the formula above for the request's elements on one
channel (``request_ck``), share = M / S of the segment's placement (busiest channel's load over
the sum of loads). Energy (``components``): in-bank column reads at the kind's
``bank_read_bit`` and one ACT per bank per tile (``pim_activations``).
"""
from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from ...errors import AccelsimError
from ...workload.dtypes import dtype
from ...workload.ops import Gemm, Op
from ..base import Component, OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig
from ..registry import register_unit
from .pim_placement import ChannelPlacedGemm, PimPlacement

ACT_GROUP = 4          # banks one grouped activation opens (the tFAW window's four ACTs)


class PimBankConfig(UnitConfig):
    type: Literal["pim_bank"] = "pim_bank"
    multipliers_per_bank: int = Field(16, gt=0, le=1024, description="multipliers per bank "
                                      "(NeuPIMs: 16 FP16, pim_comp_coverage)")
    dtype: Literal["fp16", "bf16"] = Field("fp16", description="multiplier precision")
    banks_per_channel: int | None = Field(None, gt=0, le=1024, description="PIM banks per "
                                          "channel (default: the standard's banks)")
    channels: int | None = Field(None, gt=0, le=65536, description="channels with PIM "
                                 "(default: all of the memory's)")
    max_rows: int = Field(8, gt=0, le=1024, description="vectors per matrix an op may have "
                          "(each is its own pass over the matrix)")
    pipeline_fill: int = Field(6, ge=0, le=1000, description="COMP slots a tile takes at "
                               "least (NewtonSim: 'pipeline filling time: 6')")
    placement: PimPlacement = Field(default_factory=PimPlacement, description="channels of "
                                    "the KV cache and weights it reads (pim_placement.py)")


@register_unit("pim_bank")
class PimBankUnit(Unit):
    """All-bank GEMV in the DRAM banks (module docstring)."""

    config_model = PimBankConfig
    categories = ("gemm",)
    #: runs in the banks of its memory (policies ``blocked`` / ``concurrent`` gate or couple it)
    in_bank_pim: ClassVar[bool] = True
    config: PimBankConfig

    # -- the memory it lives in -------------------------------------------------------------
    def _dram(self):
        from ...memory.dram import DramMemory
        mem = self.context.memory if self.context else None
        if not isinstance(mem, DramMemory):
            raise AccelsimError(f"a pim_bank unit needs a 'type: dram' memory (its memory is "
                                f"{type(mem).__name__ if mem is not None else 'not bound'})")
        return mem

    def context_key(self) -> tuple:
        return (self.context.memory.timing_key(),) if self.context else ()

    @property
    def channels(self) -> int:
        return self.config.channels or self._dram().channels

    @property
    def banks(self) -> int:
        return self.config.banks_per_channel or self._dram().standard.organisation.banks

    @property
    def elem_bytes(self) -> float:
        return dtype(self.config.dtype).bytes

    def _ticks_per_ck(self) -> float:
        """Device clock cycles per DRAM tCK."""
        mem = self._dram()
        return mem.standard.timing.tCK_ns * mem.device_clock_ghz

    # -- what it runs ---------------------------------------------------------------------
    def peak(self, dtypes=()) -> Peak:
        """Every multiplier of every PIM bank once per COMP slot, in device cycles."""
        std = self._dram().standard
        slot = max(std.burst_ck, std.timing.tCCD_S) * self._ticks_per_ck()
        return Peak.of_macs(self.channels * self.banks * self.config.multipliers_per_bank / slot)

    def check(self, op: Op) -> None:
        self._dram()
        if type(op) not in (Gemm, ChannelPlacedGemm):
            raise AccelsimError("runs GEMV-shaped GEMMs only")
        if op.m > self.config.max_rows:
            raise AccelsimError(f"m={op.m} > max_rows={self.config.max_rows}: not GEMV-shaped "
                                f"(each vector is a pass over the matrix)")
        mine = dtype(self.config.dtype)
        for name in (op.a_dtype, op.b_dtype):
            d = dtype(name)
            if not d.is_float or d.bits > mine.bits or (d.name != mine.name and d.bits == 16):
                raise AccelsimError(f"operand {d.name} does not fit the {mine.name} "
                                    f"multipliers")

    # -- timing ---------------------------------------------------------------------------
    def tile_ck(self, vector_elems: float | None = None, results: int = 1) -> float:
        """tCK of one tile over ``vector_elems`` elements of K (default: a whole row) with
        ``results`` outputs per bank (module docstring)."""
        std = self._dram().standard
        t, tb = std.timing, std.burst_ck
        elems = std.organisation.row_bytes / self.elem_bytes if vector_elems is None \
            else vector_elems
        comps = self._comps(elems)
        readres = max(1, math.ceil(self.banks * results * self.elem_bytes
                                   / std.organisation.burst_bytes))
        return (t.tRP + t.tFAW * max(0.0, math.ceil(self.banks / ACT_GROUP) / 2 - 1) + t.tRCD
                + max(tb, t.tCCD_S) * comps + max(tb, t.tCCD_L) * (readres - 1))

    def _comps(self, elems: float) -> int:
        """COMP slots of a tile over ``elems`` elements of K (at least ``pipeline_fill``)."""
        col_bytes = self.config.multipliers_per_bank * self.elem_bytes
        return max(math.ceil(elems * self.elem_bytes / col_bytes), self.config.pipeline_fill)

    def coupling_share(self, vector_elems: float, results: int, tiles: int) -> float:
        """phi: the share of a channel's activation window and column-command slots this
        PIM's pass (GWRITE, then ``tiles`` tiles over ``vector_elems`` elements of K with
        ``results`` outputs per bank) holds while it runs, the share a dual-row-buffer
        memory's other traffic loses (policy ``concurrent``, engine/policies/concurrent.py).

        NeuPIMs' dual row buffer (casys-kaist/NeuPIMs@f299af3: extern/NewtonSim/src/timing.cc
        with enable_dual_buffer, bankstate.cc) lets the PIM and MEM buffers' commands
        interleave; what stays shared is the rank's activation window and the command bus
        (the ini's hbm_dual_cmd = False: one command per cycle), PIM commands first
        (neupims_command_queue.cc GetCommandToIssue: the PIM queue is served before the
        read/write queues). Per pass of T = gwrite_ck + tiles x tile_ck tCK:

            phi_cmd = tiles x max(Tb, tCCD_S) x COMPs / T
                      (timing.cc: COMP -> READ same rank = read_to_read_s, so a COMP holds a
                       column slot as a read does; GWRITE and READRES are the op's own bus
                       traffic, moved through the memory's port as bytes)
            phi_act = tiles x min(tFAW x ceil(G / 2), tile_ck - tRP) / T,  G = ceil(banks/4)
                      (grouped activations of four banks, two per tFAW window as tile_ck
                       counts them; timing.cc: G_ACT -> ACTIVATE same rank = tFAW, so the
                       window is the PIM's while its activations run; the all-bank precharge
                       tRP ends it)
            phi = max(phi_cmd, phi_act)   (the scarcer of the two bounds the other traffic)

        phi < 1: a tile's tRP and tRCD hold neither (tile_ck > COMP slots, tile_ck - tRP)."""
        std = self._dram().standard
        t, tb = std.timing, std.burst_ck
        tile = self.tile_ck(vector_elems, results)
        total = self.gwrite_ck(vector_elems) + tiles * tile
        cmd = tiles * max(tb, t.tCCD_S) * self._comps(vector_elems) / total
        groups = math.ceil(self.banks / ACT_GROUP)
        act = tiles * min(t.tFAW * math.ceil(groups / 2), tile - t.tRP) / total
        return max(cmd, act)

    def gwrite_ck(self, vector_elems: float | None = None) -> float:
        """tCK to write ``vector_elems`` elements (default: a row's worth) of the input vector
        into the global buffer."""
        std = self._dram().standard
        o, t = std.organisation, std.timing
        nbytes = o.row_bytes if vector_elems is None else vector_elems * self.elem_bytes
        return math.ceil(nbytes / o.burst_bytes) * (t.tCCD_S + t.tCCD_L)

    def _gemv(self, op: Gemm, batch: int, channels: int) -> dict[str, float]:
        """Timing of ``batch`` elements of ``op`` spread over ``channels`` (module
        docstring): tCK and the counts behind it."""
        std = self._dram().standard
        E = std.organisation.row_bytes / self.elem_bytes
        per_element_ch = max(1, channels // batch)
        elements = math.ceil(batch / (channels // per_element_ch))
        if op.k >= E:        # K in row-sized chunks
            chunks, pack = math.ceil(op.k / E), 1
            k_elems = op.k / chunks
        else:                # several elements' short K share one row (heads of a request)
            chunks, pack = 1, max(1, min(int(E // op.k), elements))
            k_elems = pack * op.k
        groups = math.ceil(elements / pack)
        tiles = math.ceil(op.n / (self.banks * per_element_ch))
        tile = self.tile_ck(k_elems, pack)
        gwrite = self.gwrite_ck(k_elems)
        passes = groups * op.m * chunks
        return {"ck": passes * (gwrite + tiles * tile), "passes": float(passes),
                "chunks": float(chunks), "tiles": float(tiles), "packed": float(pack),
                "elements_per_channel": float(elements), "tile_ck": tile,
                "gwrite_ck": gwrite, "coupling_phi": self.coupling_share(k_elems, pack, tiles)}

    def request_ck(self, op: Gemm, heads: int) -> float:
        """tCK of one request's ``heads`` batch elements of ``op`` on one channel (its load
        under ``placement.kv: by_request``)."""
        return self._gemv(op, heads, 1)["ck"]

    def op_coupling_share(self, op: Op) -> float:
        """phi of ``op`` (``coupling_share`` of its passes; a channel-placed op is its
        busiest channel's, which runs the whole op)."""
        assert isinstance(op, Gemm)
        if isinstance(op, ChannelPlacedGemm):
            return self._gemv(op, op.heads, 1)["coupling_phi"]
        return self._gemv(op, op.batch, self.channels)["coupling_phi"]

    def _cost(self, op: Op) -> OpCost:
        assert isinstance(op, Gemm)
        if isinstance(op, ChannelPlacedGemm):   # kv: by_request, placed by the pass
            requests = op.batch // op.heads
            g = self._gemv(op, op.heads, 1)
            ck = requests * g["ck"] * op.share
            acts = requests * g["passes"] * g["tiles"] * self.banks
            how = (f"{requests} request(s) of {op.heads} element(s), each on one channel, "
                   f"x {op.share:.4g} of the busiest channel's load per unit of work")
        else:
            g = self._gemv(op, op.batch, self.channels)
            ck = g["ck"]
            acts = g["passes"] * g["tiles"] * self.banks * self.channels
            how = f"{g['elements_per_channel']:g} element(s)/channel"
        cycles = ck * self._ticks_per_ck()
        b = op.operand_bytes()
        n = max(1, min(64, int(g["passes"])))
        tiles_sched = TileSchedule(compute=np.full(n, cycles / n), traffic=(
            Traffic("A", read=np.full(n, b["A"] / n)),
            Traffic("C", write=np.full(n, b["C"] / n))))
        macs = float(op.macs())
        detail = {k: v for k, v in g.items() if k not in ("ck", "passes", "coupling_phi")}
        return OpCost(self.name, tiles_sched, macs, 2 * macs, {}, {
            "pim_macs": macs, "pim_activations": float(acts),
            "pim_column_read_bits": 8.0 * b["B"] * op.m}, self.peak(),
            detail=detail,
            kernel=f"pim gemv: {how} ({g['packed']:g} per row) x {op.m} vector(s) x "
                   f"{g['chunks']:g} chunk(s) x {g['tiles']:g} tile(s) of {self.banks} banks, "
                   f"{g['tile_ck']:g} tCK per tile")

    @property
    def informational_actions(self) -> frozenset[str]:
        """Activations carry no energy of their own where the in-bank path is not sourced for
        the memory's kind (then the external per-bit read figure, which contains them, is
        used)."""
        costs = self._bank_costs()
        priced = costs is not None and "activate" in costs and "bank_read_bit" in costs
        return frozenset() if priced else frozenset({"pim_activations"})

    def _bank_costs(self) -> dict[str, float] | None:
        kind = self._dram().dram_kind if self.context else None
        if kind is None:
            return None
        from ...cost.memory import dram_costs
        return dram_costs(kind)

    def components(self) -> list[Component] | None:
        """Multipliers and accumulators per bank (logic MACs at the device's node: an
        approximation, DRAM-process logic is slower and larger), and the in-bank column reads:
        priced as in-bank reads (``bank_read_bit``: Duplex's Bank-PIM path from FGDRAM's
        per-path HBM energies, 0.73 pJ/bit, no bank-group mux, global I/O or TSV) with every
        bank's row activation at the kind's ACT energy (IDD-derived); where the library has
        no in-bank figure or no ACT energy for the kind, as the memory's external reads per
        bit, activation included (an upper bound)."""
        kind = self._dram().dram_kind if self.context else None
        n = self.channels * self.banks * self.config.multipliers_per_bank
        comps = [Component("multipliers", "mac", n, {"dtype": self.config.dtype,
                                                     "acc": "fp32"}, {"pim_macs": "mac"})]
        costs = self._bank_costs()
        if kind is not None and costs is not None:
            if "bank_read_bit" in costs and "activate" in costs:
                comps.append(Component("bank_access", "dram", 1, {"kind": kind},
                                       {"pim_column_read_bits": "bank_read_bit",
                                        "pim_activations": "activate"}))
            else:
                comps.append(Component("bank_access", "dram", 1, {"kind": kind},
                                       {"pim_column_read_bits": "read_bit"}))
        return comps
