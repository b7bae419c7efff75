"""``type: bandwidth``: an off-chip memory with one fixed bandwidth (the pre-spine DRAM model).

Time to move B bytes through a private port is ``B / (bandwidth x sustained_fraction)`` (bytes
per device tick; ``sustained_fraction`` defaults to 1, the peak).
``kind`` picks the energy per bit in the technology library (``accelsim techlib show``); with
this type it does not set the bandwidth: give ``bandwidth_gb_s`` or
``bandwidth_bytes_per_cycle`` (per cycle of the memory's clock, default the device's).
``capacity_gb`` is checked against the weights and KV cache a workload keeps resident.
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..arch.base import Component
from ..config import as_value_error
from ..config.bounds import MAX_BANDWIDTH_GB_S, MAX_BYTES_PER_CYCLE, MAX_CAPACITY_GB
from .base import Memory, MemoryConfig, register_memory


class BandwidthConfig(MemoryConfig):
    """Off-chip memory with a fixed bandwidth. Give exactly one bandwidth."""

    type: Literal["bandwidth"] = "bandwidth"
    kind: str = Field("hbm2", description="DRAM kind priced by the technology library "
                      "(accelsim techlib show lists them); default hbm2")
    # affects: schedule -- only the time to move bytes changes (accelsim.dse.effects)
    bandwidth_bytes_per_cycle: float | Literal["unlimited"] | None = Field(
        None, json_schema_extra={"affects": "schedule"})
    bandwidth_gb_s: float | None = Field(None, gt=0, le=MAX_BANDWIDTH_GB_S, allow_inf_nan=False,
                                         json_schema_extra={"affects": "schedule"})
    capacity_gb: float | None = Field(None, gt=0, le=MAX_CAPACITY_GB, allow_inf_nan=False,
                                      description="capacity checked against resident weights "
                                      "and KV cache (default: unchecked)")
    sustained_fraction: float = Field(1.0, gt=0, le=1, allow_inf_nan=False,
                                      json_schema_extra={"affects": "schedule"},
                                      description="fraction of the peak a long stream sustains "
                                      "(refresh, bank and bus turnarounds); a calibrated value, "
                                      "e.g. from a GPU's calibration data")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        from ..cost.techlib import check_dram_kind  # lazy: cost does not import memory
        return as_value_error(check_dram_kind, v)

    @field_validator("bandwidth_bytes_per_cycle")
    @classmethod
    def _bpc_range(cls, v: float | str | None) -> float | str | None:
        if isinstance(v, float) and not (0 < v <= MAX_BYTES_PER_CYCLE):
            raise ValueError(f"must be a finite number > 0 and <= {MAX_BYTES_PER_CYCLE:.0f} "
                             f"or 'unlimited'")
        return v

    @model_validator(mode="after")
    def _one_bandwidth(self) -> "BandwidthConfig":
        given = (self.bandwidth_bytes_per_cycle is not None) + (self.bandwidth_gb_s is not None)
        if given != 1:
            raise ValueError("give exactly one of bandwidth_bytes_per_cycle (a number or "
                             "'unlimited') and bandwidth_gb_s")
        bpc = self.bandwidth_bytes_per_cycle
        if isinstance(bpc, float) and not (0 < bpc <= MAX_BYTES_PER_CYCLE):
            raise ValueError(f"bandwidth_bytes_per_cycle must be a finite number > 0 and <= "
                             f"{MAX_BYTES_PER_CYCLE:.0f} or 'unlimited', got {bpc}")
        return self


@register_memory("bandwidth")
class BandwidthMemory(Memory):
    """Off-chip memory with a fixed bandwidth; energy per bit by DRAM kind."""

    config_model = BandwidthConfig
    config: BandwidthConfig

    @property
    def bytes_per_tick(self) -> float:
        """Peak bandwidth x ``sustained_fraction``, in bytes per device tick."""
        peak = self.peak_bytes_per_tick
        f = self.config.sustained_fraction
        return peak if f == 1.0 else peak * f

    @property
    def peak_bytes_per_tick(self) -> float:
        c = self.config
        if c.bandwidth_gb_s is not None:  # same expression as before the spine, bit for bit
            return c.bandwidth_gb_s * 1e9 / (self.device_clock_ghz * 1e9)
        if c.bandwidth_bytes_per_cycle == "unlimited":
            return math.inf
        bpc = float(c.bandwidth_bytes_per_cycle)  # type: ignore[arg-type]
        return bpc / self.ticks_per_cycle

    @property
    def capacity_bytes(self) -> float | None:
        return None if self.config.capacity_gb is None else self.config.capacity_gb * 1e9

    def components(self) -> list[Component]:
        return [Component("", "dram", 1, {"kind": self.config.kind},
                          {"read_bits": "read_bit", "write_bits": "write_bit"})]
