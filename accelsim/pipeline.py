"""``simulate(device, trace)``: the stages lower -> map -> place -> cost -> schedule -> price ->
assemble (DESIGN 2.8). The engine (``accelsim.engine``) owns all but *price*, which the cost
package does; this module is the one place that joins them, so the engine never imports it.
"""
from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np

from . import __version__
from .arch.device import Device
from .cost.estimator import ArchCost, arch_cost, tokens_of
from .engine import assemble as asm
from .engine.capacity import check_capacity
from .engine.fidelities import fidelity as make_fidelity
from .engine.plan import Candidate, plan
from .engine.result import SimResult, check_op_runs, check_result
from .errors import AccelsimError
from .engine.schedule import schedule
from .workload.trace import Trace


def simulate(arch: "Device | str | Path", workload: "Trace | str | Path", fidelity: str = "op",
             *, fast_path: bool = True) -> SimResult:
    """Simulate ``workload`` on ``arch`` (a device) at ``fidelity`` (``accelsim list
    fidelity``). ``fast_path=False`` runs events even where the closed form is exact.

    ``arch`` may be a config path (``load_arch``); ``workload`` a zoo model name, a Hugging Face
    config.json, model folder or cached id, or a trace path (``load_workload`` with its
    defaults; call ``load_workload`` for model options such as ``batch`` or ``phase``)."""
    if isinstance(arch, (str, Path)):
        from .arch.device import load_arch
        arch = load_arch(arch)
    elif not isinstance(arch, Device):
        raise AccelsimError(f"arch must be a Device (accelsim.load_arch) or a config path, got "
                            f"{type(arch).__name__}")
    if not isinstance(workload, Trace):
        from .workload.zoo import load_workload
        workload = load_workload(workload)
    fid = make_fidelity(fidelity)
    capacity = check_capacity(arch, workload)
    from .engine.policies import make_policy
    workload = make_policy(arch.policy_config, arch).rewrite(workload)      # e.g. sub-batches
    plans = plan(arch, workload, fid)                                   # lower, map, place, cost
    check_op_runs(workload.name, sum(len(sp.ops) * sp.segment.repeat for sp in plans))
    runs = [asm.Run(sp, schedule(sp, fid, arch, fast_path)) for sp in plans]    # schedule
    pricing = arch_cost(arch)                                           # price
    energies, dram_energies = price_runs(pricing, arch, runs)
    columns, span = asm.columns(runs, arch, energies, dram_energies)   # assemble
    unit_acts, mem_acts, actions = run_actions(runs, arch, span)
    cost = pricing.report(unit_acts, mem_acts, latency_s=span / arch.clock_hz,
                          flops=float(columns["flops"].sum()), tokens=tokens_of(workload.meta))
    return check_result(SimResult(
        arch=arch.name, workload=workload.name, fidelity=fidelity, clock_hz=arch.clock_hz,
        cycles=span, columns=columns, actions=actions,
        peak_macs_per_cycle=asm.peak_macs_per_tick(runs, arch), config_hash=arch.config_hash(),
        version=__version__, cost=cost, units=asm.unit_stats(runs, arch), capacity=capacity))


def price_runs(pricing: ArchCost, arch: Device, runs: list
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each run's op energies (J) and their DRAM parts (``_op_energy``), per run."""
    memo: dict[int, tuple[float, float]] = {}
    priced = [np.array([_op_energy(pricing, arch, c, memo) for c in r.chosen],
                       dtype=float).reshape(-1, 2) for r in runs]
    return [p[:, 0] for p in priced], [p[:, 1] for p in priced]


def traffic_actions(runs: list, arch: Device) -> tuple[dict, dict]:
    """Unit and memory action counts of the runs' ops (independent of time)."""
    return asm.unit_actions(runs), asm.memory_actions(runs, arch)


def run_actions(runs: list, arch: Device, span: float, traffic: tuple[dict, dict] | None = None
                ) -> tuple[dict, dict, dict]:
    """(unit actions, memory actions, flat ``unit.action`` / ``memory.action`` counts): the
    ops' traffic (``traffic`` when already counted) plus what the memories do over the elapsed
    ``span`` ticks (e.g. DRAM refresh), which depends on the timing."""
    unit_acts, mem_acts0 = traffic if traffic is not None else traffic_actions(runs, arch)
    mem_acts = {m: dict(a) for m, a in mem_acts0.items()}
    for m, mem in arch.memories.items():      # e.g. DRAM refresh over the elapsed time
        for k, v in mem.background_actions(span / arch.clock_hz).items():
            mem_acts.setdefault(m, {})[k] = mem_acts.get(m, {}).get(k, 0.0) + v
    actions = {f"{u}.{k}": v for u, acts in unit_acts.items() for k, v in acts.items()}
    actions.update({f"{m}.{k}": v for m, acts in mem_acts.items() for k, v in acts.items()})
    return unit_acts, mem_acts, actions


def _op_energy(pricing: ArchCost, device: Device, c: Candidate,
               memo: dict[int, tuple[float, float]]) -> tuple[float, float]:
    """Dynamic energy (J) of one run of an op, its unit's actions plus its memory traffic, and
    the part of it in DRAM components; memoised per candidate within a call, and across calls
    on the prepared op (its actions and bytes) by the pricing (the priced components: held
    weakly, checked by identity), the unit and the device's memory timing ids."""
    hit = memo.get(id(c))
    if hit is None:
        prep = c.prepared
        key = ("energy", id(pricing), c.unit, asm.memory_ids(device))
        ent = prep._memo.get(key)
        if ent is not None and ent[0]() is pricing:
            hit = ent[1]
        else:
            e = pricing.op_energy_j(c.unit, c.cost.actions)
            d = pricing.op_energy_j(c.unit, c.cost.actions, kind="dram")
            for m, acts in asm.op_memory_actions(c, device).items():
                e += pricing.memory_energy_j(m, acts)
                d += pricing.memory_energy_j(m, acts, kind="dram")
            hit = (e, d)
            prep.memo_put(key, (weakref.ref(pricing), hit))
        memo[id(c)] = hit
    return hit
