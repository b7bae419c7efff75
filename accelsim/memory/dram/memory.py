"""``type: dram``: a DRAM built from a standard's organisation and timing (``standards/``).

Its bandwidth is an output of the standard: channels x one channel's sustained rate on the
access pattern (closed_form.py); op and analytical fidelity stream every operand, so the
rate a unit sees is the ``seq`` pattern's (``accelsim dram STANDARD`` prints all patterns).
``bandwidth_gb_s`` overrides it; the override is reported in ``describe()``. ``capacity_gb``
is checked against resident weights and KV cache as for ``type: bandwidth``.
``dual_row_buffer: true`` (NeuPIMs' MEM + PIM row buffers per bank) is what the ``concurrent``
policy requires to overlap in-bank PIM GEMVs with other traffic on this memory
(engine/policies/concurrent.py: the coupling through activation spacing and command bus).

Actions (actions.py): read and write bits, activations (rows opened: bytes / row size on a
stream, one per burst on random / one-bank traffic), row hits, and refreshes over the run's
elapsed time (``background_actions``), priced by the standard's DRAM kind in the technology
library; standards without a sourced energy have no cost model (energy reported unknown).
"""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from ...arch.base import Component
from ..base import Memory, MemoryConfig, register_memory
from .actions import dram_components, refresh_operations, traffic_actions
from .closed_form import QUEUE_DEPTH, Sustained, sustained
from .standard import Standard, load_standard, standard_names, with_overrides

if TYPE_CHECKING:
    from .bank_resource import BankTiming


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
    dual_row_buffer: bool = Field(False, description="every bank has a second (PIM) row "
                                  "buffer (NeuPIMs, ASPLOS'24 Sec 5.1): PIM GEMVs and other "
                                  "traffic may overlap under scheduling: {type: concurrent}, "
                                  "sharing activation spacing and the command bus")

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

    def __hash__(self) -> int:
        """Hashable although the overrides are dicts (equal configs hash alike), so that
        devices with this memory share the planner's memo (``engine.plan.structure_key``)."""
        return hash(tuple((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                          for k, v in self.__dict__.items()))

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
        """One channel's sustained rate on ``pattern`` (memoised: the config is frozen)."""
        memo = self.__dict__.setdefault("_sustained", {})
        hit = memo.get(pattern)
        if hit is None:
            hit = memo[pattern] = sustained(self.standard, pattern, self.config.refresh,
                                            self.config.queue_depth)
        return hit

    @cached_property
    def stream_gb_s(self) -> float:
        """What the standard sustains on a stream over all channels (computed once: the
        config and the standard are frozen)."""
        return self.channels * self.sustained("seq").gb_s

    @property
    def bytes_per_tick(self) -> float:
        gb_s = self.config.bandwidth_gb_s or self.stream_gb_s
        return gb_s / self.device_clock_ghz

    @cached_property
    def bank_timing(self) -> "BankTiming":
        """Row-burst costs and refresh windows of one channel (tile fidelity)."""
        from .bank_resource import BankTiming   # simpy: only where the tile fidelity runs
        c, s = self.config, self.standard
        return BankTiming(s, self.channels, s.timing.tCK_ns * self.device_clock_ghz,
                          c.refresh, c.queue_depth)

    def resource(self, env: Any, discipline: str) -> Any:
        """At tile fidelity the bank-aware port (bank_resource.py), unless
        ``bandwidth_gb_s`` overrides the standard's rate (then the fluid port of that rate)."""
        if discipline == "tile" and self.tile_timing is not None:
            from .bank_resource import BankPort
            return BankPort(env, self.tile_timing)
        return super().resource(env, discipline)

    @property
    def tile_timing(self) -> "BankTiming | None":
        """The bank timing its tile-fidelity port follows (None: a ``bandwidth_gb_s``
        override, served by the fluid port of that rate)."""
        return self.bank_timing if self.config.bandwidth_gb_s is None else None

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

    def actions(self, read_bytes: float, write_bytes: float, pattern: str = "stream"
                ) -> dict[str, float]:
        """Bits, activations and row hits of this traffic (actions.py)."""
        return traffic_actions(self.standard, read_bytes, write_bytes, pattern)

    def background_actions(self, elapsed_s: float) -> dict[str, float]:
        """Refreshes over ``elapsed_s`` of wall-clock time (none with ``refresh: false``)."""
        if not self.config.refresh:
            return {}
        return {"refreshes": refresh_operations(self.standard, elapsed_s, self.channels)}

    @property
    def informational_actions(self) -> frozenset[str]:
        kind = self.dram_kind
        return dram_components(kind)[1] if kind is not None else frozenset()

    def components(self) -> list[Component] | None:
        kind = self.dram_kind
        if kind is None:
            return None
        return dram_components(kind)[0]


__all__ = ["DramConfig", "DramMemory", "standard_names"]
