"""``type: link``: a device's port into the system network; it runs the collective ops.

The system builder (``accelsim.system``) adds one to every device with the system's topology;
a collective of S bytes over a group of n devices takes the topology's closed form
(system/topology.py), converted to cycles of the unit's clock, as one tile per algorithm step
(the per-link replay, which sums to the closed form: tile fidelity plays the steps). One collective at a time
(one port); compute units keep running, so communication overlaps compute where the DAG allows.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ...workload.collective_ops import Collective
from ...workload.ops import Op
from ..base import OpCost, Peak, TileSchedule, Unit, UnitConfig
from ..registry import register_unit


class LinkConfig(UnitConfig):
    type: Literal["link"] = "link"
    topology: list[dict] = Field(min_length=1, description="network dimensions, innermost "
                                 "first: {type: ring|fully_connected|switch, npus, "
                                 "bandwidth_gb_s, latency_us}")


@register_unit("link")
class LinkUnit(Unit):
    """The network port of a device (module docstring)."""

    config_model = LinkConfig
    categories = ("collective",)
    #: bytes sent, for the report; link energy is not in the technology library yet
    informational_actions = frozenset({"link_bytes"})
    config: LinkConfig

    def __init__(self, name: str, config: LinkConfig) -> None:
        from ...system.topology import Dimension
        super().__init__(name, config)
        self.dims = [Dimension.model_validate(d) for d in config.topology]

    @property
    def clock_ghz(self) -> float:
        return self.config.clock_ghz or (self.context.device_clock_ghz if self.context else 1.0)

    def peak(self, dtypes=()) -> Peak:
        return Peak(0.0, 0.0)

    def check(self, op: Op) -> None:
        from ...errors import AccelsimError
        from ...system.topology import _spans
        if not isinstance(op, Collective):
            raise AccelsimError("runs collective ops only")
        try:
            _spans(self.dims, op.group, op.stride)
        except ValueError as e:
            raise AccelsimError(str(e)) from None

    def _cost(self, op: Op) -> OpCost:
        from ...system.topology import collective_steps
        assert isinstance(op, Collective)
        per_step = collective_steps(self.dims, op.collective, op.bytes, op.group,
                                    op.stride) or [0.0]
        cycles = np.array(per_step) * self.clock_ghz * 1e9     # one tile per algorithm step
        return OpCost(self.name, TileSchedule(compute=cycles), 0.0, 0.0, {},
                      {"link_bytes": float(op.bytes)}, self.peak(),
                      kernel=f"{op.collective} of {op.bytes / 2**20:.3g} MiB over {op.group}"
                      + (f" (stride {op.stride})" if op.stride > 1 else ""))

    def components(self) -> list:
        """No components: link energy and area are not modelled (no source in the library)."""
        return []
