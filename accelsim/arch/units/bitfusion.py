"""BitFusion-like bit-flexible array (``type: bitfusion``), and the fused-PE machinery that the
ANT-like array (``ant.py``) shares.

After Sharma et al., "Bit Fusion: Bit-Level Dynamically Composable Architecture for
Accelerating Deep Neural Networks", ISCA 2018 (arXiv 1712.01507). A Fusion Unit (FU) holds
(max_bits / brick_bits)^2 BitBricks, 2-bit x 2-bit multipliers: 16 for 8-bit operands. The
bricks fuse into one 8x8 multiplier, or two 8x4, four 4x4, sixteen 2x2. An FU therefore forms

    pf_a * pf_w products per cycle,   pf(p) = max_bits / p',   p' = p rounded up to a power of
                                                                    two of at least min_bits

at a-bit activations and w-bit weights. The brief's "(8 / w_bits) * (8 / a_bits)". It is also
the perf factor of BitFusion's own simulator, which the MixPE artifact runs:
yuzhang712/mixpe_simulator@7e0d42c bitfusion/src/simulator/accelerator.py,
pf(p) = floor(high_prec / max(p, low_prec)).

**Timing and DRAM traffic: the systolic array's** (``SystolicArray``: fold schedule, SRAM reuse,
stream tiling), run on a *virtual* array of (R pf_a) x (C pf_w) lanes. An FU's pf_a activation
lanes lie along the rows (os: M) and its pf_w weight lanes along the columns (N). This is the
artifact's output-stationary formula, ceil(M / (R pf_a)) * ceil(N / (C pf_w)) * K cycles per
layer, and BitFusion's weight-stationary one for ws (rows: K). The virtual array's skew
(R pf_a + C pf_w - 2 cycles per fill and drain) is used unchanged. That is an approximation: the
physical skew is R + C - 2.

**Weights with group-wise scales** (``Gemm.group_size``): integer bricks cannot apply a scale
per group inside a dot product. With ``weight_dequant: true`` (default) such weights are
dequantised to max_bits integers (one channel scale) as they enter the array, as the systolic
array's ``weight_dequant`` does: one int8 dequantiser MAC per weight element entering the array,
one dequantiser per feeding column, pipelined with the loads, no extra cycles. The GEMM then runs
at pf_w = 1. This is why the artifact tags its BitFusion layers 8-bit (bitfusion_bench.py).
Per-channel weights (``group_size: None``) run at their own width. Float operands are errors.

Actions per op (P = M N K products; a product of a'-bit x w'-bit lanes takes
beta = (a'/b)(w'/b) bricks, b = brick_bits): ``bitfusion_brick_muls`` beta P; the FU's
shift-add tree, log2(bricks) levels, level l holding bricks / 2^l adders that join two partial
products of the level below (widths b (2^floor(l/2) + 2^ceil(l/2)): 6, 8, 12, 16 bits for
8-bit FUs; each shift is fixed per mode, so one 2:1 mux stage), of which a product uses the
lowest log2(beta) levels: ``bitfusion_tree_l<l>`` P beta / 2^l; ``bitfusion_accumulates`` P
(int32). Then ``pe_forward_bits``: per FU cycle, the operand lanes (max_bits each) and the
accumulators (os) or pf_w partial sums (ws/is). Then ``pe_shift_bits``, the virtual array's
stationary preloads or output drains at lane width. Then ``dequant_ops``, and
``<acts|weights|outputs>_sram_<read|write>_bits`` (the systolic array's). Components are all
library kinds: brick multipliers, the tree's shift-adders, int32 accumulators, registers,
links, three SRAMs and the dequantisers. docs/mixpe.md has the table.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ...config.bounds import check_pes
from ...errors import AccelsimError
from ...workload.dtypes import DType, dtype
from ...workload.ops import Gemm, Op
from ..base import Component, OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig
from ..registry import register_unit
from .mixpe import MixpeSram
from .systolic import ACC_BITS, SystolicArray, inner_array, sram_component

#: the systolic array's SRAM names -> the fused arrays' (as the mixpe unit's)
SRAM_NAMES = {"ifmap": "acts", "filter": "weights", "ofmap": "outputs"}
#: operand SRAMs of the fused arrays; defaults are the MixPE artifact's 128 / 256 / 128 KB
OperandSram = MixpeSram


def lane_bits(bits: float, min_bits: int, max_bits: int) -> int:
    """The lane width an operand of ``bits`` occupies: the next power of two, at least
    ``min_bits`` (ternary: 2 bits; 3 bits: 4)."""
    lane = max(min_bits, 1 << max(0, math.ceil(math.log2(max(bits, 1.0)))))
    if lane > max_bits:
        raise AccelsimError(f"{bits:g}-bit operands are wider than the array's {max_bits} bits")
    return lane


class FusedConfig(UnitConfig):
    """Keys shared by the fused-PE arrays (BitFusion-like, ANT-like)."""

    rows: int = Field(gt=0, le=65536, description="fused PEs along the rows (R)")
    cols: int = Field(gt=0, le=65536, description="fused PEs along the columns (C)")
    dataflow: Literal["os", "ws", "is"] = Field("os", description="as the systolic array's; "
                                                "the MixPE artifact's model is os")
    fold_overlap: bool = True
    stationary_double_buffer: bool = True
    stream_tiling: bool = True
    sram: OperandSram = OperandSram()

    @model_validator(mode="after")
    def _pe_count(self) -> "FusedConfig":
        check_pes(self.rows * self.cols, "rows x cols")
        return self


class FusedArray(Unit):
    """An R x C array of fused PEs whose timing and traffic are a virtual systolic array's
    (module docstring). Subclasses set ``max_bits`` / ``min_bits`` and the arithmetic."""

    categories = ("gemm",)
    config: FusedConfig

    def __init__(self, name: str, config: FusedConfig) -> None:
        super().__init__(name, config)
        self._arrays: dict[tuple[int, int], SystolicArray] = {}

    @property
    def max_bits(self) -> int:
        raise NotImplementedError

    @property
    def min_bits(self) -> int:
        raise NotImplementedError

    def pack(self, lane: int) -> int:
        """Lanes of ``lane`` bits one fused PE holds per operand (pf)."""
        return self.max_bits // lane

    def virtual(self, pa: int, pw: int) -> SystolicArray:
        """The systolic array of (R pa) x (C pw) lanes that times a GEMM at these packings."""
        hit = self._arrays.get((pa, pw))
        if hit is None:
            cfg = self.config
            hit = self._arrays[pa, pw] = inner_array(self.name, cfg, cfg.rows * pa,
                                                     cfg.cols * pw)
        return hit

    def peak_at(self, a_lane: int, w_lane: int) -> Peak:
        return Peak.of_macs(self.config.rows * self.config.cols
                            * self.pack(a_lane) * self.pack(w_lane))

    def run(self, op: Gemm, a_lane: int, w_lane: int) -> tuple[OpCost, dict[str, float]]:
        """The virtual array's cost of ``op`` at these lane widths, and the movement actions
        (register, link and SRAM bits) of the physical fused PEs."""
        pa, pw = self.pack(a_lane), self.pack(w_lane)
        base = self.virtual(pa, pw)._cost(op)
        macs, df, mx = base.macs, self.config.dataflow, float(self.max_bits)
        per_cycle = 2 * mx + ACC_BITS * pa * pw if df == "os" else mx + ACC_BITS * pw
        lane = {"os": ACC_BITS, "ws": w_lane, "is": a_lane}[df]
        shift = base.actions["pe_shift_bits"] / (ACC_BITS if df == "os" else 8) * lane
        acts = {"pe_cycles": float(base.tiles.compute_cycles()) * self.config.rows
                * self.config.cols,
                "pe_forward_bits": macs * per_cycle / (pa * pw), "pe_shift_bits": shift}
        for sa, mine in SRAM_NAMES.items():
            for rw in ("read", "write"):
                acts[f"{mine}_sram_{rw}_bits"] = base.actions[f"{sa}_sram_{rw}_bits"]
        return base, acts

    def accumulator_lanes(self) -> int:
        """int32 accumulators per fused PE: os keeps every product's output in place (pf_a
        pf_w at the narrowest lanes), ws/is pass pf_w partial sums down."""
        p = self.max_bits // self.min_bits
        return p * p if self.config.dataflow == "os" else p

    def pe_register_bits(self) -> float:
        cfg, mx = self.config, self.max_bits
        acc = ACC_BITS * self.accumulator_lanes()
        if cfg.dataflow == "os":
            return 2 * mx + acc
        return mx + acc + (2 if cfg.stationary_double_buffer else 1) * mx

    def movement_components(self, pitch_of: tuple[str, ...]) -> list[Component]:
        """Registers, links and the three operand SRAMs of the array."""
        cfg = self.config
        n, mx = cfg.rows * cfg.cols, self.max_bits
        moved = {"pe_forward_bits": "write_bit", "pe_shift_bits": "write_bit"}

        sram = sram_component
        return [Component("pe_regs", "register", n, {"bits": self.pe_register_bits()}, moved),
                Component("pe_links", "wire", 1, {"pitch_of": (*pitch_of, "pe_regs")},
                          {k: "bit" for k in moved}),
                sram("acts", cfg.sram.acts_kb, cfg.rows * mx),
                sram("weights", cfg.sram.weights_kb, cfg.cols * mx),
                sram("outputs", cfg.sram.outputs_kb, cfg.cols * ACC_BITS)]


def blend(parts: list[tuple[OpCost, float]], **changes) -> OpCost:
    """One OpCost for an op of which fraction w_i runs as ``parts[i]`` (same op, other
    formats): folds concatenated with their cycles and bytes scaled by w_i, actions, bytes and
    details weighted. The expectation over the layers that take each format."""
    parts = [(c, float(w)) for c, w in parts if w > 0]
    if len(parts) == 1:
        return replace(parts[0][0], **changes)
    parts = [(replace(c, tiles=c.tiles.dense()), w) for c, w in parts]  # per fold, in order
    first = parts[0][0]

    def cat(i: int, field: str) -> np.ndarray | None:
        arrays = [getattr(c.tiles.traffic[i], field) for c, _ in parts]
        if all(a is None for a in arrays):
            return None
        return np.concatenate([(a if a is not None else np.zeros(c.tiles.n)) * w
                               for a, (c, w) in zip(arrays, parts)])

    traffic = tuple(Traffic(t.operand, read=cat(i, "read"), write=cat(i, "write"),
                            memory=t.memory, pattern=t.pattern)
                    for i, t in enumerate(first.tiles.traffic))
    tiles = TileSchedule(compute=np.concatenate([c.tiles.compute * w for c, w in parts]),
                         traffic=traffic, tail=sum(c.tiles.tail * w for c, w in parts),
                         double_buffered=first.tiles.double_buffered)

    def mix(get) -> dict[str, float]:
        out: dict[str, float] = {}
        for c, w in parts:
            for k, v in get(c).items():
                out[k] = out.get(k, 0.0) + w * v
        return out

    return replace(first, tiles=tiles, actions=mix(lambda c: c.actions),
                   bytes=mix(lambda c: c.bytes), detail=mix(lambda c: c.detail), **changes)


def integer_operand(d: DType, what: str, why: str) -> None:
    if d.is_float:
        raise AccelsimError(f"{what} {d.name} are floating point; {why}")


class BitFusionConfig(FusedConfig):
    type: Literal["bitfusion"] = "bitfusion"
    max_bits: Literal[8, 16] = Field(8, description="widest operand a fusion unit multiplies "
                                     "(BitFusion: 8; 16 bricks)")
    brick_bits: Literal[1, 2] = Field(2, description="BitBrick width (BitFusion: 2)")
    min_bits: int = Field(2, ge=1, le=16, description="narrowest lane (power of two, >= "
                          "brick_bits); the MixPE artifact's conf_bitfusion.ini low_prec is 4")
    weight_dequant: bool = Field(True, description="dequantise group-wise low-bit weights to "
                                 "max_bits integers as they enter (one int8 MAC each); false: "
                                 "such GEMMs are rejected")

    @model_validator(mode="after")
    def _widths(self) -> "BitFusionConfig":
        m = self.min_bits
        if m & (m - 1) or not self.brick_bits <= m <= self.max_bits:
            raise ValueError(f"min_bits must be a power of two between brick_bits "
                             f"({self.brick_bits}) and max_bits ({self.max_bits}), got {m}")
        return self


@register_unit("bitfusion")
class BitFusionArray(FusedArray):
    """R x C Fusion Units of 2-bit BitBricks (module docstring)."""

    config_model = BitFusionConfig
    informational_actions = frozenset({"pe_cycles", "bitfusion_products"})
    config: BitFusionConfig

    @property
    def max_bits(self) -> int:
        return self.config.max_bits

    @property
    def min_bits(self) -> int:
        return self.config.min_bits

    @property
    def bricks(self) -> int:
        return (self.max_bits // self.config.brick_bits) ** 2

    @property
    def levels(self) -> int:
        """Levels of the FU's shift-add tree: log2(bricks)."""
        return self.bricks.bit_length() - 1

    def tree_bits(self, lvl: int) -> int:
        """Width of a level-``lvl`` adder: a partial product of 2^floor(l/2) x 2^ceil(l/2)
        brick digits."""
        return self.config.brick_bits * ((1 << lvl // 2) + (1 << (lvl + 1) // 2))

    def lanes(self, op: Gemm) -> tuple[int, int, bool]:
        """(activation lane, weight lane, weights dequantised) for ``op``."""
        a, b = dtype(op.a_dtype), dtype(op.b_dtype)
        deq = op.group_size is not None
        w_lane = self.max_bits if deq else lane_bits(b.bits, self.min_bits, self.max_bits)
        return lane_bits(a.bits, self.min_bits, self.max_bits), w_lane, deq

    def peak(self, dtypes=()) -> Peak:
        """pf_a pf_w products per fusion unit per cycle (native: max_bits x max_bits)."""
        if len(dtypes) >= 2:
            a, b = (lane_bits(dtype(d).bits, self.min_bits, self.max_bits) for d in dtypes[:2])
            return self.peak_at(a, b)
        return self.peak_at(self.max_bits, self.max_bits)

    def check(self, op: Op) -> None:
        if type(op) is not Gemm:
            raise AccelsimError("runs plain GEMMs only")
        a, b = dtype(op.a_dtype), dtype(op.b_dtype)
        integer_operand(b, "weights", "BitFusion's bricks multiply integers (put "
                        "full-precision GEMMs on another unit)")
        integer_operand(a, "activations", "BitFusion's bricks multiply integers (quantise "
                        "the activations, e.g. act_dtype int8)")
        for d, what in ((a, "activations"), (b, "weights")):
            if d.bits > self.max_bits:
                raise AccelsimError(f"{what} {d.name} are wider than max_bits {self.max_bits}")
        if op.group_size is not None and not self.config.weight_dequant:
            raise AccelsimError("weights with group-wise scales need weight_dequant: true "
                                "(integer bricks cannot apply a scale per group)")

    def components(self) -> list[Component]:
        """Brick multipliers, the shift-add trees, accumulators, registers, links, SRAMs and
        (weight_dequant) the per-column dequantisers."""
        cfg = self.config
        n, mx, bb = cfg.rows * cfg.cols, self.max_bits, cfg.brick_bits
        comps = [Component("pe_bricks", "multiplier", n * self.bricks, {"dtype": f"int{bb}"},
                           {"bitfusion_brick_muls": "mul"})]
        for lvl in range(1, self.levels + 1):   # fixed shift per mode: one 2:1 mux stage
            comps.append(Component(f"pe_tree_l{lvl}", "shift_add", n * self.bricks >> lvl,
                                   {"bits": self.tree_bits(lvl), "max_shift": 1},
                                   {f"bitfusion_tree_l{lvl}": "op"}))
        comps.append(Component("pe_acc", "adder", n * self.accumulator_lanes(),
                               {"dtype": "int32"}, {"bitfusion_accumulates": "add"}))
        comps += self.movement_components(
            ("pe_bricks", *(f"pe_tree_l{lvl}" for lvl in range(1, self.levels + 1)),
             "pe_acc"))
        if cfg.weight_dequant:
            comps.append(Component("dequant", "mac",
                                   cfg.rows if cfg.dataflow == "is" else cfg.cols,
                                   {"dtype": "int8", "acc": "int8"}, {"dequant_ops": "mac"}))
        return comps

    def _cost(self, op: Op) -> OpCost:
        assert isinstance(op, Gemm)
        a_lane, w_lane, deq = self.lanes(op)
        base, actions = self.run(op, a_lane, w_lane)
        beta = (a_lane // self.config.brick_bits) * (w_lane // self.config.brick_bits)
        P = base.macs
        actions |= {"bitfusion_products": P, "bitfusion_brick_muls": beta * P,
                    "bitfusion_accumulates": P}
        for lvl in range(1, beta.bit_length()):   # the lowest log2(beta) levels
            actions[f"bitfusion_tree_l{lvl}"] = P * beta / (1 << lvl)
        if deq:   # every weight element entering the array (the systolic array's count)
            b_el = dtype(op.b_dtype).bytes + 2.0 / op.group_size
            actions["dequant_ops"] = actions["weights_sram_read_bits"] / 8 / b_el
        pf = self.pack(a_lane) * self.pack(w_lane)
        kernel = (f"bitfusion {self.config.rows}x{self.config.cols} {self.config.dataflow} "
                  f"{a_lane}b x {w_lane}b ({pf} products/FU/cycle"
                  f"{', weights dequantised' if deq else ''}), {base.tiles.n} folds")
        return replace(base, actions=actions, peak=self.peak_at(a_lane, w_lane),
                       detail=dict(base.detail, products_per_pe=float(pf)), kernel=kernel)
