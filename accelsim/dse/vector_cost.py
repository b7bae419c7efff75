"""Energy, power, area and efficiency columns of a ``SystolicGrid`` evaluation, vectorised.

``accelsim.cost.estimator.ArchCost.report`` prices a run by its action counts: per component
the sum of count x pJ per count (the technology library's, ``OwnerCost.parts``), the leakage
of every component over the latency, and the area of the components times the integration
overhead. Across a systolic sweep only the systolic unit's components change, and each one
depends on a few config fields: the PE MACs, registers and links on (rows, cols); the ifmap
SRAM on (ifmap KiB, rows); the filter and ofmap SRAMs on (their KiB, cols) (their capacity and
port width, ``SystolicArray.components``). So ``price`` builds the real ``OwnerCost`` once per
distinct value of each of those keys, takes every component and its per-action energies from
there, and then repeats ``report``'s arithmetic elementwise over all unique configs (dynamic
energy, area: they do not depend on the bandwidth) or all points (leakage, which scales with
the latency), accumulating in ``report``'s order so that each value is the per-point one bit
for bit (tests/test_dse_vector.py). The other units and the memories are priced once, by the
base device's ``arch_cost``.

Unit and memory action totals follow ``engine.assemble.unit_actions`` / ``memory_actions``:
per op, in plan order, count x repeat added to a running total.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .vector import NotVectorisable

#: the systolic unit's components in ``SystolicArray.components`` order, and which config
#: fields (columns of the unique-config table: rows, cols, ifmap, filter, ofmap) each depends on
_SA_PARTS = (("pe_mac", (0, 1)), ("pe_regs", (0, 1)), ("pe_links", (0, 1)),
             ("ifmap_sram", (0, 2)), ("filter_sram", (1, 3)), ("ofmap_sram", (1, 4)))


def price(grid: Any, latency_s: np.ndarray, macs: np.ndarray, cycles: np.ndarray,
          flops: np.ndarray, tokens: int | None) -> dict[str, np.ndarray]:
    """Per point: ``energy_j``, ``energy_dynamic_j``, ``energy_leakage_j``, ``power_w``,
    ``area_mm2``, ``tops_per_w``, ``tops_per_mm2``, ``peak_tops``, ``edp_js``, ``utilization``,
    ``energy.<component>``, ``area.<component>`` and the token metrics, as a per-point
    simulation's summary (then ``evaluate.with_token_metrics``) gives them."""
    from ..cost.estimator import OVERHEAD_KEY, OwnerCost, arch_cost
    ctx, arch, sa = grid.context, grid.arch, grid.unit
    if grid._base_unit.config.weight_dequant:
        raise NotVectorisable("weight_dequant adds a dequantiser component")
    ucfg, u_of = ctx.ucfg, ctx.u_of
    nu = ucfg.shape[0]
    ref = arch_cost(arch)
    node = ref.node

    # the systolic unit's priced components per unique config, from one OwnerCost per key
    owners: dict[tuple, Any] = {}
    comp_of: dict[str, list] = {}       # component -> per unique config its PricedComponent
    owner_of: dict[str, list] = {}      # component -> per unique config its OwnerCost
    for name, cols in _SA_PARTS:
        pcs, ows = [], []
        for i in range(nu):
            key = (name,) + tuple(ucfg[i, c] for c in cols)
            o = owners.get(key)
            if o is None:
                r, c = ucfg[i, :2]
                o = owners[key] = OwnerCost(grid._unit(int(r), int(c), tuple(ucfg[i, 2:])), node)
                got = [pc.key.split(".", 1)[1] for pc in o.components]
                if got != [n for n, _ in _SA_PARTS]:
                    raise NotVectorisable(f"systolic components {got} are not the expected ones")
            pcs.append(o.components[[n for n, _ in _SA_PARTS].index(name)])
            ows.append(o)
        comp_of[name], owner_of[name] = pcs, ows

    # action totals per unique config, in assemble's order (per op in plan order, x repeat)
    unit_acts: dict[str, dict[str, np.ndarray]] = {}
    mem_acts: dict[str, dict[str, np.ndarray]] = {m: {} for m in arch.memories}
    best: dict[str, np.ndarray] = {}
    for unit, groups, g_of, n in zip(ctx.units, ctx.costs, ctx.grp_of, ctx.repeat):
        ua = unit_acts.setdefault(unit, {})
        keys = list(groups[0][0].actions)
        if any(list(c.actions) != keys for c, _ in groups):
            raise NotVectorisable("an op's action names differ between configs")
        for k in keys:
            v = np.array([c.actions[k] for c, _ in groups])[g_of]
            ua[k] = ua.get(k, 0.0) + v * n
        for m in groups[0][1].totals:
            acts = [arch.memories[m].actions(rd, wr) for rd, wr in
                    (p.totals[m] for _, p in groups)]
            om = mem_acts[m]
            for k in acts[0]:
                v = np.array([a[k] for a in acts])[g_of]
                om[k] = om.get(k, 0.0) + v * n
        if groups[0][0].macs:
            pk = np.array([c.peak.macs for c, _ in groups], dtype=float)[g_of]
            best[unit] = pk if unit not in best else np.maximum(best[unit], pk)
    mem_acts = {m: a for m, a in mem_acts.items() if a}
    for m, mem in arch.memories.items():
        if mem.background_actions(1.0):
            raise NotVectorisable(f"memory {m!r} has background actions (refresh)")

    # dynamic energy by component, in report()'s order
    by_comp: dict[str, np.ndarray] = {}
    for owners_, counts in ((ref.units, unit_acts), (ref.memories, mem_acts)):
        for name, acts in counts.items():
            for a in sorted(acts):
                for pc_key, e in _parts(ref, owners_, name, a, sa, owner_of, nu):
                    by_comp[pc_key] = by_comp.get(pc_key, 0.0) + acts[a] * e * 1e-12
    dyn_u = _seq_sum(list(by_comp.values()), nu)

    # components in report()'s order (units, then memories): leakage and area
    comps: list[tuple[str, np.ndarray, np.ndarray]] = []   # key, leak_w, area_um2 per config
    for j, (uname, o) in enumerate(list(ref.units.items()) + list(ref.memories.items())):
        if j < len(ref.units) and uname == sa:
            for name, _ in _SA_PARTS:
                pcs = comp_of[name]
                comps.append((pcs[0].key, np.array([pc.leak_w for pc in pcs]),
                              np.array([pc.area_um2 for pc in pcs])))
        else:
            for pc in o.components:
                comps.append((pc.key, np.full(nu, pc.leak_w), np.full(nu, pc.area_um2)))
    area_by: dict[str, np.ndarray] = {}
    for key, _, area in comps:
        if (area > 0).all():
            area_by[key] = area * 1e-6
        elif (area > 0).any():
            raise NotVectorisable(f"component {key!r} has area on some configs only")
    raw_u = _seq_sum(list(area_by.values()), nu)
    area_u = (raw_u - ref.die_mm2) * ref.overhead + ref.die_mm2
    if ref.unmodelled or ref.energy_unmodelled:
        raise NotVectorisable("a unit or memory without an energy or area model")

    lat = latency_s
    leak_j = None
    leak_cols = {}
    for key, lw, _ in comps:
        if (lw > 0).all():
            v = lw[u_of] * lat
            leak_cols[key] = v
            leak_j = v if leak_j is None else leak_j + v
        elif (lw > 0).any():
            raise NotVectorisable(f"component {key!r} leaks on some configs only")
    leak_j = (0 + leak_j) if leak_j is not None else np.zeros_like(lat)
    dyn = dyn_u[u_of]
    energy = dyn + leak_j
    area = area_u[u_of]
    units_peak = _peak_tops(grid, ucfg)[u_of]
    pmacs = _peak_macs(arch, best)[u_of]
    out = {"energy_j": energy, "energy_dynamic_j": dyn, "energy_leakage_j": leak_j,
           "power_w": _div(energy, lat), "area_mm2": area,
           "tops_per_w": np.where(energy > 0, flops / np.where(energy > 0, energy, 1.0) / 1e12,
                                  np.nan),
           "tops_per_mm2": np.where((lat > 0) & (area > 0),
                                    flops / np.where(lat > 0, lat, 1.0) / 1e12
                                    / np.where(area > 0, area, 1.0), np.nan),
           "peak_tops": units_peak, "edp_js": energy * lat}
    denom = cycles * pmacs
    out["utilization"] = np.where(denom != 0, macs / np.where(denom != 0, denom, 1.0), 0.0)
    for key, v in by_comp.items():
        out[f"energy.{key}"] = v[u_of]
    out["energy.leakage"] = leak_j
    for key, v in area_by.items():
        out[f"area.{key}"] = v[u_of]
    out[f"area.{OVERHEAD_KEY}"] = area - raw_u[u_of]
    if tokens:
        out["tokens"] = np.full(lat.shape, float(tokens))
        out["tokens_per_s"] = np.where(lat > 0, tokens / np.where(lat > 0, lat, 1.0), np.nan)
        out["energy_per_token_j"] = energy / tokens
    return out


def _parts(ref: Any, owners: dict, name: str, action: str, sa: str, owner_of: dict,
           nu: int) -> list[tuple[str, Any]]:
    """(component key, pJ per count: a number, or one per unique config) of ``action``."""
    if name != sa or owners is not ref.units:
        return [(pc.key, e) for pc, e in owners[name].parts(action)]
    # every owner prices a whole unit, so any gives the action's parts in order; the energy
    # of each part comes from the owner keyed on what that component depends on
    out: list[tuple[str, Any]] = []
    for pc0, _ in owner_of["pe_mac"][0].parts(action):
        comp = pc0.key.split(".", 1)[1]
        if comp not in owner_of:
            raise NotVectorisable(f"action {action!r} is charged to {pc0.key!r}")
        es = []
        for o in owner_of[comp][:nu]:
            hit = [e for pc, e in o.parts(action) if pc.key == pc0.key]
            if len(hit) != 1:
                raise NotVectorisable(f"action {action!r}: {pc0.key!r} charged {len(hit)} "
                                      "times")
            es.append(hit[0])
        out.append((pc0.key, np.array(es)))
    return out


def _seq_sum(values: list, n: int) -> np.ndarray:
    """``sum(values)`` (Python's: 0 + v0 + v1 + ...), elementwise over arrays of length n."""
    total: Any = 0
    for v in values:
        total = total + v
    return np.broadcast_to(np.asarray(total, dtype=float), (n,)).copy()


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def _peak_tops(grid: Any, ucfg: np.ndarray) -> np.ndarray:
    """``ArchCost.peak_tops`` per unique config (the systolic unit at its rows and cols)."""
    arch = grid.arch
    memo: dict[tuple, float] = {}
    out = np.empty(ucfg.shape[0])
    for i, (r, c) in enumerate(ucfg[:, :2]):
        key = (r, c)
        if key not in memo:
            sa = grid._unit(int(r), int(c), tuple(ucfg[i, 2:]))
            units = {n: (sa if n == grid.unit else u) for n, u in arch.units.items()}
            memo[key] = sum(2 * u.peak().macs * arch.unit_clock_hz(n)
                            for n, u in units.items()) / 1e12
        out[i] = memo[key]
    return out


def _peak_macs(arch: Any, best: dict[str, np.ndarray]) -> np.ndarray:
    """``assemble.peak_macs_per_tick`` per unique config."""
    total: Any = 0
    for u in sorted(best):
        total = total + best[u] / arch.ticks_per_cycle(u)
    return np.asarray(total, dtype=float)
