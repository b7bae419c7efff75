"""Batch evaluation of sweep points that differ only in what affects the schedule.

Config fields declare what they affect (``json_schema_extra={"affects": ...}`` on the pydantic
field; ``accelsim.dse.effects``): ``schedule`` (only the time to move bytes: a memory's
bandwidth), ``price`` (only energy and area) or, by default, ``plan`` (lowering, mapping, unit
costs). Points of one base and workload whose values agree on every non-``schedule`` parameter
form a *group*: they share the lowered, mapped and costed plan, the pricing, the op energies,
the action counts and the capacity check. ``BatchEvaluator`` simulates a group's first point
in full (``Evaluator.run``) and keeps that context; a later point of the group rebuilds only
its changed memories, re-times the plan (closed forms and schedule at the new rates), assembles
the per-op columns and prices the run's latency: the same functions ``accelsim.simulate`` calls,
in the same order, so its row equals one-point-at-a-time evaluation bit for bit (tested in
tests/test_dse_batch.py on random points of several experiments).

A group falls back to one point at a time when the shortcut's premises do not hold: a
multi-device system, a unit whose costs depend on its memory (``Unit.context_key()`` not
empty), or a point whose memory section fails validation (the full path reports the error).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import __version__
from ..arch.device import DEFAULT_MEMORY_TYPE, Device, _validate_typed
from ..errors import ConfigError
from .effects import schedule_params
from .evaluate import (Evaluator, Task, _describe, _fill_params, fill_summary, overlay,
                       point_config, resolve_arch, row_head)


@dataclass
class _Context:
    """What a group's first point leaves for the others (see module docstring)."""

    group: tuple
    arch: Device
    workload: Any           # the trace after the policy's rewrite
    fid: Any
    plans: list
    choices: list
    energies: list
    dram_energies: list
    traffic: tuple          # (unit actions, memory actions) of the ops: pipeline.traffic_actions
    pricing: Any
    capacity: Any
    tokens: Any
    lean: bool              # every segment a chain with one candidate per op (see _retime)
    schedule_paths: frozenset


class BatchEvaluator(Evaluator):
    """``Evaluator`` that evaluates schedule-only neighbours of the previous point from its
    plan (module docstring); rows are those of ``Evaluator.run``."""

    def __init__(self, exp: Any, **kw: Any) -> None:
        super().__init__(exp, **kw)
        self._ctx: _Context | None = None
        self._sched: dict[str, frozenset] = {}
        self.batched = 0   # points evaluated from a group's context (for benchmarks, tests)
        self._capture: dict[str, Any] | None = None

    def _simulate(self, arch: Any, trace: Any) -> Any:
        res = super()._simulate(arch, trace)
        if self._capture is not None:
            try:
                self._capture.update(_rebuild_context(arch, trace, self.exp.fidelity, res))
            except Exception:  # noqa: BLE001 - no context: the group runs point by point
                self._capture.clear()
        return res

    def _group(self, task: Task) -> tuple | None:
        sched = self._sched.get(task.base)
        if sched is None:
            return None
        return (task.base, task.workload,
                tuple(sorted((k, repr(v)) for k, v in task.values.items() if k not in sched)))

    def run(self, task: Task) -> dict[str, Any]:
        group = self._group(task)
        ctx = self._ctx
        if ctx is not None and group is not None and group == ctx.group:
            row = self._from_context(ctx, task)
            if row is not None:
                self.batched += 1
                return row
        row, ctx = self._full(task)
        self._ctx = ctx
        return row

    # -- a group's first point: the full path, keeping its context -------------------------
    def _full(self, task: Task) -> tuple[dict[str, Any], _Context | None]:
        captured: dict[str, Any] = {}
        row = _capturing(self, task, captured)
        arch = captured.get("arch")
        if row["status"] != "ok" or arch is None or "plans" not in captured:
            return row, None
        if task.base not in self._sched:
            self._sched[task.base] = schedule_params(self.exp.bases[task.base], arch)
        sched = self._sched[task.base]
        if not sched or any(u.context_key() != () for u in arch.units.values()):
            return row, None
        return row, _Context(group=self._group(task), schedule_paths=sched, **captured)

    # -- the others: re-time the shared plan at the point's memory rates --------------------
    def _from_context(self, ctx: _Context, task: Task) -> dict[str, Any] | None:
        from ..engine import assemble as asm
        from ..engine.result import SimResult, check_result
        from ..memory import MEMORIES
        exp = self.exp
        base, wl = exp.bases[task.base], exp.workloads[task.workload]
        row = row_head(exp, task, base)
        if _fill_params(row, task.values, exp.param_types):
            return None
        made = _mate_device(exp, base, task.values, ctx.arch, ctx.schedule_paths)
        if made is None:
            return None  # the full path reports it
        try:
            dev, a = made[0], ctx.arch
            clock = a.config.clock_ghz
            dev.memories = {n: (a.memories[n] if c == a.memory_configs[n]
                                else MEMORIES.get(c.type)(n, c, clock))
                            for n, c in dev.memory_configs.items()}
            row["config"], key = point_config(exp, task.workload, task.values, dev)
            if key != task.key:
                return None
            runs, columns, span, energies, unit_acts, mem_acts, actions = _timed(ctx, dev)
            units = asm.unit_stats(runs, dev)
            cost = ctx.pricing.report(unit_acts, mem_acts, latency_s=span / dev.clock_hz,
                                      flops=float(columns["flops"].sum()), tokens=ctx.tokens)
            res = check_result(SimResult(
                arch=dev.name, workload=ctx.workload.name, fidelity=exp.fidelity,
                clock_hz=dev.clock_hz, cycles=span, columns=columns, actions=actions,
                peak_macs_per_cycle=asm.peak_macs_per_tick(runs, dev),
                config_hash=dev.config_hash(), version=__version__, cost=cost,
                units=units, capacity=ctx.capacity))
            fill_summary(row, exp, res.summary(), wl, self._trace(wl, task.values), task, base)
        except Exception as e:  # a failing point is recorded, never fatal
            row.update(status="error", error=_describe(e), feasible=False)
        return row


def resolve_all(exp: Any, points: Any) -> list[Task]:
    """``[resolve(exp, p) for p in points]``, with the same tasks and errors: a point whose
    values differ from the previous resolved point's only in ``schedule`` parameters has just
    its memory section validated and its key computed from that point's resolved config."""
    from ..system.config import is_system_doc
    out: list[Task] = []
    ctx: tuple | None = None   # (group, arch, schedule params) of the last fully built point
    for p in points:
        task = None
        if ctx is not None and exp.batch:
            sched = ctx[2]
            group = (p.base, p.workload,
                     tuple(sorted((k, repr(v)) for k, v in p.values.items() if k not in sched)))
            if group == ctx[0]:
                task = _resolve_mate(exp, p, ctx[1], sched)
        if task is None:
            task, arch = resolve_arch(exp, p)
            base = exp.bases[p.base]
            ctx = None
            if base.size is None and not is_system_doc(base.doc.data):
                sched = schedule_params(base, arch)
                if sched:
                    ctx = ((p.base, p.workload, tuple(sorted(
                        (k, repr(v)) for k, v in p.values.items() if k not in sched))),
                        arch, sched)
        out.append(task)
    return out


def _mate_device(exp: Any, base: Any, values: dict, arch: Device, sched: frozenset
                 ) -> tuple[Device, dict] | None:
    """``arch`` with the memory configs of a point that differs from it only in ``sched``
    values (memory objects not rebuilt), and the point's raw memory section; None if the
    memory section does not validate or changes a memory's type (the full path tells why)."""
    from ..memory import MEMORIES
    doc = overlay(base.doc, {k: v for k, v in values.items() if k in sched}, base.origins)
    raw = doc.data.get("memory") if isinstance(doc.data, dict) else None
    if not isinstance(raw, dict):
        return None
    problems: list[ConfigError] = []
    mems = _validate_typed("memory", "memory", MEMORIES, raw, doc, problems,
                           default_type=DEFAULT_MEMORY_TYPE)
    if problems or list(mems) != list(arch.memory_configs) or any(
            type(c) is not type(arch.memory_configs[n]) for n, c in mems.items()):
        return None
    dev = copy.copy(arch)
    dev.config = arch.config.model_copy(update={"memory": raw})
    dev.memory_configs = mems
    dev._hash = dev._resolved = None
    return dev, raw


def _resolve_mate(exp: Any, p: Any, arch: Device, sched: frozenset) -> Task | None:
    made = _mate_device(exp, exp.bases[p.base], p.values, arch, sched)
    if made is None:
        return None
    _, key = point_config(exp, p.workload, p.values, made[0])
    return Task(p.index, key, p.base, p.workload, p.values)


def make_evaluator(exp: Any) -> Evaluator:
    """The evaluator sweeps use: batched where ``exp.batch`` (the default), else per point."""
    return BatchEvaluator(exp) if getattr(exp, "batch", True) else Evaluator(exp)


#: the per-op columns ``SimResult.summary`` and ``check_result`` read
_SUMMARY_COLUMNS = ("start", "end", "cycles", "compute_cycles", "stall_cycles", "unit_cycles",
                    "energy_j", "macs", "flops", "dram_read_bytes", "dram_write_bytes",
                    "sram_read_bytes", "sram_write_bytes", "buffer_read_bytes",
                    "buffer_write_bytes", "op")


def _timed(ctx: _Context, dev: Device) -> tuple:
    """The group's plan at ``dev``'s memory rates: runs, columns, span, op energies and action
    counts (the group's own wherever every op ran on the same unit as in its first point)."""
    from ..engine import assemble as asm
    from ..engine.plan import plan
    from ..engine.schedule import schedule
    from ..pipeline import price_runs, run_actions, traffic_actions
    if ctx.lean:   # the plan's ops back to back at these rates, on their only units
        runs = _retime(ctx, dev)
        columns, span = _columns(runs, dev, ctx.energies, ctx.dram_energies, _SUMMARY_COLUMNS)
        return (runs, columns, span, ctx.energies) + run_actions(runs, dev, span, ctx.traffic)
    plans = plan(dev, ctx.workload, ctx.fid)   # as pipeline.simulate, from the shared static plan
    runs = [asm.Run(sp, schedule(sp, ctx.fid, dev, True)) for sp in plans]
    if [[s.choice for s in r.slots] for r in runs] == ctx.choices:
        energies, dram_energies, traffic = ctx.energies, ctx.dram_energies, ctx.traffic
    else:
        energies, dram_energies = price_runs(ctx.pricing, dev, runs)
        traffic = traffic_actions(runs, dev)
    columns, span = asm.columns(runs, dev, energies, dram_energies)
    return (runs, columns, span, energies) + run_actions(runs, dev, span, traffic)


def _retime(ctx: _Context, dev: Device) -> list:
    """``schedule``'s chain fast path for the context's plan at ``dev``'s memory rates: each
    op's time alone (``Fidelity.alone``) back to back, on its only candidate."""
    from ..engine import assemble as asm
    from ..engine.plan import Candidate
    from ..engine.schedule import Slot
    mems, fid = dev.memories, ctx.fid
    runs = []
    for sp in ctx.plans:
        slots, now = [], 0.0
        for p in sp.ops:
            old = p.candidates[0]   # as plan() makes it, at these rates
            closed = old.prepared.closed_form(mems)
            c = Candidate(old.unit, old.cost, old.prepared, closed, closed)
            est = fid.estimate(c, dev)
            if est != closed:
                c = Candidate(old.unit, old.cost, old.prepared, closed, est)
            end = fid.finish(c, mems, now)   # as schedule._chain
            slots.append(Slot(now, end, 0))
            now = end
        runs.append(asm.Run(sp, slots))
    return runs


def _columns(runs: list, dev: Device, energies: list, dram_energies: list, keys: tuple
             ) -> tuple[dict, float]:
    """``assemble.columns`` restricted to ``keys`` (what the summary and the result checks
    read), by the same per-segment function."""
    from ..engine import assemble as asm
    parts, offset = [], 0.0
    for r, e, d in zip(runs, energies, dram_energies):
        parts.append(asm.segment_columns(r, dev, offset, e, d))
        offset += r.span * r.repeat
    return {k: np.concatenate([c[k] for c in parts]) for k in keys}, offset


def _capturing(ev: "BatchEvaluator", task: Task, out: dict[str, Any]) -> dict[str, Any]:
    """``Evaluator.run(task)``, recording what ``pipeline.simulate`` built (arch, rewritten
    trace, plans, op energies, actions, pricing, capacity) for the group's other points."""
    ev._capture = out
    try:
        return Evaluator.run(ev, task)
    finally:
        ev._capture = None


def _rebuild_context(arch: Any, trace: Any, fidelity: str, res: Any) -> dict[str, Any]:
    """The shared parts of a simulation of ``trace`` on ``arch`` (all memoised in the engine,
    so this costs little after ``simulate``)."""

    from ..cost.estimator import arch_cost, tokens_of
    from ..engine import assemble as asm
    from ..engine.capacity import check_capacity
    from ..engine.fidelities import fidelity as make_fidelity
    from ..engine.plan import plan
    from ..engine.policies import make_policy
    from ..engine.schedule import schedule
    from ..pipeline import price_runs, run_actions, traffic_actions
    fid = make_fidelity(fidelity)
    workload = make_policy(arch.policy_config, arch).rewrite(trace)
    plans = plan(arch, workload, fid)
    runs = [asm.Run(sp, schedule(sp, fid, arch, True)) for sp in plans]
    pricing = arch_cost(arch)
    energies, dram_energies = price_runs(pricing, arch, runs)
    traffic = traffic_actions(runs, arch)
    span = 0.0
    for r in runs:
        span += r.span * r.repeat
    actions = run_actions(runs, arch, span, traffic)[2]
    if actions != res.actions or span != res.cycles:
        raise RuntimeError("context does not reproduce the simulation")
    lean = bool(fid.fast_path) and all(sp.chain and all(len(p.candidates) == 1 for p in sp.ops)
                                       for sp in plans)
    return dict(arch=arch, workload=workload, fid=fid, plans=plans, lean=lean,
                choices=[[s.choice for s in r.slots] for r in runs], energies=energies,
                dram_energies=dram_energies, traffic=traffic, pricing=pricing,
                capacity=check_capacity(arch, trace), tokens=tokens_of(workload.meta))
