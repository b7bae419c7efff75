"""ANT-like adaptive-type array (``type: ant``): 4-bit adaptive numerical types for most layers,
INT8 for a configured fraction.

After Guo et al., "ANT: Exploiting Adaptive Numerical Data Type for Low-bit Deep Neural Network
Quantization", MICRO 2022 (arXiv 2208.14286). Each tensor is quantised to the 4-bit type (int,
flint, power-of-two) that fits its distribution best. Sensitive layers stay at 8 bits (ANT's
mixed 4/8-bit precision). Decoders turn a 4-bit code into an exponent and an integer, and
4-bit integer multipliers with an exponent shift do the products. Four 4-bit PEs fuse
BitFusion-style into one 8 x 8 integer product.

Array: R x C fused PEs, each 2 x 2 4-bit ANT PEs. Timing and traffic are the fused-PE machinery
of ``bitfusion.py``: the systolic array's schedule on a virtual (R pf_a) x (C pf_w) array,
pf = 8 / lane with lanes of 4 or 8 bits. That is 4 products per fused PE per cycle at 4 x 4,
and 1 at 8 x 8: the MixPE artifact's conf_ant.ini (high_prec 8, low_prec 4).

**The unit runs ANT's quantisation, not the op's formats.** A GEMM with low-bit integer weights
(at most 4 bits) is re-quantised by ANT's per-tensor type selection. A fraction
(1 - ``int8_fraction``) runs in 4-bit types on both operands (W4A4, per-channel scales), and
``int8_fraction`` runs at INT8 on both (W8A8). This is the expectation over the layers, by
``bitfusion.blend``: folds, bytes and actions of the two formats weighted. The op's group
scales are replaced by ANT's per-channel ones, so there is no dequantisation in the loop. The
accuracy is ANT's, not the workload's. A GEMM with 5- to 8-bit integer weights runs at W8A8.
Activations may be integers of up to 8 bits or 16-bit floats, which ANT quantises. Float
weights are rejected, so full-precision GEMMs belong to another unit.
The MixPE artifact keeps floor(n_layers / 5) whole decoder blocks at 8 bits
(ant_bench.py: 6 of 32 for OPT-6.7B, 8 of 40 for Llama2-13B). Hence the default of 0.2.

Actions (P products at lanes a', w' in {4, 8}; beta = (a'/4)(w'/4) 4-bit partial products each):
``ant_muls`` beta P (int4 multipliers), ``ant_shift_adds`` beta P (each partial product is
shifted, by the type's exponent or by the fusion offset, and added into its 32-bit sum),
``ant_decodes`` (4-bit formats only: one per operand element entering the array, at the edge
decoders, each a 16-entry table programmed per tensor for its type), plus the fused arrays'
register, link and SRAM bits.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import Field

from ...errors import AccelsimError
from ...workload.dtypes import dtype
from ...workload.ops import Gemm, Op
from ..base import Component, OpCost, Peak
from ..registry import register_unit
from .bitfusion import FusedArray, FusedConfig, blend, integer_operand

LOW, HIGH = 4, 8
#: a decoded 4-bit code: sign, exponent and integer fields (ours: 8 bits covers flint4)
DECODED_BITS = 8


class AntConfig(FusedConfig):
    type: Literal["ant"] = "ant"
    int8_fraction: float = Field(0.2, ge=0, le=1, allow_inf_nan=False,
                                 description="fraction of the low-bit layers ANT keeps at "
                                 "INT8 (the rest in its 4-bit types); the MixPE artifact: "
                                 "floor(n_layers / 5) / n_layers")


@register_unit("ant")
class AntArray(FusedArray):
    """R x C fused PEs of 2 x 2 4-bit ANT PEs, edge decoders (module docstring)."""

    config_model = AntConfig
    informational_actions = frozenset({"pe_cycles", "ant_products"})
    config: AntConfig

    @property
    def max_bits(self) -> int:
        return HIGH

    @property
    def min_bits(self) -> int:
        return LOW

    def peak(self, dtypes=()) -> Peak:
        """4 products per fused PE per cycle in the 4-bit types (the native format)."""
        return self.peak_at(LOW, LOW)

    def check(self, op: Op) -> None:
        if type(op) is not Gemm:
            raise AccelsimError("runs plain GEMMs only")
        a, b = dtype(op.a_dtype), dtype(op.b_dtype)
        integer_operand(b, "weights", "ANT quantises low-bit integer weights into its "
                        "types; put full-precision GEMMs on another unit")
        if b.bits > HIGH:
            raise AccelsimError(f"weights {b.name} are wider than ANT's 8 bits")
        if (a.bits > HIGH) if not a.is_float else a.bits > 16:
            raise AccelsimError(f"activations {a.name}: ANT quantises integers of up to 8 "
                                f"bits or 16-bit floats")

    def formats(self, op: Gemm) -> list[tuple[int, float]]:
        """(lane bits of both operands, fraction of the op) ANT runs ``op`` in."""
        if dtype(op.b_dtype).bits > LOW:
            return [(HIGH, 1.0)]
        f = self.config.int8_fraction
        return [(LOW, 1.0 - f), (HIGH, f)]

    def components(self) -> list[Component]:
        """4-bit multipliers, shift-accumulators, edge decoders, registers, links, SRAMs."""
        cfg = self.config
        n = cfg.rows * cfg.cols * (HIGH // LOW) ** 2
        lanes = (cfg.rows + cfg.cols) * (HIGH // LOW)
        comps = [
            Component("pe_mul", "multiplier", n, {"dtype": "int4"}, {"ant_muls": "mul"}),
            # the product moves by the type's exponent or the fusion offset (0 / 4 / 8)
            Component("pe_shift_acc", "shift_add", n, {"bits": 32, "max_shift": HIGH},
                      {"ant_shift_adds": "op"}),
            Component("edge_decode", "lut", lanes, {"entries": 1 << LOW,
                                                    "width_bits": DECODED_BITS},
                      {"ant_decodes": "read"})]
        return comps + self.movement_components(("pe_mul", "pe_shift_acc"))

    def _one(self, op: Gemm, lane: int) -> OpCost:
        q = replace(op, dtype=f"int{lane}", w_dtype=f"int{lane}", group_size=None)
        base, actions = self.run(q, lane, lane)
        beta = (lane // LOW) ** 2
        P = base.macs
        actions |= {"ant_products": P, "ant_muls": beta * P, "ant_shift_adds": beta * P}
        if lane == LOW:   # every 4-bit code entering the array is decoded once, at the edge
            actions["ant_decodes"] = (actions["acts_sram_read_bits"]
                                      + actions["weights_sram_read_bits"]) / LOW
        return replace(base, actions=actions)

    def _cost(self, op: Op) -> OpCost:
        assert isinstance(op, Gemm)
        parts = [(self._one(op, lane), w) for lane, w in self.formats(op)]
        desc = " + ".join(f"{w:.0%} W{lane}A{lane}" for lane, w in self.formats(op) if w > 0)
        kernel = (f"ant {self.config.rows}x{self.config.cols} {self.config.dataflow}: {desc} "
                  f"(4 products/PE/cycle at 4 bits, 1 at 8)")
        return blend(parts, peak=self.peak(), kernel=kernel)
