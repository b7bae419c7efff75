"""The memory interface: time, actions and capacity of the bytes units move through it."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, TypeVar

import numpy as np
from pydantic import ConfigDict, Field

from ..arch.base import Component
from ..config.bounds import MAX_CLOCK_GHZ, MIN_CLOCK_GHZ, SaneModel
from ..registry import Registry


class MemoryConfig(SaneModel):
    """Base of every memory's YAML schema; ``type`` picks the implementation. Numbers are
    finite and within the bounds of ``accelsim.config.bounds``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    clock_ghz: float | None = Field(None, ge=MIN_CLOCK_GHZ, le=MAX_CLOCK_GHZ, allow_inf_nan=False,
                                    description="own clock: bandwidth_bytes_per_cycle counts its "
                                    "cycles (default: the device's clock_ghz)")


class Memory(ABC):
    """A memory instance of a device, built from its validated config.

    Time is in device ticks (cycles of the device's ``clock_ghz``). Subclasses give the peak
    rate (``bytes_per_tick``), capacity, the actions a transfer causes and their components.
    """

    config_model: ClassVar[type[MemoryConfig]] = MemoryConfig
    #: off chip (main memory, counted as DRAM traffic) or on chip (counted as buffer traffic)
    offchip: ClassVar[bool] = True

    def __init__(self, name: str, config: MemoryConfig, device_clock_ghz: float) -> None:
        self.name = name
        self.config = config
        self.device_clock_ghz = device_clock_ghz

    @property
    def ticks_per_cycle(self) -> float:
        """Device ticks per cycle of this memory's clock (exactly 1.0 on the device clock)."""
        own = self.config.clock_ghz
        return 1.0 if own is None or own == self.device_clock_ghz else self.device_clock_ghz / own

    @property
    @abstractmethod
    def bytes_per_tick(self) -> float:
        """Peak bandwidth in bytes per device tick (inf: unlimited)."""

    @property
    def bandwidth_gb_s(self) -> float:
        return self.bytes_per_tick * self.device_clock_ghz

    @property
    def unlimited(self) -> bool:
        return not math.isfinite(self.bytes_per_tick)

    def ticks(self, nbytes: Any, pattern: str = "stream") -> Any:
        """Time (device ticks) to move ``nbytes`` (a number or an array) through a private port."""
        bpt = self.bytes_per_tick
        if not math.isfinite(bpt):
            return np.zeros_like(nbytes, dtype=float) if isinstance(nbytes, np.ndarray) else 0.0
        return nbytes / bpt

    @property
    def capacity_bytes(self) -> float | None:
        """What it can hold (None: not given, unchecked)."""
        return None

    @property
    def dram_kind(self) -> str | None:
        """The DRAM kind the technology library prices it as (None: not a priced DRAM)."""
        return getattr(self.config, "kind", None)

    def actions(self, read_bytes: float, write_bytes: float, pattern: str = "stream"
                ) -> dict[str, float]:
        """Action counts of moving these bytes, for the energy model."""
        return {"read_bits": 8.0 * read_bytes, "write_bits": 8.0 * write_bytes}

    def background_actions(self, elapsed_s: float) -> dict[str, float]:
        """Actions the memory makes over ``elapsed_s`` of wall-clock time whatever moves
        through it (DRAM refresh); counted once per run. Default: none."""
        return {}

    def components(self) -> list[Component] | None:
        """Hardware for energy and area (a component named '' is keyed by the memory's name);
        None: no cost model."""
        return None

    def __getstate__(self) -> dict:
        """Pickled without its process-local timing id (``engine.timing.timing_id``): another
        process numbers timing keys its own way."""
        state = dict(self.__dict__)
        state.pop("_timing_id", None)
        return state

    def timing_key(self) -> tuple:
        """Everything this memory's timing depends on: what a dependent unit's costs key on."""
        return (type(self).__name__, self.config, self.device_clock_ghz)

    def resource(self, env: Any, discipline: str) -> Any:
        """A SimPy resource for this memory: 'fluid' (fair share, op fidelity), 'tile' (tile
        fidelity: the fair share unless the memory models its banks, as ``type: dram``) or
        'fifo' (transfers in request order); None when unlimited."""
        if self.unlimited:
            return None
        from ..engine.resources import FairShareBandwidth, FifoBandwidth
        cls = FairShareBandwidth if discipline in ("fluid", "tile") else FifoBandwidth
        return cls(env, self.bytes_per_tick)


MEMORIES: Registry[type[Memory]] = Registry("memory", package="accelsim.memory",
                                            doc="memories (memory.<name>.type)",
                                            by_name=True)  # lookup imports memory/<type>.py
M = TypeVar("M", bound=type[Memory])


def register_memory(type_name: str) -> Callable[[M], M]:
    """Class decorator: make ``memory.<name>.type: <type_name>`` build this memory class."""
    return MEMORIES.register(type_name)


def memory_types() -> dict[str, type[Memory]]:
    return MEMORIES.items()
