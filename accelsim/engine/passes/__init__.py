"""Mapper passes (DESIGN 2.8): small typed stages between the trace and the schedule.

Two stages take passes: ``lower`` (Segment -> Segment: target-aware lowering, fusion) and
``place`` (which memory each operand of each op moves through). A pass runs when it is on by
default or a unit of the device asks for it (``Unit.passes``), unless ``mapping.fusion`` turns
it off; ``mapping.fusion.<name>: true`` turns on one that is off by default. A new pass is one
module here with ``@PASSES.register("name")`` and its row in ``BUNDLED`` (checked by a test).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ...registry import Registry
from ...workload.trace import Segment

#: the bundled passes: name -> (module, stage, default_on), so that ``passes_for`` imports only
#: the modules of passes that may run (issue 16: a cold first simulation imported every pass to
#: ask each whether it applies). The classes stay the owners of these attributes: tests/
#: test_startup.py checks this table against them, and a pass registered elsewhere (a plugin, a
#: test) is taken from the registry as it always was.
BUNDLED: dict[str, tuple[str, str, bool]] = {
    "buffer_edges": ("buffer_edges", "place", True),
    "grouped_experts": ("grouped_experts", "lower", False),
    "target_lowering": ("lower", "lower", True),
    "lut_precompute": ("lut_precompute", "lower", False),
    "lut_precompute_fusion": ("lut_precompute_fusion", "lower", False),
    "pim_channel_balance": ("pim_channels", "lower", True),
}

PASSES: Registry[type["Pass"]] = Registry("pass", package="accelsim.engine.passes",
                                          doc="mapper passes (mapping.fusion.<name>)",
                                          by_name=True,
                                          modules={n: m for n, (m, _, _) in BUNDLED.items()})


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
    for name, cls in _candidates(stage, switches, asked).items():
        on = switches.get(name, cls.default_on or name in asked)
        if on and cls.applies(device):
            chosen.append((cls.order, name, cls))
    return [cls(device) for _, _, cls in sorted(chosen, key=lambda t: (t[0], t[1]))]


def _candidates(stage: str, switches: dict, asked: set[str]) -> dict[str, type[Pass]]:
    """The passes of ``stage`` that may be on: those registered so far, and the bundled ones
    that are on by default, switched on or asked for by a unit (importing only their modules);
    a bundled pass that is off stays unimported (``BUNDLED``)."""
    out = {n: c for n, c in PASSES.registered().items() if c.stage == stage}
    for name, (_, st, default_on) in BUNDLED.items():
        if name not in out and st == stage and switches.get(name, default_on or name in asked):
            out[name] = PASSES.get(name)
    return out
