"""MixPE array (``type: mixpe``): low-bit-weight x INT8/FP16 GEMMs by shift-and-add, with one
dequantisation per (output, quantisation group) after the group's partial sum.

After Zhang et al., "MixPE: Quantization and Hardware Co-design for Efficient LLM Inference",
arXiv 2411.16158 (abstract: "performing dequantization after per-group mpGEMM" and "efficient
shift&add operations for multiplication"); the arithmetic is ``accelsim.functional.mixpe``.

Array: R x C PEs with a dataflow (os / ws / is), one MAC-equivalent per PE per cycle: a PE
forms a * q as a tree of (w_bits - 1) adders over the activation's shifted copies, selected by
the weight's bits, and accumulates the products of one group of ``group_size`` K elements
(int32 for INT8 activations, fp32 for FP16/BF16). **Timing and DRAM traffic are the systolic
array's** (``SystolicArray`` fold schedule, SRAM reuse and stream tiling, run on an internal
systolic array of the same shape): the operand bytes are the low-bit weights plus one fp16
scale per group, the activations and the outputs.

Dequantisation: the group's partial sums leave the array (os: drained down each column after
every group, through a shadow accumulator; ws/is: at the column bottoms, or at taps every
``group_size`` rows when a group is shorter than the array) into per-column dequantisers, each
one op per cycle: zero-point correction P - z*S_g (integer), one FP32 scale multiply and one
FP32 accumulate into the output. Dequantisers: C for os, C * ceil(R / group_size) for ws/is
(one per tap). Their work, D = M N G ops (G = ceil(K / op group size)), takes
ceil(D / dequantisers) cycles. ``dequant_overlap: true`` (default): they run concurrently with
the array (the next group's products accumulate while the last group is dequantised), so only
max(0, dequant cycles - array compute cycles) plus ``dequant_pipeline`` cycles are exposed, at
the end; false: the dequantisation is serialised after each group, adding its cycles to the
folds. This total-rate bound is an approximation: it does not check the rate fold by fold.

Actions are the closed forms of ``accelsim.functional.mixpe_counts`` (checked equal to what
the numpy reference counts doing the product): ``mixpe_bit_selects``, ``mixpe_shift_adds``,
``mixpe_partial_adds``, ``mixpe_group_sum_adds`` and ``mixpe_zero_corrections`` (zero points
only), ``mixpe_scale_muls``, ``mixpe_accumulate_adds``; plus the systolic array's register,
link and SRAM bits at MixPE's operand widths (``pe_forward_bits``, ``pe_shift_bits``,
``<acts|weights|outputs>_sram_<read|write>_bits``).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from ...config.bounds import SaneModel, check_pes
from ...cost.arith import EXPONENT_BITS
from ...errors import AccelsimError
from ...workload.dtypes import DType, dtype, dtype_choice
from ...workload.ops import Gemm, Op
from ..base import Component, OpCost, Peak, Unit, UnitConfig
from ..registry import register_unit
from .systolic import ACC_BITS, fits, inner_array, sram_component

#: weights a MixPE PE multiplies by shift-and-add (the paper's W2 / W4 / W8)
WEIGHT_DTYPES = ("int2", "int4", "int8")
#: activations it takes (W4A8 and W4A16 in the paper and artifact; bf16 as a 16-bit variant)
ACT_DTYPES = ("int8", "fp16", "bf16")
#: unit action -> field of ``MixpeCounts``
COUNTED = {"mixpe_bit_selects": "bit_selects", "mixpe_shift_adds": "shift_adds",
           "mixpe_partial_adds": "partial_adds", "mixpe_group_sum_adds": "group_sum_adds",
           "mixpe_zero_corrections": "zero_corrections", "mixpe_scale_muls": "scale_muls",
           "mixpe_accumulate_adds": "accumulate_adds"}
#: the systolic array's SRAM names -> MixPE's
SRAM_NAMES = {"ifmap": "acts", "filter": "weights", "ofmap": "outputs"}


class MixpeSram(SaneModel):
    """Operand SRAMs (KiB each); defaults are the MixPE artifact's 128 / 256 / 128 KB."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    weights_kb: float = Field(128, gt=0, le=1e6, allow_inf_nan=False)
    acts_kb: float = Field(256, gt=0, le=1e6, allow_inf_nan=False)
    outputs_kb: float = Field(128, gt=0, le=1e6, allow_inf_nan=False)
    double_buffered: bool = True


class MixpeConfig(UnitConfig):
    type: Literal["mixpe"] = "mixpe"
    rows: int = Field(gt=0, le=65536, description="PE rows (R)")
    cols: int = Field(gt=0, le=65536, description="PE columns (C)")
    dataflow: Literal["os", "ws", "is"] = Field("os", description="as the systolic array's; "
                                                "the MixPE artifact is output-stationary")
    weight_dtype: str = Field("int4", description="widest weight the shift-add tree takes "
                              "(int2, int4, int8); GEMMs with integer weights of at most as "
                              "many bits run on it")
    act_dtype: str = Field("int8", description="activation format (int8, fp16, bf16); GEMMs "
                           "whose activations it holds exactly run on it")
    zero_point: bool = Field(True, description="weights are unsigned codes with a per-group "
                             "zero point (asymmetric); false: signed symmetric weights")
    group_size: int = Field(128, gt=0, le=1 << 20, description="quantisation group (K "
                            "elements) the group accumulators and dequantisers are built for; "
                            "ops need a multiple of it or per-channel scales")
    dequant_overlap: bool = Field(True, description="dequantisers run concurrently with the "
                                  "array; false: serialised after each group")
    dequant_pipeline: int = Field(3, ge=0, le=1000, description="cycles from a group's last "
                                  "partial sum to its dequantised, accumulated output "
                                  "(correction, FP multiply, FP add)")
    fold_overlap: bool = True
    stationary_double_buffer: bool = True
    stream_tiling: bool = True
    sram: MixpeSram = MixpeSram()

    @field_validator("weight_dtype")
    @classmethod
    def _weights(cls, v: str) -> str:
        return dtype_choice(v, WEIGHT_DTYPES, "weight_dtype", "MixPE multiplies low-bit integer "
                       "weights by shift-and-add; float weights need a MAC array")

    @field_validator("act_dtype")
    @classmethod
    def _acts(cls, v: str) -> str:
        return dtype_choice(v, ACT_DTYPES, "act_dtype", "the PE's activation operand")

    @model_validator(mode="after")
    def _pe_count(self) -> "MixpeConfig":
        check_pes(self.rows * self.cols, "rows x cols")
        return self


def weight_bits(d: DType) -> int:
    """Bit planes of an integer weight dtype (ternary codes take 2)."""
    return math.ceil(d.bits)


def holds(act: DType, unit_act: DType) -> bool:
    """Whether activations of ``act`` are exact in the unit's activation format: the
    systolic array's rule, plus no wider exponent for floats (bf16 does not fit fp16)."""
    if not fits(act, unit_act):
        return False
    return not (act.is_float and EXPONENT_BITS.get(act.name, 99)
                > EXPONENT_BITS[unit_act.name])


@register_unit("mixpe")
class MixpeArray(Unit):
    """MixPE PE array: shift-and-add products, per-group partial sums, per-column dequantisers
    (module docstring); timing and traffic from the systolic array."""

    config_model = MixpeConfig
    categories = ("gemm",)
    informational_actions = frozenset({"pe_cycles", "mixpe_products"})
    config: MixpeConfig

    def __init__(self, name: str, config: MixpeConfig) -> None:
        super().__init__(name, config)
        #: the array that owns timing and DRAM traffic (same shape, dataflow and SRAMs)
        self.array = inner_array(name, config, pe_dtype="int8")

    # -- what it runs ------------------------------------------------------------------------
    @property
    def act(self) -> DType:
        return dtype(self.config.act_dtype)

    @property
    def float_acts(self) -> bool:
        return self.act.is_float

    def peak(self, dtypes=()) -> Peak:
        """One MAC-equivalent (a shift-add tree result) per PE per cycle."""
        return Peak.of_macs(self.config.rows * self.config.cols)

    def check(self, op: Op) -> None:
        cfg = self.config
        if type(op) is not Gemm:
            raise AccelsimError("runs plain GEMMs only")
        b, a = dtype(op.b_dtype), dtype(op.a_dtype)
        if b.is_float:
            raise AccelsimError(f"weights {b.name} are floating point; MixPE PEs multiply "
                                f"integer weights of up to {cfg.weight_dtype} by shift-and-add "
                                f"(put full-precision GEMMs on another unit)")
        if weight_bits(b) > dtype(cfg.weight_dtype).bits:
            raise AccelsimError(f"weights {b.name} are wider than this unit's weight_dtype "
                                f"{cfg.weight_dtype}")
        if not holds(a, self.act):
            raise AccelsimError(f"activations {a.name} do not fit this unit's act_dtype "
                                f"{self.act.name}")
        if op.group_size is not None and op.group_size % cfg.group_size:
            raise AccelsimError(f"quantisation group {op.group_size} is not a multiple of the "
                                f"unit's group_size {cfg.group_size}")

    # -- dequantisers ------------------------------------------------------------------------
    def dequantizers(self) -> int:
        """Per-column dequantisers: C (os), C * ceil(R / group_size) taps (ws/is)."""
        cfg = self.config
        if cfg.dataflow == "os":
            return cfg.cols
        return cfg.cols * max(1, math.ceil(cfg.rows / cfg.group_size))

    # -- energy / area -----------------------------------------------------------------------
    def tree_bits(self) -> int:
        """Width of the shift-add tree: activation (significand for floats) + weight bits."""
        a = self.act
        return (a.mantissa_bits + 1 if a.is_float else int(a.bits)) \
            + int(dtype(self.config.weight_dtype).bits)

    def pe_register_bits(self) -> float:
        """Register bits per PE: forwarded operands, group accumulator (os: plus the shadow
        that drains a finished group), stationary register(s)."""
        cfg = self.config
        a, w = self.act.bits, dtype(cfg.weight_dtype).bits
        stationary = 2 if cfg.stationary_double_buffer else 1
        return {"os": a + w + 2 * ACC_BITS, "ws": a + ACC_BITS + stationary * w,
                "is": w + ACC_BITS + stationary * a}[cfg.dataflow]

    def components(self) -> list[Component]:
        """PE shift-add trees, bit selects, group accumulators, registers and links; the
        dequantisers (FP32 scale multiplier and accumulator, zero-point correction); the
        group-sum adders; the three SRAMs."""
        cfg = self.config
        n, w = cfg.rows * cfg.cols, int(dtype(cfg.weight_dtype).bits)
        a_bits = self.act.mantissa_bits + 1 if self.float_acts else int(self.act.bits)
        acc = "fp32" if self.float_acts else "int32"
        n_dq = self.dequantizers()
        moved = {"pe_forward_bits": "write_bit", "pe_shift_bits": "write_bit"}

        sram = sram_component
        comps = [
            # shifts are hard-wired in the tree: adders only (max_shift 0, no barrel shifter)
            Component("pe_shift_add", "shift_add", n * (w - 1),
                      {"bits": self.tree_bits(), "max_shift": 0}, {"mixpe_shift_adds": "op"}),
            Component("pe_bit_select", "mux", n * w, {"inputs": 2, "width_bits": a_bits},
                      {"mixpe_bit_selects": "select"}),
            Component("pe_group_acc", "adder", n, {"dtype": acc}, {"mixpe_partial_adds": "add"}),
            Component("pe_regs", "register", n, {"bits": self.pe_register_bits()}, moved),
            Component("pe_links", "wire", 1,
                      {"pitch_of": ("pe_shift_add", "pe_bit_select", "pe_group_acc", "pe_regs")},
                      {k: "bit" for k in moved}),
            Component("dq_scale_mul", "multiplier", n_dq, {"dtype": "fp32"},
                      {"mixpe_scale_muls": "mul"}),
            Component("dq_accumulate", "adder", n_dq, {"dtype": "fp32"},
                      {"mixpe_accumulate_adds": "add"}),
        ]
        if cfg.zero_point:
            comps += [
                Component("dq_zero_correct", "mac", n_dq,
                          {"dtype": "fp32", "acc": "fp32"} if self.float_acts
                          else {"dtype": "int16", "acc": "int32"},
                          {"mixpe_zero_corrections": "mac"}),
                Component("group_sum", "adder", cfg.rows, {"dtype": acc},
                          {"mixpe_group_sum_adds": "add"})]
        return comps + [sram("acts", cfg.sram.acts_kb, cfg.rows * self.act.bits),
                        sram("weights", cfg.sram.weights_kb, cfg.cols * w),
                        sram("outputs", cfg.sram.outputs_kb, cfg.cols * ACC_BITS)]

    # -- cost --------------------------------------------------------------------------------
    def _cost(self, op: Op) -> OpCost:
        from ...functional import mixpe_counts
        assert isinstance(op, Gemm)
        cfg = self.config
        base = self.array._cost(op)            # systolic folds, SRAM reuse, DRAM traffic
        bits = weight_bits(dtype(op.b_dtype))
        c = mixpe_counts(op.m * op.batch, op.n, op.k, bits, op.group_size,
                         zero_point=cfg.zero_point)
        G = 1 if op.group_size is None else math.ceil(op.k / op.group_size)

        # dequantisers: a throughput bound, hidden behind the array or serialised (docstring)
        n_dq = self.dequantizers()
        dq_cycles = float(math.ceil(c.scale_muls / n_dq))
        array_cycles = base.compute_cycles
        compute, tail = base.tiles.compute, base.tiles.tail + cfg.dequant_pipeline
        if cfg.dequant_overlap:
            exposed = max(0.0, dq_cycles - array_cycles)
            tail += exposed
        else:
            exposed = dq_cycles
            compute = compute + dq_cycles / base.tiles.n  # every fold (class)
        tiles = replace(base.tiles, compute=np.asarray(compute, dtype=float), tail=tail)

        # actions: the counted arithmetic, the array's movement at MixPE's operand widths
        a_b, w_b = dtype(op.a_dtype).bits, float(bits)
        df = cfg.dataflow
        fwd = {"os": a_b + w_b + ACC_BITS, "ws": a_b + ACC_BITS, "is": w_b + ACC_BITS}[df]
        hops = base.actions["pe_shift_bits"] / (ACC_BITS if df == "os" else 8)
        shift = hops * ({"os": ACC_BITS * G, "ws": w_b, "is": a_b}[df])
        actions: dict[str, float] = {
            "pe_cycles": float(tiles.compute_cycles()) * cfg.rows * cfg.cols,
            "mixpe_products": float(c.products),
            "pe_forward_bits": c.products * fwd, "pe_shift_bits": shift}
        for key, f in COUNTED.items():
            v = getattr(c, f)
            if v or f not in ("group_sum_adds", "zero_corrections"):
                actions[key] = float(v)
        for sa, mine in SRAM_NAMES.items():
            for rw in ("read", "write"):
                actions[f"{mine}_sram_{rw}_bits"] = base.actions[f"{sa}_sram_{rw}_bits"]
        detail = dict(base.detail, dequant_ops=float(c.scale_muls), dequantizers=float(n_dq),
                      dequant_cycles=dq_cycles, dequant_exposed_cycles=exposed)
        hidden = "hidden" if cfg.dequant_overlap and exposed == 0 else f"{exposed:,.0f} exposed"
        kernel = (f"mixpe {cfg.rows}x{cfg.cols} {df} {dtype(op.b_dtype).name} x "
                  f"{dtype(op.a_dtype).name}, "
                  f"{tiles.n} folds; dequant {c.scale_muls:,} ops (G={G}) on {n_dq} "
                  f"dequantisers, {dq_cycles:,.0f} cycles {hidden}")
        return OpCost(unit=self.name, tiles=tiles, macs=base.macs, flops=base.flops,
                      bytes=dict(base.bytes), actions=actions, peak=self.peak(), detail=detail,
                      kernel=kernel)
