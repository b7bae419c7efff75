"""The unit interface: a unit is a pure cost model; the engine owns time (DESIGN 2.4, 2.5).

For an op, a unit answers with an ``OpCost``: compute cycles tile by tile (in the unit's own
clock), and the bytes each operand moves through which memory (``Traffic``, with an access
pattern). DRAM bytes are stated there once: the memory model turns them into time, into
memory actions and, through the cost package, into energy. ``actions`` holds only the unit's
own actions (MACs, SRAM and register bits). Peak throughput is a function of the operand
dtypes (``Unit.peak``). A unit says whether it accepts an op with a ``Verdict`` (and why not),
may lower composite ops for its own target (``Unit.lower``), and may depend on context beyond
its config (its memory's timing, a foreign clock), which it receives at device build
(``Unit.bind``) and declares in ``context_key()`` so that every cache keys on it.

Costs are memoised per unit on the op's ``cost_key()``, so identical ops are costed once.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
from pydantic import ConfigDict, Field

from ..config.bounds import MAX_CLOCK_GHZ, MAX_TILES, MIN_CLOCK_GHZ, SaneModel
from ..errors import AccelsimError
from ..workload.ops import Op

#: the memory an operand moves through when the unit names none: the device's main memory
MAIN = "main"
#: access patterns a memory model may price or time differently
PATTERNS = ("stream", "strided", "random", "broadcast", "bank_internal")


class UnitConfig(SaneModel):
    """Base of every unit's YAML schema; ``type`` picks the implementation. Numbers are finite
    and within the bounds of ``accelsim.config.bounds`` (a clock within 1 kHz-100 GHz)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    clock_ghz: float | None = Field(None, ge=MIN_CLOCK_GHZ, le=MAX_CLOCK_GHZ, allow_inf_nan=False,
                                    description="own clock (default: the device's clock_ghz)")
    memory: str | None = Field(None, description="memory the unit streams operands through "
                               "(default: the device's main memory)")


@dataclass(frozen=True)
class Peak:
    """Peak throughput per cycle of the unit's clock, for given operand dtypes."""

    macs: float
    flops: float

    @classmethod
    def of_macs(cls, macs: float) -> "Peak":
        return cls(float(macs), 2.0 * macs)

    @classmethod
    def of_flops(cls, flops: float) -> "Peak":
        return cls(0.0, float(flops))


@dataclass(frozen=True)
class Verdict:
    """Whether a unit accepts an op, and if not, why (``pim0: m=16 > max_rows=8``)."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


ACCEPT = Verdict(True)


def check_tiles(unit: str, op: Op, n: int) -> None:
    """AccelsimError before a unit allocates per-tile arrays for more than ``MAX_TILES``
    tiles (``accelsim.config.bounds``): one clear error instead of a ``MemoryError``."""
    if n > MAX_TILES:
        raise AccelsimError(f"op {op.name!r} needs {n:,} tiles (folds) on unit {unit!r}, more "
                            f"than the {MAX_TILES:,} accelsim simulates per op (MAX_TILES); "
                            f"use a larger unit or smaller op dimensions")


def reject(reason: str) -> Verdict:
    return Verdict(False, reason)


@dataclass(frozen=True, eq=False)
class Traffic:
    """Bytes one operand of an op moves through one memory, tile by tile.

    ``read[i]``: bytes loaded before tile i starts; ``write[i]``: bytes stored after tile i
    ends (None: nothing). ``memory`` names a memory of the device (``MAIN``: the unit's own
    memory); mapper passes may move an operand to another memory (an on-chip buffer).
    """

    operand: str
    read: np.ndarray | None = None
    write: np.ndarray | None = None
    memory: str = MAIN
    pattern: str = "stream"
    #: per-class arrays (a schedule by fold classes): how many tiles each entry stands for
    counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise AccelsimError(f"traffic of operand {self.operand!r}: unknown access pattern "
                                f"{self.pattern!r}; known: {', '.join(PATTERNS)}")

    @cached_property
    def totals(self) -> tuple[float, float]:
        """(bytes read, bytes written) over all tiles."""
        c = self.counts
        rd = 0.0 if self.read is None else \
            float(self.read.sum()) if c is None else float((self.read * c).sum())
        wr = 0.0 if self.write is None else \
            float(self.write.sum()) if c is None else float((self.write * c).sum())
        return rd, wr


@dataclass(frozen=True, eq=False)
class TileSchedule:
    """What a unit does, tile by tile, for one op.

    ``compute[i]``: cycles (of the unit's clock) the unit is busy on tile i once its inputs
    are on chip; ``traffic``: what each operand moves before / after each tile; ``tail``:
    cycles after the last tile before its results exist (pipeline drain);
    ``double_buffered``: whether tile i+1 may load while tile i computes.
    """

    compute: np.ndarray
    traffic: tuple[Traffic, ...] = ()
    tail: float = 0.0
    double_buffered: bool = True
    #: None: one array entry per tile, in order. Else the arrays hold one entry per fold class
    #: (``accelsim.arch.folds``) and ``classes`` says how many tiles of each run in what order.
    classes: Any = None

    @property
    def n(self) -> int:
        return int(self.compute.shape[0]) if self.classes is None else self.classes.n

    def compute_cycles(self) -> float:
        """Busy cycles over all tiles plus the tail; computed once per schedule (the unit, the
        closed form and the assembler all ask; the schedule is immutable)."""
        hit = self.__dict__.get("_compute_cycles")
        if hit is None:
            hit = float(self.compute.sum()) + self.tail if self.classes is None else \
                self.classes.total(self.compute) + self.tail
            self.__dict__["_compute_cycles"] = hit
        return hit

    def total(self, values: np.ndarray | None) -> float:
        """Sum over all tiles of a per-tile (or per-class) array (None: 0)."""
        if values is None:
            return 0.0
        return float(values.sum()) if self.classes is None else self.classes.total(values)

    def dense(self) -> "TileSchedule":
        """The same schedule with one array entry per tile (itself if it already has)."""
        if self.classes is None:
            return self
        ids = self.classes.expand()

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[ids]

        traffic = tuple(Traffic(t.operand, read=pick(t.read), write=pick(t.write),
                                memory=t.memory, pattern=t.pattern) for t in self.traffic)
        return TileSchedule(self.compute[ids], traffic, self.tail, self.double_buffered)


@dataclass(frozen=True, eq=False)
class OpCost:
    """A unit's answer for one op (see module docstring)."""

    unit: str
    tiles: TileSchedule
    macs: float
    flops: float
    #: bytes moved through the unit's own on-chip levels, e.g. {"sram_read": .., "sram_write": ..}
    bytes: dict[str, float]
    #: the unit's own action counts for the energy model, e.g. {"mac_int8": .., "sram_read_bits": ..}
    actions: dict[str, float]
    #: peak throughput of the unit for this op's dtypes, for utilisation
    peak: Peak
    #: free-form details shown in the per-op table (folds, mapping efficiency, ...)
    detail: dict[str, float] = field(default_factory=dict)
    #: named resources the op holds while it computes (e.g. the banks of a PIM channel)
    holds: tuple[str, ...] = ()
    #: what ran, for the per-op table (e.g. a GPU's chosen kernel and CTA tile)
    kernel: str = ""
    #: the engine's memo of what it derives from this cost (bytes per memory, per placement)
    memo: dict = field(default_factory=dict, repr=False, compare=False, kw_only=True)

    @property
    def compute_cycles(self) -> float:
        return self.tiles.compute_cycles()

    @property
    def work(self) -> float:
        """What utilisation counts: MACs on MAC units, FLOPs elsewhere."""
        return self.macs if self.peak.macs else self.flops

    @property
    def peak_work(self) -> float:
        return self.peak.macs or self.peak.flops


@dataclass(frozen=True)
class Component:
    """A piece of a unit's (or memory's) hardware, for the energy and area model.

    ``kind`` picks the cost model and ``params`` size one instance (see
    ``accelsim/cost/components.py`` for the kinds); ``count`` instances exist. ``actions`` maps
    the owner's action names (keys of ``OpCost.actions``, or a memory's actions) to this
    component's actions. A key ending in ``*`` matches by prefix and passes the rest as a
    variant (``{"vector_op_*": "flop"}`` charges ``vector_op_bf16`` as ``flop`` of ``bf16``).
    One action may be charged to several components (a forwarded bit writes a register and
    crosses a wire). A ``wire`` may give ``pitch_of`` (component names) instead of
    ``length_mm``: its length is then the side of a square holding one instance of each.
    """

    name: str
    kind: str
    count: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    actions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitContext:
    """What a unit may depend on beyond its own config, given when the device is built."""

    device_clock_ghz: float
    #: the memory the unit streams through (an ``accelsim.memory.Memory``)
    memory: Any
    #: every memory of the device, by name
    memories: Mapping[str, Any]


class Unit(ABC):
    """A compute unit instance built from its validated config.

    Subclasses set ``config_model`` and ``categories`` (op categories they run) and implement
    ``peak`` and ``_cost``; register with ``@register_unit("type_name")``.
    """

    config_model: ClassVar[type[UnitConfig]] = UnitConfig
    categories: ClassVar[tuple[str, ...]] = ()
    #: action counts that carry no energy by design (utilisation counters and the like)
    informational_actions: ClassVar[frozenset[str]] = frozenset()
    #: registered mapper passes this unit needs when it is in a device (``accelsim list pass``)
    passes: ClassVar[tuple[str, ...]] = ()
    #: False: the unit's components give its area but it has no energy model (reported unknown)
    energy_modelled: ClassVar[bool] = True

    def __init__(self, name: str, config: UnitConfig) -> None:
        self.name = name
        self.config = config
        self.context: UnitContext | None = None
        self._cache: dict[tuple, OpCost] = {}

    # -- context ------------------------------------------------------------------------------
    def bind(self, context: UnitContext) -> None:
        """Receive the device context (called once when the device is built)."""
        self.context = context

    def context_key(self) -> tuple:
        """What this unit's costs depend on beyond its config (default: nothing). A unit that
        reads its memory's timing returns e.g. ``(self.context.memory.timing_key(),)``."""
        return ()

    # -- what it runs -------------------------------------------------------------------------
    def accepts(self, op: Op) -> Verdict:
        """Whether this unit can run ``op``; a rejection says why."""
        if op.category not in self.categories:
            return reject(f"runs {'/'.join(self.categories) or 'no'} ops, not {op.category} "
                          f"(op kind {op.kind})")
        try:
            self.check(op)
        except AccelsimError as e:
            return reject(str(e))
        return ACCEPT

    def can_run(self, op: Op) -> bool:
        return bool(self.accepts(op))

    def check(self, op: Op) -> None:
        """Raise AccelsimError if this unit cannot run ``op`` (e.g. a dtype combination)."""

    def lower(self, op: Op) -> Sequence[Op] | None:
        """Target lowering of a composite op for this unit (None: the op's own ``lower()``)."""
        return None

    # -- throughput and cost ------------------------------------------------------------------
    def peak(self, dtypes: Sequence[str] = ()) -> Peak:
        """Peak throughput per cycle for operands of ``dtypes`` (empty: the unit's native)."""
        legacy = type(self).peak_macs_per_cycle
        if legacy is not Unit.peak_macs_per_cycle:  # a unit written against the old interface
            return Peak.of_macs(self.peak_macs_per_cycle)
        raise NotImplementedError(f"{type(self).__name__} must implement peak()")

    @property
    def peak_macs_per_cycle(self) -> float:
        """Peak MACs per cycle at the unit's native dtypes (0 for units without MACs)."""
        return self.peak().macs

    def cost(self, op: Op) -> OpCost:
        key = op.cost_key()
        hit = self._cache.get(key)
        if hit is None:
            verdict = self.accepts(op)
            if not verdict:
                raise AccelsimError(f"unit {self.name!r} ({self.config.type}) cannot run op "
                                    f"{op.name!r}: {verdict.reason}")
            hit = self._cache[key] = self._cost(op)
        return hit

    @abstractmethod
    def _cost(self, op: Op) -> OpCost:
        """Uncached cost of ``op`` (already accepted)."""

    def memo_bytes(self) -> int:
        """Bytes of the numpy arrays this unit's cost memo holds (for cache budgets)."""
        seen: set[int] = set()
        total = 0
        for c in self._cache.values():
            arrays = [c.tiles.compute]
            arrays += [a for t in c.tiles.traffic for a in (t.read, t.write)]
            for derived in c.memo.values():
                dense = getattr(derived, "__dict__", {}).get("_dense")  # tile fidelity's copy
                for d in (derived, dense) if dense is not None else (derived,):
                    arrays += list(getattr(d, "xfer", {}).values())
                    arrays.append(getattr(d, "compute", None))
            for a in arrays:
                if isinstance(a, np.ndarray) and id(a) not in seen:
                    seen.add(id(a))
                    total += a.nbytes
        return total

    def components(self) -> list[Component] | None:
        """This unit's hardware for energy and area; None: no cost model (reported unknown)."""
        return None
