"""Named scheduling policies (DESIGN 2.8): ``scheduling: {type: ...}`` in the device YAML.

A policy decides, identically at every fidelity, which unit an op runs on (``assign``, when the
op becomes ready: run-time dispatch), which queued op a free unit starts next (``pick``, by
``priority``, subject to ``may_start``: a policy may gate what overlaps), whether a free unit
takes over an op queued elsewhere (``redispatch``) and what share of a memory port a running op
takes off the top (``port_claims``). Estimates are the fidelity's latency
estimates (``Candidate.estimate``). A policy that needs the device itself (its units' peaks,
their memories) receives it once through ``bind`` before ``rewrite`` or ``prepare``. A new
policy is one module here with ``@POLICIES.register("name")``.
"""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict

from ...config.bounds import SaneModel
from ...registry import Registry
from ..plan import Candidate, SegmentPlan

POLICIES: Registry[type["Policy"]] = Registry("policy", package="accelsim.engine.policies",
                                              doc="scheduling policies (scheduling.type)",
                                              by_name=True,  # lookup imports <type>.py first
                                              modules={"subbatch_interleave": "subbatch"})


class PolicyConfig(SaneModel):
    """Base of every policy's YAML schema (``scheduling:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str


class DispatchState:
    """What a policy sees: ready times, choices, per-unit queues and running ops, held
    resources, and the current time (device ticks)."""

    def __init__(self, seg: SegmentPlan, units: list[str]) -> None:
        self.seg = seg
        self.now = 0.0
        self.unit_rank = {u: i for i, u in enumerate(units)}
        self.ready_at: dict[int, float] = {}
        self.choice: dict[int, int] = {}
        self.queues: dict[str, list[int]] = {u: [] for u in units}
        self.running: dict[str, tuple[int, float] | None] = {u: None for u in units}
        self.held: set[str] = set()

    def candidates(self, i: int) -> tuple[Candidate, ...]:
        return self.seg.ops[i].candidates

    def cand(self, i: int) -> Candidate:
        return self.seg.ops[i].candidates[self.choice[i]]

    def idle(self, unit: str) -> bool:
        return self.running[unit] is None

    def busy_until(self, unit: str) -> float:
        """Estimated end of the op running on ``unit`` (now if idle or overdue)."""
        run = self.running[unit]
        if run is None:
            return self.now
        i, start = run
        return max(self.now, start + self.cand(i).estimate)

    def available(self, unit: str) -> float:
        """Estimated time ``unit`` finishes its running and queued work."""
        return self.busy_until(unit) + sum(self.cand(j).estimate for j in self.queues[unit])

    def holds_free(self, i: int) -> bool:
        return not (set(self.cand(i).cost.holds) & self.held)

    # -- transitions (driven by the scheduler) ----------------------------------------------
    def enqueue(self, i: int, k: int) -> None:
        self.choice[i] = k
        self.queues[self.cand(i).unit].append(i)

    def move(self, i: int, k: int) -> None:
        """Re-dispatch queued op ``i`` to its candidate ``k``."""
        self.queues[self.cand(i).unit].remove(i)
        self.enqueue(i, k)

    def start(self, i: int) -> None:
        unit = self.cand(i).unit
        self.queues[unit].remove(i)
        self.running[unit] = (i, self.now)
        self.held.update(self.cand(i).cost.holds)

    def finish(self, i: int) -> None:
        self.running[self.cand(i).unit] = None
        self.held.difference_update(self.cand(i).cost.holds)


class Policy:
    """Base policy: earliest estimated finish at ready time, readiness order on each unit."""

    config_model: ClassVar[type[PolicyConfig]] = PolicyConfig

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config

    @classmethod
    def check_device(cls, config: PolicyConfig, units: dict[str, Any],
                     memories: dict[str, Any], main_memory: str | None
                     ) -> list[tuple[tuple, str]]:
        """Problems of this policy with a device's validated unit and memory configs (by
        name; ``main_memory``: the unit's memory where it names none), as (key path in the
        device YAML, message), reported with the file and line when the device is built.
        Default: none."""
        return []

    def port_claims(self, i: int, state: DispatchState) -> dict[str, float]:
        """Shares of memory ports (by memory name) op ``i`` takes off the top while it runs
        (e.g. a PIM GEMV's priority share of a dual-row-buffer DRAM: policy ``concurrent``);
        the scheduler reserves them on the fidelity's ports. Default: none."""
        return {}

    def bind(self, device: Any) -> None:
        """Receive the device this policy schedules on (``make_policy`` with a device; called
        before ``rewrite`` and ``prepare``). Default: nothing to learn."""

    def prepare(self, seg: SegmentPlan, state: DispatchState) -> None:
        """Called once per segment before time starts."""

    def rewrite(self, trace: Any) -> Any:
        """The workload as this policy runs it (called once before planning; capacity is
        checked on the original): e.g. split into interleaved sub-batches. Default: as is."""
        return trace

    def assign(self, i: int, state: DispatchState) -> int:
        """Candidate index for op ``i``, now ready: the earliest estimated finish given the
        work already queued, ties to the unit listed first."""
        cands = state.candidates(i)
        if len(cands) == 1:
            return 0
        return min(range(len(cands)), key=lambda k: (
            state.available(cands[k].unit) + cands[k].estimate, state.unit_rank[cands[k].unit]))

    def priority(self, i: int, state: DispatchState) -> tuple:
        return (state.ready_at[i], i)

    def may_start(self, i: int, state: DispatchState) -> bool:
        return True

    def pick(self, unit: str, state: DispatchState) -> int | None:
        """The queued op ``unit`` starts now, or None."""
        best = None
        for i in state.queues[unit]:
            if state.holds_free(i) and self.may_start(i, state):
                if best is None or self.priority(i, state) < self.priority(best, state):
                    best = i
        return best

    def redispatch(self, unit: str, state: DispatchState) -> tuple[int, int] | None:
        """(op, candidate index) of an op queued on another unit that idle ``unit`` should
        take over, or None."""
        return None


def make_policy(config: Any, device: Any = None) -> Policy:
    """A fresh policy object (policies may keep per-segment state) from its config, bound to
    ``device`` when one is given (``Policy.bind``)."""
    policy = POLICIES.get(config.type)(config)
    if device is not None:
        policy.bind(device)
    return policy
