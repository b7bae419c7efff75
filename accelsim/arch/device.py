"""A device (one chip) built from YAML: clock, node, units, memories, mapping, scheduling.

Example::

    name: sa32_os
    clock_ghz: 1.0                 # the device clock: engine time is counted in its cycles
    tech_node_nm: 28
    units:
      sa: {type: systolic_array, rows: 32, cols: 32, dataflow: os}
      vec: {type: vector, lanes: 64, clock_ghz: 0.5}   # a unit may have its own clock
    memory:
      dram: {type: bandwidth, kind: hbm2, bandwidth_gb_s: 512, capacity_gb: 16}
      gbuf: {type: buffer, capacity_kb: 8192}          # shared on-chip buffer (optional)
    mapping:
      pins: {"*.softmax": vec}     # op-name glob -> unit (wins over workload tags)
      fusion: {buffer_edges: true} # mapper passes on or off
    scheduling: {type: greedy}     # accelsim list policy

Each ``units.<name>`` and ``memory.<name>`` mapping is validated by the schema of its ``type``
(a memory without ``type`` is ``bandwidth``, as before memories had types), and ``scheduling``
by its policy's, so errors name the key path and line. The device's main memory (where weights
and the KV cache live) is its first off-chip memory.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import SourceDoc, as_value_error, copy_data, load_document, validate
from ..config.bounds import MAX_CLOCK_GHZ, MIN_CLOCK_GHZ, SaneModel
from ..errors import ConfigError
from .base import Unit, UnitContext
from .registry import UNITS

DEFAULT_MEMORY_TYPE = "bandwidth"
DEFAULT_POLICY = "greedy"


class MappingConfig(SaneModel):
    """Where ops run and which mapper passes apply (the mapping as an input, as in Timeloop)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pins: dict[str, str] = Field(default_factory=dict, description="op-name glob -> unit name; "
                                 "the first matching glob wins, over workload tags")
    fusion: dict[str, bool] = Field(default_factory=dict, description="mapper pass name -> on "
                                    "or off (accelsim list pass)")


class DeviceConfig(SaneModel):
    """Top level of an architecture (device) YAML (bounds: ``accelsim.config.bounds``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = None
    description: str | None = None
    clock_ghz: float = Field(ge=MIN_CLOCK_GHZ, le=MAX_CLOCK_GHZ, allow_inf_nan=False)
    tech_node_nm: float = Field(gt=0, allow_inf_nan=False)
    #: each entry is validated by the schema of its type (``_validate_typed``)
    units: dict[str, Any] = Field(min_length=1)
    memory: dict[str, Any] = Field(min_length=1)
    mapping: MappingConfig = MappingConfig()
    #: validated by the chosen policy's schema (``_validate_policy``)
    scheduling: Any = None

    @field_validator("tech_node_nm")
    @classmethod
    def _supported_node(cls, v: float) -> float:
        from ..cost.scaling import check_node  # lazy: cost does not import arch
        return as_value_error(check_node, v)


@dataclass
class Device:
    """A validated, built device: units and memories by name, the mapping and the policy."""

    name: str
    config: DeviceConfig
    unit_configs: dict[str, BaseModel]
    units: dict[str, Unit]
    memory_configs: dict[str, BaseModel]
    memories: dict[str, Any]
    policy_config: BaseModel
    source: str | None = None
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)
    _resolved: dict | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict:
        """Pickled without ``_memory_ids`` (its memories' process-local timing ids)."""
        state = dict(self.__dict__)
        state.pop("_memory_ids", None)
        return state

    @property
    def clock_hz(self) -> float:
        return self.config.clock_ghz * 1e9

    @property
    def main_memory(self) -> str:
        """Name of the main memory: the first off-chip memory."""
        return next(n for n, m in self.memories.items() if m.offchip)

    def unit_memory(self, unit: str) -> str:
        """Name of the memory ``unit`` streams through."""
        return self.units[unit].config.memory or self.main_memory  # type: ignore[attr-defined]

    def ticks_per_cycle(self, unit: str) -> float:
        """Device ticks per cycle of ``unit``'s clock (exactly 1.0 on the device clock)."""
        own = self.units[unit].config.clock_ghz
        dev = self.config.clock_ghz
        return 1.0 if own is None or own == dev else dev / own

    def unit_clock_hz(self, unit: str) -> float:
        own = self.units[unit].config.clock_ghz
        return (own or self.config.clock_ghz) * 1e9

    @property
    def dram_bytes_per_cycle(self) -> float:
        """Main-memory bandwidth in bytes per device cycle (inf when unlimited)."""
        return self.memories[self.main_memory].bytes_per_tick

    def resolved(self) -> dict:
        """The fully resolved config (defaults filled in), as plain data (a fresh copy)."""
        return copy_data(self._resolved_data())

    def _resolved_data(self) -> dict:
        """``resolved()`` itself, built once (not to be modified)."""
        if self._resolved is None:
            d = self.config.model_dump(mode="json")
            d["units"] = {n: c.model_dump(mode="json") for n, c in self.unit_configs.items()}
            d["memory"] = {n: c.model_dump(mode="json") for n, c in self.memory_configs.items()}
            d["scheduling"] = self.policy_config.model_dump(mode="json")
            self._resolved = d
        return self._resolved

    def config_hash(self) -> str:
        """Short SHA-256 of the resolved config (computed once; the config is frozen)."""
        if self._hash is None:
            blob = json.dumps(self._resolved_data(), sort_keys=True, separators=(",", ":"))
            self._hash = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return self._hash


#: the pre-spine name of a device; kept so every existing script and import works
Arch = Device


def load_arch(path: str | Path, overrides: Sequence[str] = ()) -> Device:
    """Load, validate and build a device YAML (with ``extends`` and ``-o`` overrides), or a
    SCALE-Sim ``scale.cfg`` (``.cfg``; see ``accelsim.arch.scalesim_cfg``)."""
    from .scalesim_cfg import is_scalesim_cfg, load_scalesim_cfg
    if is_scalesim_cfg(path):
        from ..config.loader import apply_overrides
        return build_arch(apply_overrides(load_scalesim_cfg(path), overrides))
    return build_arch(load_document(path, overrides))


load_device = load_arch


def arch_from_dict(data: dict, name: str = "<dict>") -> Device:
    """Build a device from a plain dict (API use; errors name ``name``)."""
    return build_arch(SourceDoc(data=data, file=name))


def build_arch(doc: SourceDoc) -> Device:
    """Validate the device, every unit, memory and the policy, reporting all problems together;
    then build the memories, the units, and give each unit its context."""
    from ..memory import MEMORIES
    problems: list[ConfigError] = []
    top: DeviceConfig | None = None
    try:
        top = validate(DeviceConfig, doc.data, doc)  # type: ignore[assignment]
    except ConfigError as e:
        problems.extend(e.problems or [e])
    data = doc.data if isinstance(doc.data, dict) else {}
    units = _validate_typed("units", "unit", UNITS, _mapping(data, "units"), doc, problems)
    mems = _validate_typed("memory", "memory", MEMORIES, _mapping(data, "memory"), doc,
                           problems, default_type=DEFAULT_MEMORY_TYPE)
    raw_sched = data.get("scheduling")
    policy = _validate_policy({"type": DEFAULT_POLICY} if raw_sched is None else raw_sched, doc,
                              problems)
    if top is not None:
        _cross_check(top, _mapping(data, "units"), _mapping(data, "memory"), mems, doc, problems)
    if policy is not None and len(units) == len(_mapping(data, "units")) \
            and len(mems) == len(_mapping(data, "memory")):
        from ..engine.policies import POLICIES
        main_mem = next((n for n, c in mems.items()
                         if MEMORIES.get(c.type).offchip), None)  # type: ignore[attr-defined]
        for path, msg in POLICIES.get(policy.type).check_device(  # type: ignore[attr-defined]
                policy, units, mems, main_mem):
            problems.append(_fail(doc, path, msg))
    if problems or top is None or policy is None:
        raise ConfigError(f"{len(problems)} problem(s) in {doc.file}", problems=problems)
    clock = top.clock_ghz
    memories = {n: MEMORIES.get(c.type)(n, c, clock) for n, c in mems.items()}  # type: ignore[attr-defined]
    built = {n: UNITS.get(c.type)(n, c) for n, c in units.items()}  # type: ignore[attr-defined]
    main = next(n for n, m in memories.items() if m.offchip)
    for n, u in built.items():
        mem = memories[u.config.memory or main]  # type: ignore[attr-defined]
        u.bind(UnitContext(device_clock_ghz=clock, memory=mem, memories=dict(memories)))
    return Device(name=top.name or Path(doc.file).stem, config=top, unit_configs=units,
                  units=built, memory_configs=mems, memories=memories, policy_config=policy,
                  source=doc.file)


def _mapping(data: dict, key: str) -> dict:
    raw = data.get(key)
    return raw if isinstance(raw, dict) else {}


def _fail(doc: SourceDoc, path: tuple, msg: str) -> ConfigError:
    file, line = doc.origin(path)
    return ConfigError(msg, file=file, line=line, key_path=".".join(map(str, path)))


def _validate_typed(section: str, what: str, registry: Any, raw: dict, doc: SourceDoc,
                    problems: list[ConfigError], default_type: str | None = None
                    ) -> dict[str, BaseModel]:
    """Validate each ``<section>.<name>`` by the schema of its ``type``; collect problems."""
    configs: dict[str, BaseModel] = {}
    for name, spec in raw.items():
        path = (section, name)
        if not isinstance(spec, dict):
            problems.append(_fail(doc, path, f"a {what} must be a mapping with a 'type' key"))
            continue
        tname = spec.get("type", default_type)
        if not isinstance(tname, str) or tname not in registry:
            msg = (f"missing required key 'type'; known types: {', '.join(registry.names())}"
                   if tname is None else
                   registry.unknown(tname))
            problems.append(_fail(doc, path + ("type",), msg))
            continue
        if "type" not in spec:
            spec = dict(spec, type=tname)
        try:
            configs[name] = validate(registry.get(tname).config_model, spec, doc, prefix=path)
        except ConfigError as e:
            problems.extend(e.problems or [e])
    return configs


def _validate_policy(raw: Any, doc: SourceDoc, problems: list[ConfigError]) -> BaseModel | None:
    from ..engine.policies import POLICIES
    if not isinstance(raw, dict):
        problems.append(_fail(doc, ("scheduling",), "must be a mapping with a 'type' key, e.g. "
                                                    "{type: greedy}"))
        return None
    tname = raw.get("type", DEFAULT_POLICY)
    if not isinstance(tname, str) or tname not in POLICIES:
        msg = (f"missing required key 'type'; known types: {', '.join(POLICIES.names())}"
               if tname is None else POLICIES.unknown(tname))
        problems.append(_fail(doc, ("scheduling", "type"), msg))
        return None
    try:
        return validate(POLICIES.get(tname).config_model, dict(raw, type=tname), doc,
                        prefix=("scheduling",))
    except ConfigError as e:
        problems.extend(e.problems or [e])
        return None


def _cross_check(top: DeviceConfig, raw_units: dict, raw_mems: dict,
                 mems: dict[str, BaseModel], doc: SourceDoc, problems: list[ConfigError]) -> None:
    """References between sections: unit memories, an off-chip memory, pins, fusion passes.
    Names are checked against every entry written, valid or not, so a reference is reported
    together with (not instead of) a problem inside the entry it names."""
    from ..engine.passes import PASSES
    from ..memory import MEMORIES
    if len(mems) == len(raw_mems) and not any(
            MEMORIES.get(c.type).offchip for c in mems.values()):  # type: ignore[attr-defined]
        problems.append(_fail(doc, ("memory",), "needs at least one off-chip memory (e.g. "
                                                "{type: bandwidth, bandwidth_gb_s: 512})"))
    for n, spec in raw_units.items():
        m = spec.get("memory") if isinstance(spec, dict) else None
        if isinstance(m, str) and m not in raw_mems:
            problems.append(_fail(doc, ("units", n, "memory"), f"no memory {m!r}; memories: "
                                  f"{', '.join(raw_mems)}"))
    for glob, unit in top.mapping.pins.items():
        if unit not in raw_units:
            problems.append(_fail(doc, ("mapping", "pins", glob), f"no unit {unit!r}; units: "
                                  f"{', '.join(raw_units)}"))
    sched = top.scheduling if isinstance(top.scheduling, dict) else {}
    for key, unit in sched.items():  # a policy key naming a unit (duplex_stage's low_opb_unit)
        if isinstance(key, str) and key.endswith("_unit") and isinstance(unit, str) \
                and unit not in raw_units:
            problems.append(_fail(doc, ("scheduling", key), f"no unit {unit!r}; units: "
                                  f"{', '.join(raw_units)}"))
    for name in top.mapping.fusion:
        if name not in PASSES:
            problems.append(_fail(doc, ("mapping", "fusion", name), PASSES.unknown(name)))
