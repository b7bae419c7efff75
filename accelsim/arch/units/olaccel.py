"""OLAccel-like outlier-aware array (``type: olaccel``): a dense 4-bit MAC array plus a sparse
high-precision path for a configured fraction of outliers.

After Park, Kim and Yoo, "Energy-efficient Neural Network Accelerator Based on Outlier-aware
Low-precision Computation", ISCA 2018 (doi 10.1109/ISCA.2018.00063). From the abstract: dense
low-precision computation for most weights and activations, a small number of sparse
high-precision outliers ("e.g., amounting to 3% of total data"), 4-bit MAC units, and
dedicated high-precision MAC units for the outliers, whose partial sums join the dense ones
in a pipeline. We could read only the abstract. The organisation below is ours: it is an
aggregate-rate model, not OLAccel's per-lane outlier MACs and PE groups.

* Dense array: R x C 4-bit integer MAC PEs. Timing, DRAM traffic and SRAM reuse are the
  systolic array's (``SystolicArray`` of the same shape). The MixPE artifact's conf_olaccel.ini
  array is 32 x 32 PEs of its (8, 4) type, which take 2 x 2 4-bit products per cycle. That is
  64 x 64 of these PEs.
* Outliers: a fraction f (``outlier_fraction``) of the weights and of the activations is kept
  at ``outlier_bits``. Their products, P_o = (1 - (1 - f)^2) M N K, run on ``outlier_macs``
  MAC units of that width, concurrently with the dense array. Exposed cycles:
  max(0, ceil(P_o / outlier_macs) - dense compute cycles), added at the end, as the mixpe
  unit's dequantisers. The default outlier_macs, ceil(R C (1 - (1 - f)^2)), is ours: just enough
  for the configured fraction.
* Storage: each outlier is held sparsely, its value plus a ceil(log2 K)-bit position along K,
  besides the dense 4-bit codes. A, B and their SRAM traffic grow by the factor
  1 + f (outlier_bits + ceil(log2 K)) / 4.

**The unit runs OLAccel's quantisation, not the op's formats** (as the ``ant`` unit does). A
GEMM with integer weights of at most 4 bits runs as W4A4 per-channel (the op's group scales
are replaced, so there is no dequantisation in the loop) with outliers. Activations may be
integers of up to 8 bits or 16-bit floats. Wider or float weights are rejected: they go to
another unit.

Actions: ``olaccel_dense_macs`` (M N K - P_o, int4 x int4, int32 accumulate),
``olaccel_outlier_macs`` (P_o, at outlier_bits), and the systolic array's register, link and
SRAM bits at the 4-bit widths (SRAM bits with the outlier factor).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

from pydantic import Field, model_validator

from ...config.bounds import check_pes
from ...errors import AccelsimError
from ...workload.dtypes import dtype
from ...workload.ops import Gemm, Op
from ..base import Component, OpCost, Peak, Traffic, Unit, UnitConfig
from ..registry import register_unit
from .bitfusion import SRAM_NAMES, OperandSram, integer_operand
from .systolic import ACC_BITS, inner_array, sram_component

DENSE = 4


class OlaccelConfig(UnitConfig):
    type: Literal["olaccel"] = "olaccel"
    rows: int = Field(gt=0, le=65536, description="dense 4-bit MAC PEs along the rows (R)")
    cols: int = Field(gt=0, le=65536, description="dense 4-bit MAC PEs along the columns (C)")
    dataflow: Literal["os", "ws", "is"] = "os"
    outlier_fraction: float = Field(0.03, ge=0, lt=1, allow_inf_nan=False,
                                    description="fraction of the weights and of the "
                                    "activations kept at outlier_bits (OLAccel: 'e.g. 3%')")
    outlier_bits: Literal[8, 16] = Field(16, description="precision of the outliers and "
                                         "their MAC units")
    outlier_macs: int | None = Field(None, gt=0, le=1 << 24, description="high-precision MAC "
                                     "units (default: ceil(R C (1 - (1 - f)^2)))")
    fold_overlap: bool = True
    stationary_double_buffer: bool = True
    stream_tiling: bool = True
    sram: OperandSram = OperandSram()

    @model_validator(mode="after")
    def _pe_count(self) -> "OlaccelConfig":
        check_pes(self.rows * self.cols, "rows x cols")
        return self


@register_unit("olaccel")
class OlaccelArray(Unit):
    """Dense R x C 4-bit MAC array and a sparse outlier path (module docstring)."""

    config_model = OlaccelConfig
    categories = ("gemm",)
    informational_actions = frozenset({"pe_cycles"})
    config: OlaccelConfig

    def __init__(self, name: str, config: OlaccelConfig) -> None:
        super().__init__(name, config)
        self.array = inner_array(name, config, pe_dtype="int4")

    @property
    def outlier_share(self) -> float:
        """Share of the products with an outlier operand: 1 - (1 - f)^2."""
        return 1.0 - (1.0 - self.config.outlier_fraction) ** 2

    def outlier_units(self) -> int:
        cfg = self.config
        if cfg.outlier_macs is not None:
            return cfg.outlier_macs
        return max(1, math.ceil(cfg.rows * cfg.cols * self.outlier_share - 1e-9))

    def peak(self, dtypes=()) -> Peak:
        """One dense 4-bit MAC per PE per cycle."""
        return Peak.of_macs(self.config.rows * self.config.cols)

    def check(self, op: Op) -> None:
        if type(op) is not Gemm:
            raise AccelsimError("runs plain GEMMs only")
        a, b = dtype(op.a_dtype), dtype(op.b_dtype)
        integer_operand(b, "weights", "OLAccel quantises low-bit integer weights to 4 bits "
                        "plus outliers; put full-precision GEMMs on another unit")
        if b.bits > DENSE:
            raise AccelsimError(f"weights {b.name} are wider than OLAccel's 4-bit dense MACs "
                                f"(its outlier path is for a sparse few)")
        if (a.bits > 8) if not a.is_float else a.bits > 16:
            raise AccelsimError(f"activations {a.name}: OLAccel quantises integers of up to 8 "
                                f"bits or 16-bit floats")

    def components(self) -> list[Component]:
        """Dense int4 MACs, outlier MACs, registers, links, the three SRAMs."""
        cfg = self.config
        n = cfg.rows * cfg.cols
        moved = {"pe_forward_bits": "write_bit", "pe_shift_bits": "write_bit"}
        regs = (2 * DENSE + ACC_BITS if cfg.dataflow == "os"
                else DENSE + ACC_BITS + (2 if cfg.stationary_double_buffer else 1) * DENSE)

        sram = sram_component
        return [
            Component("pe_mac", "mac", n, {"dtype": "int4", "acc": "int32"},
                      {"olaccel_dense_macs": "mac"}),
            Component("outlier_mac", "mac", self.outlier_units(),
                      {"dtype": f"int{cfg.outlier_bits}", "acc": "int32"},
                      {"olaccel_outlier_macs": "mac"}),
            Component("pe_regs", "register", n, {"bits": regs}, moved),
            Component("pe_links", "wire", 1, {"pitch_of": ("pe_mac", "pe_regs")},
                      {k: "bit" for k in moved}),
            sram("acts", cfg.sram.acts_kb, cfg.rows * DENSE),
            sram("weights", cfg.sram.weights_kb, cfg.cols * DENSE),
            sram("outputs", cfg.sram.outputs_kb, cfg.cols * ACC_BITS)]

    def _cost(self, op: Op) -> OpCost:
        assert isinstance(op, Gemm)
        cfg = self.config
        q = replace(op, dtype=f"int{DENSE}", w_dtype=f"int{DENSE}", group_size=None)
        base = self.array._cost(q)
        f = cfg.outlier_fraction
        grow = 1.0 + f * (cfg.outlier_bits + math.ceil(math.log2(max(op.k, 2)))) / DENSE
        traffic = tuple(Traffic(t.operand, read=None if t.read is None else t.read * grow,
                                write=t.write, memory=t.memory, pattern=t.pattern,
                                counts=t.counts)
                        if t.operand in ("A", "B") else t for t in base.tiles.traffic)
        P = base.macs
        P_o = P * self.outlier_share
        n_o = self.outlier_units()
        o_cycles = float(math.ceil(P_o / n_o - 1e-9)) if P_o else 0.0
        exposed = max(0.0, o_cycles - base.compute_cycles)
        tiles = replace(base.tiles, traffic=traffic, tail=base.tiles.tail + exposed)
        actions = {k: v for k, v in base.actions.items() if not k.startswith("mac_")}
        actions |= {"olaccel_dense_macs": P - P_o, "olaccel_outlier_macs": P_o,
                    "pe_cycles": float(tiles.compute_cycles()) * cfg.rows * cfg.cols}
        sram = {}
        for sa, mine in SRAM_NAMES.items():
            for rw in ("read", "write"):
                v = actions.pop(f"{sa}_sram_{rw}_bits")
                sram[f"{mine}_sram_{rw}_bits"] = v * (grow if sa != "ofmap" else 1.0)
        actions |= sram
        detail = dict(base.detail, outlier_products=P_o, outlier_macs=float(n_o),
                      outlier_cycles=o_cycles, outlier_exposed_cycles=exposed)
        hidden = "hidden" if exposed == 0 else f"{exposed:,.0f} exposed"
        kernel = (f"olaccel {cfg.rows}x{cfg.cols} {cfg.dataflow} W4A4 dense + "
                  f"{f:.1%} int{cfg.outlier_bits} outliers on {n_o} MACs ({hidden}), "
                  f"{tiles.n} folds")
        return replace(base, tiles=tiles, actions=actions, kernel=kernel, detail=detail,
                       bytes={"sram_read": sum(v for k, v in sram.items() if "_read" in k) / 8,
                              "sram_write": sum(v for k, v in sram.items() if "_write" in k) / 8},
                       peak=self.peak())

