"""The unit interface: a unit is a pure cost model; the engine owns time.

For an op, a unit answers with an ``OpCost``: compute cycles, a tile schedule (per-tile compute
cycles and DRAM bytes, which the tile-fidelity engine replays against shared DRAM), bytes per
memory level, and action counts for the energy model. Costs are memoised per unit on the op's
``cost_key()``, so identical ops are costed once.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..errors import AccelsimError
from ..workload.ops import Op


class UnitConfig(BaseModel):
    """Base of every unit's YAML schema; ``type`` picks the implementation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str


@dataclass(frozen=True)
class TileSchedule:
    """What a unit does, tile by tile, for one op.

    ``compute[i]``: cycles the unit is busy on tile i once its inputs are on chip;
    ``read[i]`` / ``write[i]``: DRAM bytes tile i must load before it starts / store after it ends;
    ``tail``: cycles after the last tile before its results exist (pipeline drain);
    ``double_buffered``: whether tile i+1 may load while tile i computes.
    """

    compute: np.ndarray
    read: np.ndarray
    write: np.ndarray
    tail: float = 0.0
    double_buffered: bool = True

    @property
    def n(self) -> int:
        return int(self.compute.shape[0])

    def compute_cycles(self) -> float:
        return float(self.compute.sum()) + self.tail

    def dram_bytes(self) -> tuple[float, float]:
        return float(self.read.sum()), float(self.write.sum())

    def cycles_with_bandwidth(self, bytes_per_cycle: float) -> float:
        """Closed-form latency with a private DRAM port (no contention).

        Tile i+1's transfer (its reads plus tile i's writes) overlaps tile i's compute when
        double-buffered: total = t_0 + sum_i max(c_i, t_{i+1}) + tail + final write; without
        double buffering transfers and compute alternate. The tile-fidelity engine runs the
        exact recurrence instead; tests bound the difference.
        """
        if not np.isfinite(bytes_per_cycle):
            return self.compute_cycles()
        xfer = self.transfers() / bytes_per_cycle
        c = self.compute
        last_write = float(self.write[-1]) / bytes_per_cycle if self.n else 0.0
        if not self.double_buffered:
            return float(xfer.sum() + c.sum()) + self.tail + last_write
        overlap = np.maximum(c[:-1], xfer[1:]).sum() if self.n > 1 else 0.0
        return float(xfer[0] + overlap + c[-1]) + self.tail + last_write

    def transfers(self) -> np.ndarray:
        """Bytes moved before tile i: its reads plus the previous tile's writes."""
        t = self.read.astype(float).copy()
        t[1:] += self.write[:-1]
        return t


@dataclass(frozen=True)
class OpCost:
    """A unit's answer for one op (see module docstring)."""

    unit: str
    tiles: TileSchedule
    macs: float
    flops: float
    #: bytes moved per memory level, e.g. {"dram_read": .., "dram_write": .., "sram_read": ..}
    bytes: dict[str, float]
    #: action counts for the energy model, e.g. {"mac_int8": .., "sram_read_bits": ..}
    actions: dict[str, float]
    #: peak MACs per cycle of the unit, for utilisation
    peak_macs_per_cycle: float
    #: free-form details shown in the per-op table (folds, mapping efficiency, ...)
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def compute_cycles(self) -> float:
        return self.tiles.compute_cycles()


@dataclass(frozen=True)
class Component:
    """A piece of a unit's hardware, for the energy and area model (``accelsim.cost``).

    ``kind`` picks the cost model and ``params`` size one instance (see
    ``accelsim/cost/components.py`` for the kinds); ``count`` instances exist. ``actions`` maps
    the unit's action names (keys of ``OpCost.actions``) to this component's actions. A key
    ending in ``*`` matches by prefix and passes the rest as a variant (``{"vector_op_*":
    "flop"}`` charges ``vector_op_bf16`` as ``flop`` of ``bf16``). One unit action may be
    charged to several components (a forwarded bit writes a register and crosses a wire). A
    ``wire`` may give ``pitch_of`` (component names) instead of ``length_mm``: its length is
    then the side of a square holding one instance of each. The actions ``dram_read_bits`` and
    ``dram_write_bits`` need no component: they are charged to the system's DRAM.
    """

    name: str
    kind: str
    count: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    actions: Mapping[str, str] = field(default_factory=dict)


class Unit(ABC):
    """A compute unit instance built from its validated config.

    Subclasses set ``config_model`` and ``categories`` (op categories they run) and implement
    ``_cost``; register with ``@register_unit("type_name")``.
    """

    config_model: ClassVar[type[UnitConfig]] = UnitConfig
    categories: ClassVar[tuple[str, ...]] = ()
    #: action counts that carry no energy by design (utilisation counters and the like)
    informational_actions: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, config: UnitConfig) -> None:
        self.name = name
        self.config = config
        self._cache: dict[tuple, OpCost] = {}

    def can_run(self, op: Op) -> bool:
        return op.category in self.categories

    def check(self, op: Op) -> None:
        """Raise AccelsimError if this unit cannot run ``op`` (e.g. a dtype combination)."""

    @property
    @abstractmethod
    def peak_macs_per_cycle(self) -> float:
        """Peak MACs (or element ops for vector units) per cycle."""

    def cost(self, op: Op) -> OpCost:
        key = op.cost_key()
        hit = self._cache.get(key)
        if hit is None:
            if not self.can_run(op):
                raise AccelsimError(f"unit {self.name!r} ({self.config.type}) cannot run "
                                    f"op {op.name!r} of kind {op.kind}")
            self.check(op)
            hit = self._cache[key] = self._cost(op)
        return hit

    @abstractmethod
    def _cost(self, op: Op) -> OpCost:
        """Uncached cost of ``op`` (already checked)."""

    def components(self) -> list[Component] | None:
        """This unit's hardware for energy and area; None: no cost model (reported unknown)."""
        return None
