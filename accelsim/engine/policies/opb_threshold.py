"""``opb_threshold``: numeric Op/B dispatch between a device's low-Op/B and high-Op/B units
(``opb_roles``), the alternative to Duplex's stage rule that its EDAP figure motivates (MICRO'24
Fig. edap: Bank-PIM has the best EDAP up to Op/B 4, Logic-PIM from Op/B 8 on).

An op whose arithmetic intensity is below ``threshold`` (default 4) goes to the low-Op/B unit,
any other to the high-Op/B unit:

    intensity(op) = op.flops() / op.total_bytes()      (``Op.intensity``: FLOPs per byte of
                                                        the op's operands, read and written)

taken on the op as planned (after lowering: an attention's QK^T, softmax and PV each by its
own). A composite op (attention) whose own intensity is below the threshold is lowered for the
low-Op/B unit before planning (``lower_for``: else a GPU's fused kernel, which only the GPU
runs, would keep it there); one above is lowered as the device lowers it. An op the chosen unit
cannot run goes to the candidate with the earliest estimated finish
among the others but the other role unit (``opb_roles.prefer``). Ops overlap as their
dependencies allow (no gating), each unit in readiness order, no re-dispatch.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...workload.ops import Op
from ...workload.trace import Trace
from . import POLICIES, DispatchState, Policy
from .lower_for import lower_for
from .opb_roles import Roles, RolesConfig, opb_roles, prefer


class OpbThresholdConfig(RolesConfig):
    type: Literal["opb_threshold"] = "opb_threshold"
    threshold: float = Field(4.0, gt=0, le=1e9, allow_inf_nan=False,
                             description="ops below this FLOP/byte go to the low-Op/B unit")


@POLICIES.register("opb_threshold")
class OpbThreshold(Policy):
    """Ops below ``threshold`` FLOP/byte on the low-Op/B unit, the others on the high one."""

    config_model = OpbThresholdConfig
    config: OpbThresholdConfig

    def __init__(self, config: OpbThresholdConfig | None = None) -> None:
        super().__init__(config or OpbThresholdConfig())
        self.roles: Roles | None = None

    def bind(self, device: Any) -> None:
        self.device = device
        self.roles = opb_roles(device, self.config)

    def rewrite(self, trace: Trace) -> Trace:
        if self.roles is None:
            raise RuntimeError("opb_threshold: bind(device) before rewrite")
        t = self.config.threshold

        def below(op: Op) -> bool:
            return op.intensity() < t

        return lower_for(trace, self.device, self.roles.low, below, ("opb_threshold", t))

    def wants_low(self, i: int, state: DispatchState) -> bool:
        return state.seg.ops[i].op.intensity() < self.config.threshold

    def assign(self, i: int, state: DispatchState) -> int:
        r = self.roles
        if r is None:
            raise RuntimeError("opb_threshold: bind(device) before scheduling")
        want, avoid = (r.low, r.high) if self.wants_low(i, state) else (r.high, r.low)
        return prefer(i, state, want, avoid)
