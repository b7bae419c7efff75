"""Mapper passes (DESIGN 2.8): small typed stages between the trace and the schedule.

Two stages take passes: ``lower`` (Segment -> Segment: target-aware lowering, fusion) and
``place`` (which memory each operand of each op moves through). A pass runs when it is on by
default or a unit of the device asks for it (``Unit.passes``), unless ``mapping.fusion`` turns
it off; ``mapping.fusion.<name>: true`` turns on one that is off by default. A new pass is one
module here with ``@PASSES.register("name")``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ...registry import Registry
from ...workload.trace import Segment

PASSES: Registry[type["Pass"]] = Registry("pass", package="accelsim.engine.passes",
                                          doc="mapper passes (mapping.fusion.<name>)")


class Pass(ABC):
    """A mapper pass; ``order`` sorts passes within a stage (lower first)."""

    stage: ClassVar[str] = "lower"
    order: ClassVar[int] = 0
    default_on: ClassVar[bool] = True

    def __init__(self, device: Any) -> None:
        self.device = device

    @classmethod
    def applies(cls, device: Any) -> bool:
        """Whether the pass has anything to do on ``device`` (checked after the switches)."""
        return True


class LowerPass(Pass):
    """Rewrites a segment's ops for the device."""

    stage = "lower"

    @abstractmethod
    def run(self, seg: Segment) -> Segment:
        ...


class PlacePass(Pass):
    """Chooses memories for operands: returns {(op index, operand): memory name}."""

    stage = "place"

    @abstractmethod
    def run(self, seg: Segment, deps: list[tuple[int, ...]]) -> dict[tuple[int, str], str]:
        ...


def passes_for(device: Any, stage: str) -> list[Pass]:
    """The passes of ``stage`` that run on ``device``, in order."""
    switches = device.config.mapping.fusion
    asked = {name for u in device.units.values() for name in u.passes}
    chosen = []
    for name, cls in PASSES.items().items():
        if cls.stage != stage:
            continue
        on = switches.get(name, cls.default_on or name in asked)
        if on and cls.applies(device):
            chosen.append((cls.order, name, cls))
    return [cls(device) for _, _, cls in sorted(chosen, key=lambda t: (t[0], t[1]))]
