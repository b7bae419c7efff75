"""Vector unit (``type: vector``): SIMD lanes for element-wise, softmax and normalisation ops.

Timing: an op of E elements with f FLOPs per element (the op's ``flops()`` / E;
``workload.ops.VECTOR_KINDS``) is split into tiles of ``tile_elements`` = half the buffer
(double-buffered) / the op's operand bytes per element (``operand_bytes()`` / E); each tile takes ceil(e_tile * f / (lanes * flops_per_lane)) cycles, plus
``pipeline_depth`` cycles once at the end. Operands stream from the unit's memory with no reuse
(inputs ``in0``, ``in1``, ..., output ``out``).

Energy: ``vector_op_<dtype>`` counts FLOPs, charged to ``lanes * flops_per_lane`` ALU slots
(``vector_alu``: one FLOP costs half a multiply plus half an add in the op's dtype; area of an
fp32 slot); ``sram_<read|write>_bits`` go to the operand buffer (``lanes`` x 32 bits wide).
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ...config.bounds import MAX_PES, MAX_PIPELINE_CYCLES, MAX_SRAM_KB, check_pes
from ...workload.dtypes import dtype
from ...workload.ops import Op, Vector
from ..base import (Component, OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig,
                    check_tiles)
from ..registry import register_unit


class VectorConfig(UnitConfig):
    type: Literal["vector"] = "vector"
    lanes: int = Field(gt=0, le=MAX_PES, description="SIMD lanes")
    flops_per_lane: int = Field(1, gt=0, le=MAX_PES, description="FLOPs per lane per cycle "
                                "(lanes x flops_per_lane <= MAX_PES)")
    buffer_kb: float = Field(64, gt=0, le=MAX_SRAM_KB, description="operand buffer, "
                             "double-buffered")
    pipeline_depth: int = Field(8, ge=0, le=MAX_PIPELINE_CYCLES,
                                description="cycles from first input to first output")

    @model_validator(mode="after")
    def _pe_count(self) -> "VectorConfig":
        check_pes(self.lanes * self.flops_per_lane, "lanes x flops_per_lane")
        return self


@register_unit("vector")
class VectorUnit(Unit):
    """SIMD lanes for element-wise, softmax and normalisation ops; operands stream."""

    config_model = VectorConfig
    categories = ("vector",)
    config: VectorConfig

    def peak(self, dtypes=()) -> Peak:
        """``lanes x flops_per_lane`` FLOPs per cycle; no MACs."""
        return Peak.of_flops(self.config.lanes * self.config.flops_per_lane)

    def components(self) -> list[Component]:
        """ALU slots and the operand buffer."""
        cfg = self.config
        return [
            Component("alu", "vector_alu", cfg.lanes * cfg.flops_per_lane, {"hw_dtype": "fp32"},
                      {"vector_op_*": "flop"}),
            Component("buffer", "sram", 1,
                      {"capacity_bytes": cfg.buffer_kb * 1024, "width_bits": cfg.lanes * 32},
                      {"sram_read_bits": "read_bit", "sram_write_bits": "write_bit"}),
        ]

    def _cost(self, op: Op) -> OpCost:
        assert isinstance(op, Vector)
        cfg = self.config
        total = op.elements()
        flops_per_el = op.flops() / total
        # bytes per element of each operand (the op's own: a table precompute writes more)
        per_el = {name: b / total for name, b in op.operand_bytes().items()}
        inputs_per_el = [v for name, v in per_el.items() if name != "out"]
        # one tile: all its operands (inputs + output) fit in half the buffer
        tile_el = max(1, int(cfg.buffer_kb * 1024 / 2 / sum(per_el.values())))
        n_tiles = math.ceil(total / tile_el)
        check_tiles(self.name, op, n_tiles)
        sizes = np.full(n_tiles, float(tile_el))
        sizes[-1] = total - tile_el * (n_tiles - 1)
        rate = cfg.lanes * cfg.flops_per_lane
        compute = np.ceil(sizes * max(flops_per_el, 1) / rate)
        inputs = [Traffic(f"in{i}", read=sizes * b) for i, b in enumerate(inputs_per_el)]
        out = sizes * per_el["out"]
        tiles = TileSchedule(compute=compute, traffic=(*inputs, Traffic("out", write=out)),
                             tail=float(cfg.pipeline_depth))
        rd, wr = float(sizes.sum() * sum(inputs_per_el)), float(out.sum())
        return OpCost(
            unit=self.name, tiles=tiles, macs=0.0, flops=op.flops(),
            bytes={"sram_read": rd + wr, "sram_write": rd + wr},
            actions={f"vector_op_{dtype(op.dtype).name}": op.flops(),
                     "sram_read_bits": 8 * (rd + wr), "sram_write_bits": 8 * (rd + wr)},
            peak=self.peak(), detail={"tiles": float(n_tiles)},
        )
