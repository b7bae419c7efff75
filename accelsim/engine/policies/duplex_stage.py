"""``duplex_stage``: Duplex's stage-based dispatch (MICRO'24 Sec 4 and 5.2) between a device's
low-Op/B unit (Logic-PIM in the paper) and its high-Op/B unit (the xPU), identified from their
own peak compute and weight-read rate (``opb_roles``) or named by ``low_opb_unit`` /
``high_opb_unit``.

Dispatch (``stages.low_by_stage``), when an op becomes ready:

* low-Op/B unit: the MoE layer (router, experts, combine) in decode-only iterations; the
  attention of decoding sequences, in decode-only and in mixed iterations;
* high-Op/B unit: the rest (QKV / O projections, dense FFN, norms, prefill attention, the MoE
  layer in mixed and prefill iterations);
* an op the chosen unit cannot run goes to the candidate with the earliest estimated finish
  among those other than the other role unit (e.g. a softmax to a vector unit).

Overlap (``exclusive``, default on): the paper's plain Duplex is the "naive operation flow where
only an xPU or Logic-PIM is used at any given time" (Sec 5.2, Fig. operation_flow (a), (b)), so
an op may start on one of the two units only while the other is idle, except:

* ``expert_coprocessing`` (+PE): in every iteration with experts ("in both [the] decoding-only
  stage and mixed stage", Sec 5.2) the experts are split between the units by
  ``coprocessing.split_experts`` (all on the high-Op/B unit, then the experts with the fewest
  tokens moved one by one to the low-Op/B unit while the makespan of the two units' summed
  per-expert estimates improves), and expert ops on the two units overlap; with
  ``expert_memory_spaces: 4`` the experts live round-robin in four bank-bundle memory spaces
  and a space moves as a whole (Sec 5.3, ``coprocessing.expert_split``);
* ``attention_coprocessing`` (+ET): "the attention of prefilling sequences is handled by the
  [xPU], and that of decoding sequences is processed in [Logic-PIM]" at the same time (Sec 5.2,
  the mixed stage), the KV cache and the prefill Q/K/V kept in different bank-bundle memory
  spaces so that they do not conflict (Sec 5.3): attention ops on the two units overlap.
  The dispatch of attention is the same as without it; only the overlap changes.

Memory spaces and contention (``bundle_contention``, default on): each op's data is placed in
the bank-bundle memory spaces (``memory_spaces.place_segment``; ``kv_placement``), and a
low-Op/B op holds the banks of its spaces against the high-Op/B unit's co-running traffic there
(``port_claims``, ``bundle_contention.py``); zero where the spaces are disjoint.

Lowering by stage (``rewrite``, before planning): a composite attention op of decoding
sequences (not pinned by ``mapping.pins``) is lowered for the low-Op/B unit, by that unit's
own ``lower`` or else the op's (QK^T, softmax, PV), so that the device-wide target lowering
(the first unit that lowers attention, e.g. a GPU's fused FlashAttention kernel, which only the
GPU runs) does not keep it off the low-Op/B unit. Prefill attention is lowered as before.

Each unit starts its queued ops in readiness order; there is no re-dispatch (it would undo the
rule). Ops on other units (vector units, links) are never gated.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...errors import ConfigError
from ...workload.trace import Trace
from ..passes import passes_for
from ..passes.grouped_experts import GroupedExperts
from ..plan import SegmentPlan
from . import POLICIES, DispatchState, Policy
from .bundle_contention import BundleContention
from .coprocessing import expert_split
from .memory_spaces import KvLayout, Spaces, place_segment
from .lower_for import lower_for
from .opb_roles import Roles, RolesConfig, opb_roles, prefer
from .stages import expert, is_attention, low_by_stage


class DuplexStageConfig(RolesConfig):
    type: Literal["duplex_stage"] = "duplex_stage"
    expert_coprocessing: bool = False
    #: experts in this many bank-bundle memory spaces, each moved whole (Sec 5.3; None: each
    #: expert on its own)
    expert_memory_spaces: int | None = Field(None, ge=1, le=1024)
    attention_coprocessing: bool = False
    exclusive: bool = True
    #: the decode KV cache's memory spaces (Sec 5.3; memory_spaces.py): by_request, the
    #: paper's (a request's KV in one of spaces 1..S-1, prefill Q/K/V in space 0), or
    #: interleave (every attention op over all spaces, the xPU's ordinary address map)
    kv_placement: KvLayout = "by_request"
    #: Logic-PIM's bundle reads hold their spaces' banks against the xPU's co-running traffic
    #: there (bundle_contention.py); off: the two share the memory freely
    bundle_contention: bool = True


@POLICIES.register("duplex_stage")
class DuplexStage(Policy):
    """Stage-based dispatch with optional expert (+PE) and attention (+ET) co-processing."""

    config_model = DuplexStageConfig
    config: DuplexStageConfig

    def __init__(self, config: DuplexStageConfig | None = None) -> None:
        super().__init__(config or DuplexStageConfig())
        self.roles: Roles | None = None
        self.low_experts: set[str] = set()
        self.split: dict[str, Any] = {}
        self.contention: BundleContention | None = None
        self.spaces: list[Spaces] = []
        self._co: dict[str, list[int]] = {}

    def bind(self, device: Any) -> None:
        self.device = device
        self.roles = opb_roles(device, self.config)
        if self.config.expert_coprocessing:
            _check_experts_stay_apart(device)
        if self.config.bundle_contention:
            c = BundleContention(device, self.roles.low, self.roles.high)
            self.contention = c if c.spaces else None

    def _roles(self) -> Roles:
        if self.roles is None:
            raise RuntimeError("duplex_stage: bind(device) before scheduling")
        return self.roles

    def rewrite(self, trace: Trace) -> Trace:
        """Decode attention lowered for the low-Op/B unit (module docstring)."""
        return lower_for(trace, self.device, self._roles().low, low_by_stage, "duplex_stage")

    def prepare(self, seg: SegmentPlan, state: DispatchState) -> None:
        r = self._roles()
        self.low_experts, self.split = set(), {}
        if self.config.expert_coprocessing:
            self.low_experts, self.split = expert_split(seg, r.low, r.high,
                                                        self.config.expert_memory_spaces)
        if self.contention is not None:
            self._prepare_spaces(seg, state)

    def _prepare_spaces(self, seg: SegmentPlan, state: DispatchState) -> None:
        """The segment's placement and the high-unit ops each kind of low-unit op may overlap
        (experts with +PE, attention with +ET, everything when not exclusive)."""
        assert self.contention is not None
        c = self.config
        self.contention.reset()
        n = c.expert_memory_spaces or self.contention.spaces
        ops = [p.op for p in seg.ops]
        self.spaces = place_segment(ops, n, c.kv_placement)
        high = [j for j in range(len(ops)) if not self.wants_low(j, state)]
        self._co = {"all": high,
                    "expert": [j for j in high if expert(ops[j]) is not None],
                    "attention": [j for j in high if is_attention(ops[j])]}

    def _co_runners(self, i: int, state: DispatchState) -> tuple[str, list[int]]:
        op, c = state.seg.ops[i].op, self.config
        if not c.exclusive:
            return "all", self._co["all"]
        if c.expert_coprocessing and expert(op) is not None:
            return "expert", self._co["expert"]
        if c.attention_coprocessing and is_attention(op):
            return "attention", self._co["attention"]
        return "none", []

    def port_claims(self, i: int, state: DispatchState) -> dict[str, float]:
        """Bank-bundle contention (bundle_contention.py): a low-unit op's share of the memory
        port, held off the xPU's co-running traffic in the same memory spaces."""
        if self.contention is None:
            return {}
        return self.contention.claims(i, state, self.spaces,
                                      lambda k: self._co_runners(k, state))

    def wants_low(self, i: int, state: DispatchState) -> bool:
        """Whether op ``i`` belongs on the low-Op/B unit (module docstring)."""
        op = state.seg.ops[i].op
        e = expert(op)
        if e is not None and self.config.expert_coprocessing:
            return e in self.low_experts
        return low_by_stage(op)

    def assign(self, i: int, state: DispatchState) -> int:
        r = self._roles()
        want, avoid = (r.low, r.high) if self.wants_low(i, state) else (r.high, r.low)
        return prefer(i, state, want, avoid)

    def may_start(self, i: int, state: DispatchState) -> bool:
        if not self.config.exclusive:
            return True
        other = self._roles().other(state.cand(i).unit)
        if other is None or state.running[other] is None:
            return True
        return self._may_overlap(state.seg.ops[i].op, state.seg.ops[state.running[other][0]].op)

    def _may_overlap(self, a: Any, b: Any) -> bool:
        c = self.config
        return bool((c.expert_coprocessing and expert(a) is not None and expert(b) is not None)
                    or (c.attention_coprocessing and is_attention(a) and is_attention(b)))


def _check_experts_stay_apart(device: Any) -> None:
    """Expert co-processing moves single experts, so the ``grouped_experts`` pass (one kernel
    for all experts) must be off; refused with the fix rather than silently not splitting."""
    if any(isinstance(p, GroupedExperts) for p in passes_for(device, "lower")):
        asking = [n for n, u in device.units.items() if "grouped_experts" in u.passes]
        raise ConfigError(
            f"device {device.name!r}: expert_coprocessing splits a layer's experts between two "
            f"units, but the grouped_experts pass merges them into one op (asked by unit(s) "
            f"{', '.join(asking) or 'none'}: e.g. a GPU with moe_kernel: grouped); set "
            f"moe_kernel: loop there, or mapping.fusion: {{grouped_experts: false}}",
            file=device.source, key_path="scheduling.expert_coprocessing")
