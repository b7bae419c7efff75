"""``type: buffer``: a shared on-chip SRAM (a global buffer) between the units.

When a device has one, the ``buffer_edges`` mapper pass keeps a producer->consumer edge on chip
if the tensor fits (the producer writes its output there and the consumer reads it from there
instead of DRAM); see ``accelsim/engine/passes/buffer_edges.py``. Time to move B bytes is
``B / bandwidth_bytes_per_cycle`` (per cycle of its clock). Energy and area: the technology
library's SRAM model for ``capacity_kb``, ``width_bits`` and ``banks``.
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from ..arch.base import Component
from ..config.bounds import MAX_BYTES_PER_CYCLE, MAX_SRAM_KB
from .base import Memory, MemoryConfig, register_memory


class BufferConfig(MemoryConfig):
    """Shared on-chip SRAM."""

    type: Literal["buffer"] = "buffer"
    capacity_kb: float = Field(gt=0, allow_inf_nan=False, le=min(1e7, MAX_SRAM_KB),
                               description="capacity in KiB")
    bandwidth_bytes_per_cycle: float | Literal["unlimited"] = Field(
        "unlimited", description="port bandwidth per cycle of its clock")
    width_bits: int = Field(512, gt=0, le=1 << 16, description="access width (SRAM model)")
    banks: int = Field(16, gt=0, le=1 << 16, description="banks (SRAM model)")

    @field_validator("bandwidth_bytes_per_cycle")
    @classmethod
    def _positive(cls, v: float | str) -> float | str:
        if isinstance(v, float) and not (0 < v <= MAX_BYTES_PER_CYCLE):
            raise ValueError(f"must be a finite number > 0 and <= {MAX_BYTES_PER_CYCLE:.0f} "
                             f"or 'unlimited'")
        return v


@register_memory("buffer")
class BufferMemory(Memory):
    """Shared on-chip SRAM that keeps producer->consumer edges on chip when they fit."""

    config_model = BufferConfig
    offchip = False
    config: BufferConfig

    @property
    def bytes_per_tick(self) -> float:
        bpc = self.config.bandwidth_bytes_per_cycle
        if bpc == "unlimited":
            return math.inf
        return float(bpc) / self.ticks_per_cycle

    @property
    def capacity_bytes(self) -> float:
        return self.config.capacity_kb * 1024.0

    def components(self) -> list[Component]:
        c = self.config
        return [Component("", "sram", 1, {"capacity_bytes": self.capacity_bytes,
                                           "width_bits": c.width_bits, "banks": c.banks},
                          {"read_bits": "read_bit", "write_bits": "write_bit"})]
