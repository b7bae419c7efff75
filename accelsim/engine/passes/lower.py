"""``target_lowering``: expand composite ops (attention) into primitives for this device.

A unit may lower a composite op its own way (``Unit.lower``: a GPU's fused FlashAttention
kernel, a PIM unit's GEMVs); the op's pinned unit is asked first, then every unit in device
order; the first answer wins, else the op's own ``lower()`` (attention -> QK^T, softmax, PV).
Runs last among the lowering passes, until no composite op is left.
"""
from __future__ import annotations

from typing import Sequence

from ...errors import AccelsimError
from ...workload.ops import Op
from ...workload.trace import Segment
from . import PASSES, LowerPass

_MAX_DEPTH = 8


@PASSES.register("target_lowering")
class TargetLowering(LowerPass):
    """Composite ops lowered by the device's units, else by the op itself."""

    order = 1000

    def run(self, seg: Segment) -> Segment:
        for _ in range(_MAX_DEPTH):
            if not any(op.category == "composite" for op in seg.ops):
                return seg
            seg = seg.lowered(self._lower)
        raise AccelsimError(f"segment {seg.name!r}: composite ops still left after "
                            f"{_MAX_DEPTH} rounds of lowering")

    def _lower(self, op: Op) -> Sequence[Op]:
        if op.category != "composite":
            return [op]
        from ..mapping import pinned_unit
        units = self.device.units
        pin = pinned_unit(self.device, op)
        order = ([units[pin]] if pin in units else []) + [u for n, u in units.items() if n != pin]
        for unit in order:
            parts = unit.lower(op)
            if parts is not None:
                return parts
        return op.lower()
