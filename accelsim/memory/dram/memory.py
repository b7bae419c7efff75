"""``type: dram``: a DRAM built from a standard's organisation and timing (``standards/``).

Its bandwidth is an output of the standard: channels x one channel's sustained rate on the
access pattern (closed_form.py); op and analytical fidelity stream every operand, so the
rate a unit sees is the ``seq`` pattern's (``accelsim dram STANDARD`` prints all patterns).
``bandwidth_gb_s`` overrides it; the override is reported in ``describe()``. ``capacity_gb``
is checked against resident weights and KV cache as for ``type: bandwidth``.

Energy: the standard's DRAM kind in the technology library (read/write per bit, activations
amortised per streamed row); standards without a sourced energy have no cost model (energy
reported unknown).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ...arch.base import Component
from ..base import Memory, MemoryConfig, register_memory
from .closed_form import QUEUE_DEPTH, Sustained, sustained
from .standard import Standard, load_standard, standard_names, with_overrides


class DramConfig(MemoryConfig):
    """A DRAM of ``standard`` (``accelsim dram --list`` names them); any organisation or
    timing key may be overridden."""

    type: Literal["dram"] = "dram"
    standard: str = Field(description="DRAM standard (a file of accelsim/memory/dram/standards)")
    stacks: int = Field(1, gt=0, le=1024, description="stacks / devices, each with the "
                        "standard's channels_per_stack channels")
    channels: int | None = Field(None, gt=0, le=65536, description="channels in all "
                                 "(default: stacks x channels_per_stack)")
    organisation: dict[str, Any] = Field(default_factory=dict, description="overrides of the "
                                         "standard's organisation keys")
    timing: dict[str, Any] = Field(default_factory=dict, description="overrides of the "
                                   "standard's timing keys (cycles of tCK)")
    refresh: bool = Field(True, description="charge all-bank refresh (tRFC every tREFI)")
    queue_depth: int = Field(QUEUE_DEPTH, gt=0, le=4096, description="requests the "
                             "controller can reorder over (per channel)")
    bandwidth_gb_s: float | None = Field(None, gt=0, allow_inf_nan=False,
                                         json_schema_extra={"affects": "schedule"},
                                         description="override the standard's sustained "
                                         "bandwidth (reported as an override)")
    capacity_gb: float | None = Field(None, gt=0, allow_inf_nan=False)

    @field_validator("standard")
    @classmethod
    def _known(cls, v: str) -> str:
        from ...errors import AccelsimError
        try:
            load_standard(str(v).lower())
        except AccelsimError as e:
            raise ValueError(str(e)) from None
        return str(v).lower()

    @model_validator(mode="after")
    def _overrides(self) -> "DramConfig":
        self.resolved_standard()   # raises ValueError on a bad override
        return self

    def resolved_standard(self) -> Standard:
        try:
            return with_overrides(load_standard(self.standard), self.organisation, self.timing)
        except ValueError as e:
            raise ValueError(f"{self.standard} with these overrides: {e}") from None


@register_memory("dram")
class DramMemory(Memory):
    """A standard DRAM: channels x the sustained rate of a stream (module docstring)."""

    config_model = DramConfig
    config: DramConfig

    def __init__(self, name: str, config: DramConfig, device_clock_ghz: float) -> None:
        super().__init__(name, config, device_clock_ghz)
        self.standard = config.resolved_standard()

    @property
    def channels(self) -> int:
        c = self.config
        return c.channels or c.stacks * self.standard.organisation.channels_per_stack

    def sustained(self, pattern: str = "seq") -> Sustained:
        """One channel's sustained rate on ``pattern``."""
        return sustained(self.standard, pattern, self.config.refresh, self.config.queue_depth)

    @property
    def stream_gb_s(self) -> float:
        """What the standard sustains on a stream over all channels."""
        return self.channels * self.sustained("seq").gb_s

    @property
    def bytes_per_tick(self) -> float:
        gb_s = self.config.bandwidth_gb_s or self.stream_gb_s
        return gb_s / self.device_clock_ghz

    @property
    def capacity_bytes(self) -> float | None:
        return None if self.config.capacity_gb is None else self.config.capacity_gb * 1e9

    @property
    def dram_kind(self) -> str | None:
        return self.standard.energy_kind

    def describe(self) -> str:
        s = self.standard
        bw = (f"{self.config.bandwidth_gb_s:g} GB/s (override; the standard sustains "
              f"{self.stream_gb_s:.1f})" if self.config.bandwidth_gb_s
              else f"{self.stream_gb_s:.1f} GB/s sustained on a stream")
        return (f"{s.standard} x {self.channels} channels, peak {self.channels * s.peak_gb_s:.1f}"
                f" GB/s, {bw}")

    def components(self) -> list[Component] | None:
        kind = self.dram_kind
        if kind is None:
            return None
        return [Component("", "dram", 1, {"kind": kind},
                          {"read_bits": "read_bit", "write_bits": "write_bit"})]


__all__ = ["DramConfig", "DramMemory", "standard_names"]
