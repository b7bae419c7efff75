"""Fidelities: how an op's time is found once it holds its unit (DESIGN 2.7).

Every fidelity schedules with the device's policy through the same scheduler core
(``engine.schedule``); they differ in the op body and in the memory ports they build:

* ``analytical``: each op takes its closed-form latency with private memory ports; no
  contention.
* ``op``: one process per op; the op's bytes on each memory share that memory's bandwidth with
  the ops overlapping it (a fluid max-min fair share, in three phases: exposed first load,
  body overlapped with compute, exposed final write, none faster than alone); an op never
  slowed down takes exactly its closed-form latency.
* ``tile``: one transfer and one compute step per tile, two buffers per op; transfers of
  overlapping ops share each memory fairly, tile by tile.

Where no two ops of a segment can overlap (a chain), every fidelity takes the exact fast
path: each op's time alone (``Fidelity.alone``: the closed form, or at tile fidelity the same
two-buffer recurrence without events), back to back. A new fidelity is one module here with
``@FIDELITIES.register("name")``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generator

from ...registry import Names, Registry

FIDELITIES: Registry[type["Fidelity"]] = Registry("fidelity",
                                                  package="accelsim.engine.fidelities",
                                                  doc="engine fidelities (--fidelity)",
                                                  by_name=True)


class Fidelity(ABC):
    """An op-timing model for the scheduler core."""

    #: chain segments may skip the event simulation (exactly equal results)
    fast_path: ClassVar[bool] = True
    #: memory port discipline this fidelity needs ('fluid', 'fifo'), or None for none
    ports: ClassVar[str | None] = None

    def estimate(self, cand: Any, device: Any) -> float:
        """Latency estimate a policy assigns by (device ticks): the closed form."""
        return cand.closed_form

    def alone(self, cand: Any, memories: dict[str, Any]) -> float:
        """The op's time when nothing overlaps it: what ``body`` gives without contention,
        exactly. Default: the closed form."""
        return cand.closed_form

    def finish(self, cand: Any, memories: dict[str, Any], start: float) -> float:
        """When the op ends if it starts at ``start`` and nothing overlaps it (the chain fast
        path): ``start + alone``, unless time-dependent resources (DRAM refresh windows at
        tile fidelity) make the absolute start matter."""
        return start + self.alone(cand, memories)

    def make_ports(self, env: Any, device: Any) -> dict[str, Any]:
        if self.ports is None:
            return {}
        return {n: m.resource(env, self.ports) for n, m in device.memories.items()}

    @abstractmethod
    def body(self, env: Any, cand: Any, ports: dict[str, Any], memories: dict[str, Any]
             ) -> Generator:
        """SimPy process body of one op on its unit (it holds the unit throughout); ``ports``
        are this fidelity's memory resources, ``memories`` the device's memory models."""


def fidelity(name: str) -> Fidelity:
    """The fidelity object of ``name`` (AccelsimError listing the known ones)."""
    return FIDELITIES.get(name)()


#: live names of the registered fidelities (``accelsim.FIDELITIES``)
FIDELITY_NAMES = Names(FIDELITIES)
