"""Duplex's low-Op/B processors (Yun et al., MICRO'24): ``type: logic_pim`` (GEMM modules on the
HBM3 logic die fed by bank bundles) and its two comparison points, ``type: bankgroup_pim``
(the same bandwidth and compute on the DRAM die) and ``type: bank_pim`` (units next to every
bank: 16x bandwidth, peak Op/B 1) [P Sec 4, Sec 6].

Hardware per stack [P Sec 7.5, Sec 6]: ``modules_per_stack`` (32) GEMM modules of
``macs_per_module`` (512) FP16 MACs with an 8 KB buffer each, at 650 MHz ("considering tCCDS of
HBM3, which is 1.5 ns"): 32 x 512 x 2 x 0.65 GHz = 21.3 TFLOPS; two 1 MB buffers for input
vectors and partial results; a softmax unit with 128 KB of buffers and an activation module
(``vector_flops_per_cycle`` per stack: the paper gives no rate; our 512 keeps pace with the
scores a bandwidth-bound decode QK^T produces).

Bandwidth: the memory's bank bundles in all-bank-bundle read mode
(``accelsim.memory.dram.bank_bundle``: ``bundle_banks_per_group`` banks of each bank group
read in lock step at tCCD_L), on every pseudo-channel of the unit's stacks. On Duplex's HBM3
(standard ``duplex_hbm3``) that is 4x a pseudo-channel's bus, 2.66 TB/s per stack (peak;
2.42 sustained with refresh): Op/B = 21.3 / 2.66 = 8 [P Sec 4: "compute-to-memory-bandwidth
ratio of eight"]. ``bundle_timing: ideal`` instead streams at 4x (Bank-PIM 16x) the memory's
ideal path bandwidth, no activation or refresh: the authors' released simulator's timing
(``ideal_gb_s``; 2.68 TB/s per stack on configs/duplex/duplex.yaml), which the reproduction's
``-ideal-pim`` sensitivity rows use (its main rows keep ``dram``, the paper's Ramulator timing).

Timing of an op (a roofline of the two, the paper's "compute timing from unit count x
frequency" and the Ramulator bundle reads [P Sec 6]):
    GEMM:    cycles = max(MACs / (stacks x modules x MACs per module),
                          passes x B bytes / bundle bytes per cycle),
             passes = ceil(A bytes / input buffer bytes) (the input vectors of one pass fit one
             1 MB buffer; B, the weights or the KV cache, is re-streamed per pass);
    vector:  cycles = FLOPs / (stacks x vector_flops_per_cycle) (softmax and activations work
             on the on-die buffers: no DRAM traffic).
B never crosses the channel bus (bank-bundle reads through the added TSVs); A in and C out go
through the unit's memory like pim_bank's vectors. Contention of the bundle reads with the
xPU's traffic is the ``duplex_stage`` policy's (``engine/policies/bundle_contention.py``).

Energy: MACs and buffers from the technology library at the device node (the MACs at a cited
library MAC instead with ``mac_energy_kind``: Duplex's configs use asap7_fp16_duplex, the
paper's 0.46 pJ per MAC = 0.23 pJ per FLOP); B's bundle reads at
the path's DRAM energy per bit (``dram_kind``: hbm3_duplex_logic_pim 1.81 pJ/b, hbm3_duplex_bankgroup_pim
2.68, hbm3_duplex_bank_pim 0.73, plus the 909 pJ row activation amortised per 1 KB row; the authors'
power.h constants). Area: ``area_breakdown_mm2`` (the paper's 17.80 mm2 per stack rows); parts
on the DRAM die (``dram_die_parts``: all of BankGroup-PIM, Bank-PIM's MACs and registers) are
multiplied by the library's DRAM-process factor (10x) there.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from ...errors import AccelsimError
from ...workload.dtypes import dtype
from ...workload.ops import Attention, FlashAttention, Gemm, GroupedGemm, Op, Vector
from ..base import Component, OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig
from ..registry import register_unit

#: vector ops the softmax unit and the activation module run [P Sec 4.4]
VECTOR_OPS = ("softmax", "silu", "gelu", "relu", "mul")
#: tiles an op's schedule is split into (for overlap with the other units' traffic)
TILES = 16


class LogicPimConfig(UnitConfig):
    type: Literal["logic_pim"] = "logic_pim"
    stacks: int | None = Field(None, gt=0, le=1024, description="HBM stacks with the unit "
                               "(default: all of the memory's)")
    modules_per_stack: int = Field(32, gt=0, le=65536, description="GEMM modules per stack")
    macs_per_module: int = Field(512, gt=0, le=65536, description="FP16 MACs per module")
    acc_dtype: Literal["fp16", "fp32"] = Field("fp16", description="accumulator of the MACs "
                                               "(the paper's 'FP16 MACs')")
    module_buffer_kb: float = Field(8, gt=0, le=1 << 20, description="buffer per module")
    buffers: int = Field(2, ge=1, le=64, description="input / partial-result buffers")
    buffer_kb: float = Field(1024, gt=0, le=1 << 22, description="size of each buffer")
    softmax_buffer_kb: float = Field(128, gt=0, le=1 << 22, description="the softmax unit's "
                                     "buffers, in all")
    vector_flops_per_cycle: int = Field(512, gt=0, le=1 << 20, description="softmax + "
                                        "activation FLOPs per cycle per stack (our assumption: "
                                        "the paper gives no rate; 512 keeps pace with decode "
                                        "QK^T, ~290 FLOP/cycle of softmax at GQA group 4 and "
                                        "2.42 TB/s)")
    bundle_banks_per_group: int = Field(2, gt=0, le=64, description="banks of each bank group "
                                        "in a bank bundle")
    bundle_faw: bool = Field(True, description="apply tFAW / tRRD_S to a bundle's activations")
    bundle_timing: Literal["dram", "ideal"] = Field(
        "dram", description="'dram': the bundles' sustained rate from the standard's timing "
        "(activations, exposed row turnaround, refresh); 'ideal': the bundle column ratio x "
        "the memory's ideal path bandwidth (its bandwidth_gb_s, else the bus peak), as the "
        "Duplex authors' simulator times Logic-PIM / Bank-PIM reads with use_ramulator off")
    dtype: Literal["fp16", "bf16"] = Field("fp16", description="MAC operand precision")
    mac_energy_kind: str | None = Field(None, description="a cited MAC of the technology "
                                        "library for the MACs' energy (e.g. asap7_fp16_duplex, "
                                        "the paper's 0.46 pJ per MAC); None: mul + add of "
                                        "the library's arithmetic at the device node")

    @field_validator("mac_energy_kind")
    @classmethod
    def _known_mac(cls, v: str | None) -> str | None:
        from ...cost.components import mac_kinds
        if v is not None and v not in mac_kinds():
            raise ValueError(f"unknown MAC energy kind {v!r}; the technology library has: "
                             f"{', '.join(mac_kinds()) or 'none'}")
        return v


class BankGroupPimConfig(LogicPimConfig):
    type: Literal["bankgroup_pim"] = "bankgroup_pim"   # type: ignore[assignment]


class BankPimConfig(LogicPimConfig):
    """Units next to every bank: every bank of a pseudo-channel read at once (a bundle of all
    banks), one 16-wide FP16 MAC per bank per tCCD_L: 32 B (16 elements) per 16 MACs, peak
    Op/B 1 [P Sec 6]. No tFAW on the all-bank activation (the authors' patch: ALL-ACT ->
    ALL-ACT = nRC only; HBM-PIM's all-bank mode likewise)."""

    type: Literal["bank_pim"] = "bank_pim"             # type: ignore[assignment]
    modules_per_stack: int = Field(1024, gt=0, le=65536, description="one per bank: 32 "
                                   "pseudo-channels x 32 banks")
    macs_per_module: int = Field(16, gt=0, le=65536, description="a 32 B column of FP16")
    module_buffer_kb: float = Field(0.0625, gt=0, le=1 << 20, description="a 512-bit "
                                    "register file per bank (our assumption)")
    bundle_banks_per_group: int = Field(8, gt=0, le=64, description="all banks of a "
                                        "pseudo-channel (4 groups x 8)")
    bundle_faw: bool = False


@register_unit("logic_pim")
class LogicPimUnit(Unit):
    """GEMM modules fed by bank-bundle reads (module docstring)."""

    config_model = LogicPimConfig
    categories = ("gemm", "grouped_gemm", "vector")
    #: activations are inside the path's per-bit read energy (amortised per 1 KB row)
    informational_actions = frozenset({"bundle_activations"})
    config: LogicPimConfig
    #: DRAM path energy (technology library kind) and the die the units sit on
    dram_kind = "hbm3_duplex_logic_pim"
    placement = "logic_die"
    #: components on the DRAM die (area x the DRAM-process factor); the rest on the logic die
    dram_die_parts: tuple[str, ...] = ()

    # -- the memory it reads -----------------------------------------------------------------
    def _dram(self):
        from ...memory.dram import DramMemory
        mem = self.context.memory if self.context else None
        if not isinstance(mem, DramMemory):
            raise AccelsimError(f"a {self.config.type} unit needs a 'type: dram' memory (its "
                                f"memory is {type(mem).__name__ if mem is not None else 'not bound'})")
        return mem

    def context_key(self) -> tuple:
        return (self.context.memory.timing_key(),) if self.context else ()

    @property
    def stacks(self) -> int:
        mem = self._dram()
        have = max(1, mem.channels // mem.standard.organisation.channels_per_stack)
        if self.config.stacks and self.config.stacks > have:
            raise AccelsimError(f"{self.config.type} unit: stacks {self.config.stacks} exceeds "
                                f"the {have} stack(s) of its memory")
        return self.config.stacks or have

    @property
    def channels(self) -> int:
        return self.stacks * self._dram().standard.organisation.channels_per_stack

    @property
    def clock_ghz(self) -> float:
        return self.config.clock_ghz or self._dram().device_clock_ghz

    def bundle(self):
        """The memory's all-bank-bundle read mode (one pseudo-channel)."""
        from ...memory.dram.bank_bundle import bundle_read
        mem = self._dram()
        return bundle_read(mem.standard, self.config.bundle_banks_per_group,
                           mem.config.refresh, self.config.bundle_faw)

    def bandwidth_gb_s(self, peak: bool = False) -> float:
        """Bank-bundle bandwidth of all the unit's stacks, sustained (``peak``: the column rate,
        no activation or refresh). With ``bundle_timing: ideal`` the sustained rate is the
        authors' ideal one (``ideal_gb_s``)."""
        b = self.bundle()
        if not peak and self.config.bundle_timing == "ideal":
            return self.ideal_gb_s()
        return self.channels * (b.peak_gb_s if peak else b.gb_s)

    def ideal_gb_s(self) -> float:
        """The bundle reads as the Duplex authors' simulator times them with its released
        config (shenjiangqiu/LLMSimulator@4192527, config.yaml line 19 ``use_ramulator: off``):
        every Logic-PIM / Bank-PIM op takes max(FLOPs / peak, bytes / bandwidth) with
        bandwidth = logic_x (4) or pim_x (16) x the xPU's memory_bandwidth
        (src/hardware/hardware_config.h lines 90-91; linear_impl.cpp lines 80-99 and 118-128),
        no row activation, turnaround or refresh, and no address map (the Logic-PIM map,
        mmap_controller.cpp ``addrToVecLOGIC``, feeds only the Ramulator path,
        memory_object.cpp line 22). Here: the bundle's column ratio (``BundleRead.column_ratio``,
        4 / 16 from the standard's tCCD_L) x the memory's ideal path bandwidth (its
        ``bandwidth_gb_s`` override, the authors' 3,352 GB/s on configs/duplex/xpu.yaml, else the
        bus peak of its channels), for the unit's share of the memory's channels."""
        mem, b = self._dram(), self.bundle()
        path = mem.config.bandwidth_gb_s or mem.channels * b.normal_bytes_per_ck / b.tck_ns
        return b.column_ratio * path * self.channels / mem.channels

    def bundle_bytes_per_cycle(self) -> float:
        return self.bandwidth_gb_s() / self.clock_ghz

    def opb(self) -> float:
        """Peak FLOPs per byte of the bank bundles' column rate (the paper's peak Op/B)."""
        return 2 * self.peak().macs * self.clock_ghz / self.bandwidth_gb_s(peak=True)

    # -- what it runs ---------------------------------------------------------------------
    def peak(self, dtypes=()) -> Peak:
        c = self.config
        return Peak.of_macs(self.stacks * c.modules_per_stack * c.macs_per_module)

    def check(self, op: Op) -> None:
        self.bundle()           # the memory must have the bank bundles this unit reads
        _ = self.stacks         # and the stacks
        if isinstance(op, Vector):
            if op.op not in VECTOR_OPS:
                raise AccelsimError(f"vector op {op.op!r} is not a softmax or activation (the "
                                    f"softmax unit and activation module run "
                                    f"{', '.join(VECTOR_OPS)})")
            return
        if not isinstance(op, Gemm):
            raise AccelsimError("runs GEMMs, softmax and activations only")
        mine = dtype(self.config.dtype)
        for name in (op.a_dtype, op.b_dtype):
            d = dtype(name)
            if not d.is_float or d.bits > mine.bits or (d.name != mine.name and d.bits == 16):
                raise AccelsimError(f"operand {d.name} does not fit the {mine.name} MACs")

    def lower(self, op: Op):
        """Attention pinned here runs as its primitives (QK^T GEMMs on the GEMM modules,
        softmax on the softmax unit, PV GEMMs), not as a fused kernel."""
        if isinstance(op, Attention) and not isinstance(op, FlashAttention):
            return op.lower()
        return None

    # -- timing ---------------------------------------------------------------------------
    def _cost(self, op: Op) -> OpCost:
        if isinstance(op, Vector):
            return self._vector_cost(op)
        assert isinstance(op, Gemm)
        b = op.operand_bytes()
        groups = len(op.groups) if isinstance(op, GroupedGemm) else op.batch
        a_per_group = b["A"] / groups
        passes = max(1, math.ceil(a_per_group / (self.config.buffer_kb * 1024) - 1e-9))
        streamed = passes * (b["B"] + b.get("B_scales", 0.0))
        macs = float(op.macs())
        mac_cycles = macs / self.peak().macs
        read_cycles = streamed / self.bundle_bytes_per_cycle()
        cycles = max(mac_cycles, read_cycles)
        tiles = TileSchedule(compute=np.full(TILES, cycles / TILES), traffic=(
            Traffic("A", read=np.full(TILES, b["A"] / TILES)),
            Traffic("C", write=np.full(TILES, b["C"] / TILES))))
        rows = streamed / self._dram().standard.organisation.row_bytes
        buf_bits = 8.0 * (b["A"] * passes + b["C"])
        return OpCost(self.name, tiles, macs, 2 * macs, {"sram_read": b["A"] * passes,
                                                        "sram_write": b["C"]},
                      {"pim_macs": macs, "bundle_read_bits": 8.0 * streamed,
                       "bundle_activations": rows, "buffer_read_bits": buf_bits / 2,
                       "buffer_write_bits": buf_bits / 2}, self.peak(),
                      detail={"passes": float(passes), "mac_cycles": mac_cycles,
                              "bundle_cycles": read_cycles},
                      kernel=f"{self.config.type}: {'bundle-bound' if read_cycles > mac_cycles else 'MAC-bound'}"
                             f", {passes} pass(es) over B")

    def _vector_cost(self, op: Vector) -> OpCost:
        rate = self.stacks * self.config.vector_flops_per_cycle
        flops = op.flops()
        cycles = max(1.0, math.ceil(max(flops, op.elements()) / rate))
        nbytes = sum(op.operand_bytes().values())
        tiles = TileSchedule(compute=np.array([float(cycles)]))
        return OpCost(self.name, tiles, 0.0, flops, {"sram_read": nbytes, "sram_write": nbytes},
                      {f"vector_op_{dtype(op.dtype).name}": flops,
                       "softmax_read_bits": 8.0 * nbytes, "softmax_write_bits": 8.0 * nbytes},
                      Peak.of_flops(rate), kernel=f"{self.config.type}: on-die {op.op}")

    # -- hardware -------------------------------------------------------------------------
    def components(self) -> list[Component] | None:
        """MACs, module buffers, the two buffers, the softmax buffers, the vector ALUs and the
        bank-bundle reads (per-path DRAM energy). Area of the TSVs and the DRAM-process factor:
        ``area_breakdown_mm2``."""
        c, s = self.config, self.stacks
        buf = {"softmax_read_bits": "read_bit", "softmax_write_bits": "write_bit"}
        comps = [
            Component("gemm_macs", "mac", s * c.modules_per_stack * c.macs_per_module,
                      {"dtype": c.dtype, "acc": c.acc_dtype}
                      | ({"energy_kind": c.mac_energy_kind} if c.mac_energy_kind else {}),
                      {"pim_macs": "mac"}),
            Component("module_buffers", "sram", s * c.modules_per_stack,
                      {"capacity_bytes": c.module_buffer_kb * 1024}),
            Component("buffers", "sram", s * c.buffers,
                      {"capacity_bytes": c.buffer_kb * 1024, "width_bits": 512},
                      {"buffer_read_bits": "read_bit", "buffer_write_bits": "write_bit"}),
            Component("vector", "vector_alu", s * c.vector_flops_per_cycle,
                      {"hw_dtype": c.dtype}, {"vector_op_*": "flop"}),
            Component("bundle_reads", "dram", 1, {"kind": self.dram_kind},
                      {"bundle_read_bits": "read_bit"}),
            Component("softmax_buffers", "sram", s,
                      {"capacity_bytes": c.softmax_buffer_kb * 1024}, buf),
        ]
        return comps

    def area_breakdown_mm2(self, node_nm: float, per_stack: bool = True) -> dict[str, float]:
        """Area by part (mm2) at ``node_nm``: the library's component models, x the
        DRAM-process factor on the DRAM die, plus the added TSVs (the paper's figure, the
        library's ``tsv`` row) on the logic die. Parts: tsv, gemm (MACs + module buffers),
        buffers, softmax (its buffers + the vector ALUs), total."""
        from ...cost import techlib
        from ...cost.components import build
        factor = techlib.get("logic_process", "dram_area_factor").value
        n = 1.0 / self.stacks if per_stack else 1.0
        area = {p.name: build(p.kind, dict(p.params), node_nm).area_um2 * p.count * n * 1e-6
                * (factor if p.name in self.dram_die_parts else 1.0)
                for p in self.components() or [] if p.kind != "dram"}
        out = {"tsv": (techlib.get("tsv", "area").value * (self.stacks * n)
                       if self.placement == "logic_die" else 0.0),
               "gemm": area["gemm_macs"] + area["module_buffers"],
               "buffers": area["buffers"],
               "softmax": area["softmax_buffers"] + area["vector"]}
        out["total"] = sum(out.values())
        return out


@register_unit("bankgroup_pim")
class BankGroupPimUnit(LogicPimUnit):
    """Logic-PIM's bandwidth and compute with the units on the DRAM die [P Sec 6]."""

    config_model = BankGroupPimConfig
    config: BankGroupPimConfig
    dram_kind = "hbm3_duplex_bankgroup_pim"
    placement = "dram_die"
    dram_die_parts = ("gemm_macs", "module_buffers", "buffers", "softmax_buffers", "vector")


@register_unit("bank_pim")
class BankPimUnit(LogicPimUnit):
    """Units next to every bank: all banks read at once, peak Op/B 1 [P Sec 6]."""

    config_model = BankPimConfig
    config: BankPimConfig
    dram_kind = "hbm3_duplex_bank_pim"
    placement = "dram_die"
    #: "softmax and activation stay on the logic die" [P Sec 6], with the input buffers
    dram_die_parts = ("gemm_macs", "module_buffers")
