"""Accelergy-style accounting: energy = sum(actions x energy per action) + leakage x time.

``arch_cost(device)`` turns every unit's and every memory's declared components
(``components()``) into priced components at the device's node; it is memoised on (node,
clock, units' types, configs and context keys, memories' types and configs), so a sweep pays
for it once per distinct design. Per op, the pipeline asks ``op_energy_j`` (a dot product of the
op's unit action counts with the per-action energies) plus ``memory_energy_j`` for the actions
its traffic causes in each memory (the memory model counts them: read and write bits); after
the run, ``report`` sums energy, leakage and area by component:

    E_dynamic = sum over owner actions a: count(a) * sum over components c charged by a: e_c(a)
    E_leakage = sum over components: count_c * P_leak,c * latency        (no power gating)
    area      = integration_overhead * sum over on-chip components: count_c * A_c

``integration_overhead`` is a calibrated constant (``data/calibration.csv``): the ratio of
floorplan area to the sum of component areas, fitted on the TPU v1 die. DRAM is off chip (no
area). A unit or memory that declares no components makes the device's energy and area unknown
(NaN), never zero; an action no component claims, or a component action the library lacks,
raises.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..errors import AccelsimError
from . import memory, scaling, techlib
from .components import Model, build

DRAM_ACT_SUFFIX = ".activate"
OVERHEAD_KEY = "integration_overhead"


@dataclass
class PricedComponent:
    """A component at a node: its model and how many instances exist."""

    key: str
    kind: str
    count: float
    model: Model

    @property
    def area_um2(self) -> float:
        return self.count * self.model.area_um2

    @property
    def leak_w(self) -> float:
        return self.count * self.model.leak_w


class OwnerCost:
    """Priced components of one unit or memory and the energy of each of its actions.

    Component keys are ``owner.component`` (a memory's component named '' is keyed by the
    memory's name). A DRAM component's per-bit energy is reported in two parts where the
    library has a row activation: the access part under its key and the amortised activation
    (one per full row streamed) under ``<key>.activate``.
    """

    def __init__(self, owner: Any, node: float, what: str = "unit") -> None:
        self.name = owner.name
        self.type = owner.config.type
        self.what = what
        self.node = node
        self.informational = frozenset(getattr(owner, "informational_actions", ()))
        comps = owner.components()
        self.modelled = comps is not None
        #: energy known (a unit may give only its area: ``Unit.energy_modelled``)
        self.energy_modelled = self.modelled and getattr(owner, "energy_modelled", True)
        self.components: list[PricedComponent] = []
        self._claims: list[tuple[str, str, PricedComponent]] = []  # (owner action, lib action, c)
        self._activation: dict[str, PricedComponent] = {}  # dram component key -> its activate
        self._resolved: dict[str, tuple[tuple[PricedComponent, float], ...]] = {}
        self._total: dict[str, float] = {}
        self._by_kind: dict[tuple[str, str], float] = {}
        by_name: dict[str, PricedComponent] = {}
        for c in comps or ():
            params = dict(c.params)
            if c.kind == "wire" and "pitch_of" in params:
                params = {"length_mm": self._pitch_mm(params.pop("pitch_of"), by_name, c.name)}
            key = f"{self.name}.{c.name}" if c.name else self.name
            pc = PricedComponent(key, c.kind, float(c.count), build(c.kind, params, node))
            by_name[c.name] = pc
            self.components.append(pc)
            if c.kind == "dram" and "activate_bit" in pc.model.energies:
                self._activation[key] = PricedComponent(key + DRAM_ACT_SUFFIX, "dram", 1.0,
                                                        pc.model)
            for ua, la in c.actions.items():
                self._claims.append((ua, la, pc))

    def _pitch_mm(self, names: Iterable[str], known: dict[str, PricedComponent], wire: str
                  ) -> float:
        """Side (mm) of a square holding one instance of each named component."""
        area = 0.0
        for n in names:
            if n not in known:
                raise AccelsimError(f"{self.what} {self.name!r}: wire {wire!r} takes its pitch "
                                    f"from component {n!r}, which is not declared before it")
            area += known[n].model.area_um2
        return math.sqrt(area) * 1e-3

    def parts(self, action: str) -> tuple[tuple[PricedComponent, float], ...]:
        """(component, pJ per count) pairs that ``action`` is charged to."""
        hit = self._resolved.get(action)
        if hit is not None:
            return hit
        out: list[tuple[PricedComponent, float]] = []
        for ua, la, pc in self._claims:
            if ua == action:
                out.extend(self._charge(pc, la, None, action))
            elif ua.endswith("*") and action.startswith(ua[:-1]) and len(action) > len(ua) - 1:
                out.extend(self._charge(pc, la, action[len(ua) - 1:], action))
        if not out and action not in self.informational:
            claimed = sorted({ua for ua, _, _ in self._claims})
            raise AccelsimError(f"{self.what} {self.name!r} ({self.type}) reports action "
                                f"{action!r}, which none of its components declares; declared: "
                                f"{', '.join(claimed) or 'none'}")
        self._resolved[action] = tuple(out)
        self._total[action] = sum(e for _, e in out)
        return self._resolved[action]

    def _kind_total(self, action: str, kind: str) -> float:
        """pJ per count of ``action`` on this owner's components of ``kind`` (memoised like
        ``_total``: the same sum, in the same order, once per action)."""
        key = (action, kind)
        hit = self._by_kind.get(key)
        if hit is None:
            hit = self._by_kind[key] = sum(e for pc, e in self.parts(action) if pc.kind == kind)
        return hit

    def _charge(self, pc: PricedComponent, la: str, variant: str | None, action: str
                ) -> list[tuple[PricedComponent, float]]:
        e = self._energy(pc, la, variant, action)
        act = self._activation.get(pc.key)
        if act is None or la not in ("read_bit", "write_bit"):
            return [(pc, e)]
        share = act.model.energy("activate_bit")  # split out of the per-bit total, never added
        return [(pc, e - share), (act, share)]

    def _energy(self, pc: PricedComponent, lib_action: str, variant: str | None,
                unit_action: str) -> float:
        try:
            return pc.model.energy(lib_action, variant)
        except (KeyError, AccelsimError) as e:
            what = f"{lib_action}:{variant}" if variant else lib_action
            why = f" ({e})" if isinstance(e, AccelsimError) else ""
            raise AccelsimError(
                f"the technology library has no energy for action {what!r} of component "
                f"{pc.key!r} (kind {pc.kind}) at {self.node:g} nm{why}; the model has: "
                f"{', '.join(pc.model.actions())} ({self.what} action {unit_action!r})") from None

    def energy_pj(self, actions: Mapping[str, float], kind: str | None = None) -> float:
        """Dynamic energy (pJ) of a set of action counts of this owner; with ``kind``, only the
        part charged to components of that kind (e.g. 'dram')."""
        if not self.energy_modelled:
            return math.nan
        if kind is not None:
            return sum(n * self._kind_total(a, kind) for a, n in actions.items())
        total = 0.0
        for a, n in actions.items():
            e = self._total.get(a)
            if e is None:
                self.parts(a)
                e = self._total[a]
            total += n * e
        return total


#: the pre-spine name
UnitCost = OwnerCost


@dataclass
class CostReport:
    """Energy, power, area and efficiency of one simulation (NaN where a unit is unmodelled)."""

    node_nm: float
    dram_kind: str
    energy_j: float
    dynamic_j: float
    leakage_j: float
    latency_s: float
    area_mm2: float
    area_raw_mm2: float
    overhead: float
    flops: float
    peak_tops: float
    #: dynamic energy (J) by component key ("unit.component" or "dram")
    energy_by_component: dict[str, float]
    #: leakage energy (J) by component key
    leakage_by_component: dict[str, float]
    #: area (mm^2) by component key, before the integration overhead
    area_by_component: dict[str, float]
    tokens: int | None = None
    #: DRAM row activations (streaming: bytes moved / row size, plus explicit ones); None
    #: where the library has no activation energy for the kind
    dram_activations: float | None = None
    unmodelled: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    #: False where a unit or memory declares its energy unknown (energy_j is then NaN)
    energy_known: bool = True

    @property
    def power_w(self) -> float:
        return self.energy_j / self.latency_s if self.latency_s > 0 else math.nan

    @property
    def tops_per_w(self) -> float:
        return self.flops / self.energy_j / 1e12 if self.energy_j > 0 else math.nan

    @property
    def tops_per_mm2(self) -> float:
        if not (self.latency_s > 0 and self.area_mm2 > 0):
            return math.nan
        return self.flops / self.latency_s / 1e12 / self.area_mm2

    @property
    def edp_js(self) -> float:
        return self.energy_j * self.latency_s

    @property
    def energy_per_token_j(self) -> float | None:
        return self.energy_j / self.tokens if self.tokens else None

    def summary(self) -> dict[str, Any]:
        """Headline keys merged into ``SimResult.summary()``."""
        d: dict[str, Any] = {
            "energy_j": self.energy_j, "energy_dynamic_j": self.dynamic_j,
            "energy_leakage_j": self.leakage_j, "power_w": self.power_w,
            "area_mm2": self.area_mm2, "tops_per_w": self.tops_per_w,
            "tops_per_mm2": self.tops_per_mm2, "peak_tops": self.peak_tops,
            "edp_js": self.edp_js,
        }
        if self.tokens:
            d["energy_per_token_j"] = self.energy_per_token_j
        d["energy"] = dict(self.energy_by_component) | {"leakage": self.leakage_j}
        d["area"] = dict(self.area_by_component) | {
            OVERHEAD_KEY: self.area_mm2 - self.area_raw_mm2}
        return d

    def to_dict(self) -> dict[str, Any]:
        """Everything, for ``SimResult.to_dict()`` under ``cost``."""
        return {"tech_node_nm": self.node_nm, "dram_kind": self.dram_kind,
                "integration_overhead": self.overhead, "area_raw_mm2": self.area_raw_mm2,
                "leakage_by_component_j": dict(self.leakage_by_component),
                "dram_activations": self.dram_activations,
                "unmodelled_units": list(self.unmodelled), "notes": list(self.notes)}


class ArchCost:
    """Priced components of a whole device: its units and its memories (module docstring)."""

    def __init__(self, arch: Any) -> None:
        self.node = scaling.check_node(arch.config.tech_node_nm)
        main = arch.memories[arch.main_memory]
        kind = main.dram_kind
        self.dram_kind = techlib.check_dram_kind(kind) if kind is not None else None
        self.units = {n: OwnerCost(u, self.node) for n, u in arch.units.items()}
        self.memories = {n: OwnerCost(m, self.node, "memory") for n, m in arch.memories.items()}
        self.activations = {n: memory.dram_activation(m.dram_kind)
                            for n, m in arch.memories.items() if m.dram_kind is not None}
        self.overhead = techlib.calibration(OVERHEAD_KEY)
        owners = list(self.units.values()) + list(self.memories.values())
        self.unmodelled = tuple(o.name for o in owners if not o.modelled)
        self.energy_unmodelled = tuple(o.name for o in owners
                                       if o.modelled and not o.energy_modelled)
        self.peak_tops = sum(2 * u.peak().macs * arch.unit_clock_hz(n)
                             for n, u in arch.units.items()) / 1e12
        comps = [c for o in owners for c in o.components]
        self.leak_w = sum(c.leak_w for c in comps)
        # DRAM is off chip: no area; a whole die ('die') is outside the integration overhead
        self.area_by_component = {c.key: c.area_um2 * 1e-6 for c in comps if c.area_um2 > 0}
        self.area_raw_mm2 = sum(self.area_by_component.values())
        self.die_mm2 = sum(c.area_um2 * 1e-6 for c in comps if c.kind == "die")

    @property
    def area_mm2(self) -> float:
        """Silicon area: components x the integration overhead, plus whole dies as built
        (NaN when a unit or memory declares no components)."""
        if self.unmodelled:
            return math.nan
        return (self.area_raw_mm2 - self.die_mm2) * self.overhead + self.die_mm2

    def op_energy_j(self, unit: str, actions: Mapping[str, float],
                    kind: str | None = None) -> float:
        """Dynamic energy (J) of one op's action counts on ``unit`` (only the components of
        ``kind`` when given)."""
        return self.units[unit].energy_pj(actions, kind) * 1e-12

    def memory_energy_j(self, mem: str, actions: Mapping[str, float],
                        kind: str | None = None) -> float:
        """Dynamic energy (J) of a memory's action counts (only the components of ``kind``
        when given)."""
        return self.memories[mem].energy_pj(actions, kind) * 1e-12

    def report(self, unit_actions: Mapping[str, Mapping[str, float]],
               memory_actions: Mapping[str, Mapping[str, float]], latency_s: float,
               flops: float, tokens: int | None = None) -> CostReport:
        """Totals and breakdowns of a run with these per-unit and per-memory action counts."""
        nan = math.nan
        by_comp: dict[str, float] = {}
        for owners, counts in ((self.units, unit_actions), (self.memories, memory_actions)):
            for name, acts in counts.items():
                o = owners[name]
                if not o.modelled:
                    continue
                for a in sorted(acts):
                    for pc, e in o.parts(a):
                        by_comp[pc.key] = by_comp.get(pc.key, 0.0) + acts[a] * e * 1e-12
        n_act = None
        for name, act in self.activations.items():
            if act is None:
                continue
            a = memory_actions.get(name, {})
            if "activations" in a:   # counted by the memory itself (type: dram)
                rows = a["activations"]
            else:                    # streaming: one activation per full row moved
                rows = (a.get("read_bits", 0.0) + a.get("write_bits", 0.0)) \
                    / (act.page_bytes * 8.0)
            n_act = (n_act or 0.0) + rows
        comps = [c for o in list(self.units.values()) + list(self.memories.values())
                 for c in o.components]
        leak = {c.key: c.leak_w * latency_s for c in comps if c.leak_w > 0}
        modelled = not self.unmodelled
        energy_known = modelled and not self.energy_unmodelled
        dyn = sum(by_comp.values()) if energy_known else nan
        leak_j = sum(leak.values()) if energy_known else nan
        area_raw = self.area_raw_mm2 if modelled else nan
        notes = [f"{'unit' if n in self.units else 'memory'} {n!r} declares no components: "
                 f"energy and area unknown" for n in self.unmodelled]
        notes += [f"unit {n!r} has no energy model: energy unknown (area known)"
                  for n in self.energy_unmodelled]
        return CostReport(
            node_nm=self.node, dram_kind=self.dram_kind, energy_j=dyn + leak_j, dynamic_j=dyn,
            leakage_j=leak_j, latency_s=latency_s, area_mm2=self.area_mm2,
            area_raw_mm2=area_raw, overhead=self.overhead, flops=flops, peak_tops=self.peak_tops,
            energy_by_component=dict(sorted(by_comp.items())),
            leakage_by_component=dict(sorted(leak.items())),
            area_by_component=dict(self.area_by_component), tokens=tokens,
            dram_activations=n_act,
            unmodelled=self.unmodelled, notes=notes, energy_known=energy_known)


_CACHE: "OrderedDict[tuple, ArchCost]" = OrderedDict()
_CACHE_SIZE = 256


def _price_key(mem: Any) -> tuple:
    """What a memory's pricing depends on: its components (not its bandwidth or clock)."""
    comps = mem.components()
    if comps is None:
        return (None,)
    return tuple((c.name, c.kind, c.count, tuple(sorted(c.params.items())),
                  tuple(sorted(c.actions.items()))) for c in comps) + (mem.dram_kind,)


def arch_cost(arch: Any) -> ArchCost:
    """Memoised ``ArchCost`` (keyed on node, clock, the units' types, configs and context keys,
    and what prices each memory: its components and DRAM kind, not its bandwidth)."""
    cfg = arch.config
    try:
        key = (cfg.tech_node_nm, arch.clock_hz, arch.main_memory,
               tuple((n, type(u), u.config, u.context_key()) for n, u in arch.units.items()),
               tuple((n, type(m), _price_key(m)) for n, m in arch.memories.items()))
        hash(key)
    except TypeError:
        return ArchCost(arch)
    hit = _CACHE.get(key)
    if hit is None:
        hit = _CACHE[key] = ArchCost(arch)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return hit


def tokens_of(meta: Iterable[tuple[str, str]]) -> int | None:
    """Tokens one run of a trace produces, from its meta: ``tokens``, else decode -> batch,
    prefill -> batch * prompt (also used by ``accelsim.dse.workloads``); None if unknown."""
    m = dict(meta)
    try:
        if "tokens" in m:
            return int(m["tokens"])
        if m.get("phase") == "decode" and "batch" in m:
            return int(m["batch"])
        if m.get("phase") == "prefill" and "batch" in m and "prompt" in m:
            return int(m["batch"]) * int(m["prompt"])
    except (TypeError, ValueError):
        return None
    return None
