"""A system (one accelerator chip) built from YAML: clock, node, units, DRAM.

Example::

    name: sa32_os
    clock_ghz: 1.0
    tech_node_nm: 28
    units:
      sa: {type: systolic_array, rows: 32, cols: 32, dataflow: os}
    memory:
      dram: {bandwidth_bytes_per_cycle: unlimited}

Each ``units.<name>`` mapping is validated by the schema of its ``type`` (see
``arch.registry``), so errors name the unit's key path and line.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import SourceDoc, load_document, suggest, validate
from ..errors import ConfigError
from .base import Unit
from .registry import unit_types


class DramConfig(BaseModel):
    """Off-chip memory shared by all units. Give exactly one bandwidth."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = Field("hbm2", description="DRAM kind priced by the technology library "
                      "(accelsim techlib show lists them); default hbm2")
    bandwidth_bytes_per_cycle: float | Literal["unlimited"] | None = None
    bandwidth_gb_s: float | None = Field(None, gt=0)
    capacity_gb: float | None = Field(None, gt=0)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        from ..cost.techlib import check_dram_kind  # lazy: cost does not import arch
        return _as_value_error(check_dram_kind, v)

    @model_validator(mode="after")
    def _one_bandwidth(self) -> "DramConfig":
        given = (self.bandwidth_bytes_per_cycle is not None) + (self.bandwidth_gb_s is not None)
        if given != 1:
            raise ValueError("give exactly one of bandwidth_bytes_per_cycle (a number or "
                             "'unlimited') and bandwidth_gb_s")
        bpc = self.bandwidth_bytes_per_cycle
        if isinstance(bpc, float) and not bpc > 0:
            raise ValueError(f"bandwidth_bytes_per_cycle must be > 0, got {bpc}")
        return self


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    dram: DramConfig


class SystemConfig(BaseModel):
    """Top level of an architecture YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = None
    description: str | None = None
    clock_ghz: float = Field(gt=0)
    tech_node_nm: float = Field(gt=0)
    units: dict[str, dict[str, Any]] = Field(min_length=1)
    memory: MemoryConfig

    @field_validator("tech_node_nm")
    @classmethod
    def _supported_node(cls, v: float) -> float:
        from ..cost.scaling import check_node  # lazy: cost does not import arch
        return _as_value_error(check_node, v)


def _as_value_error(check: Any, v: Any) -> Any:
    """Run a library check, turning its AccelsimError into the ValueError pydantic reports."""
    from ..errors import AccelsimError
    try:
        return check(v)
    except AccelsimError as e:
        raise ValueError(str(e)) from None


@dataclass
class Arch:
    """A validated, built system: units by name plus the shared DRAM."""

    name: str
    config: SystemConfig
    unit_configs: dict[str, BaseModel]
    units: dict[str, Unit]
    source: str | None = None
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def clock_hz(self) -> float:
        return self.config.clock_ghz * 1e9

    @property
    def dram_bytes_per_cycle(self) -> float:
        """Shared DRAM bandwidth in bytes per cycle (inf when unlimited)."""
        d = self.config.memory.dram
        if d.bandwidth_gb_s is not None:
            return d.bandwidth_gb_s * 1e9 / self.clock_hz
        return math.inf if d.bandwidth_bytes_per_cycle == "unlimited" else float(d.bandwidth_bytes_per_cycle)

    def resolved(self) -> dict:
        """The fully resolved config (defaults filled in), as plain data."""
        d = self.config.model_dump(mode="json")
        d["units"] = {n: c.model_dump(mode="json") for n, c in self.unit_configs.items()}
        return d

    def config_hash(self) -> str:
        """Short SHA-256 of the resolved config (computed once; the config is frozen)."""
        if self._hash is None:
            blob = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
            self._hash = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return self._hash


def load_arch(path: str | Path, overrides: Sequence[str] = ()) -> Arch:
    """Load, validate and build an architecture YAML (with ``extends`` and ``-o`` overrides)."""
    doc = load_document(path, overrides)
    return build_arch(doc)


def arch_from_dict(data: dict, name: str = "<dict>") -> Arch:
    """Build an architecture from a plain dict (API use; errors name ``name``)."""
    return build_arch(SourceDoc(data=data, file=name))


def build_arch(doc: SourceDoc) -> Arch:
    """Validate the system and every unit, reporting all problems together."""
    problems: list[ConfigError] = []
    system: SystemConfig | None = None
    try:
        system = validate(SystemConfig, doc.data, doc)  # type: ignore[assignment]
    except ConfigError as e:
        problems.extend(e.problems or [e])
    raw_units = doc.data.get("units") if isinstance(doc.data, dict) else None
    configs = _validate_units(raw_units if isinstance(raw_units, dict) else {}, doc, problems)
    if problems or system is None:
        raise ConfigError(f"{len(problems)} problem(s) in {doc.file}", problems=problems)
    registry = unit_types()
    units = {n: registry[c.type](n, c) for n, c in configs.items()}  # type: ignore[attr-defined]
    name = system.name or Path(doc.file).stem
    return Arch(name=name, config=system, unit_configs=configs, units=units, source=doc.file)


def _validate_units(raw: dict, doc: SourceDoc, problems: list[ConfigError]) -> dict[str, BaseModel]:
    """Validate each ``units.<name>`` by the schema of its ``type``; collect problems."""
    registry = unit_types()
    known = ", ".join(sorted(registry))
    configs: dict[str, BaseModel] = {}
    for uname, spec in raw.items():
        path = ("units", uname)
        if not isinstance(spec, dict):
            file, line = doc.origin(path)
            problems.append(ConfigError("a unit must be a mapping with a 'type' key", file=file,
                                        line=line, key_path=".".join(map(str, path))))
            continue
        tname = spec.get("type")
        if tname not in registry:
            file, line = doc.origin(path + ("type",))
            msg = (f"missing required key 'type'; known types: {known}" if tname is None else
                   f"unknown unit type {tname!r}{suggest(str(tname), registry)}; known types: {known}")
            problems.append(ConfigError(msg, file=file, line=line,
                                        key_path=".".join(map(str, path + ("type",)))))
            continue
        try:
            configs[uname] = validate(registry[tname].config_model, spec, doc, prefix=path)
        except ConfigError as e:
            problems.extend(e.problems or [e])
    return configs
