"""System YAML: devices, the network between them and the parallelism.

    name: 8x-h100
    devices: {path: ../gpu/h100_sxm.yaml, count: 8}    # a device YAML (relative to this file)
    topology:                                         # one dimension, or a list, innermost first
      - {type: switch, npus: 8, bandwidth_gb_s: 450, latency_us: 2.5}
    parallelism: {tp: 8, pp: 1, ep: 1, microbatches: 1}

``tp x pp`` must equal the device count and the network must hold them; ``ep`` is 1 or ``tp``
(experts spread over the tensor-parallel group). Every device gets a ``link`` unit carrying
the topology (the network port that runs collectives).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..config.bounds import SaneModel
from ..errors import AccelsimError
from .topology import Dimension

LINK_UNIT = "link"


class _M(SaneModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceSpec(_M):
    path: str = Field(description="device YAML, relative to the system file")
    count: int = Field(1, gt=0, le=1 << 16)
    overrides: list[str] = Field([], description="-o style overrides for the device")


class Parallelism(_M):
    tp: int = Field(1, gt=0, le=4096, description="tensor-parallel ranks (Megatron)")
    pp: int = Field(1, gt=0, le=4096, description="pipeline stages of contiguous layers")
    ep: int = Field(1, gt=0, le=4096, description="expert-parallel ranks: 1 or tp")
    microbatches: int = Field(1, gt=0, le=4096, description="pipeline microbatches")


class SystemConfig(_M):
    name: str
    description: str | None = None
    devices: DeviceSpec
    topology: list[Dimension] = Field(min_length=1)
    parallelism: Parallelism = Parallelism()

    @field_validator("topology", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _fits(self) -> "SystemConfig":
        p, n = self.parallelism, self.devices.count
        if p.tp * p.pp != n:
            raise ValueError(f"parallelism tp x pp = {p.tp} x {p.pp} = {p.tp * p.pp} must equal "
                             f"devices.count {n}")
        npus = math.prod(d.npus for d in self.topology)
        if npus < n:
            raise ValueError(f"the topology holds {npus} NPUs, fewer than the {n} devices")
        if p.ep not in (1, p.tp):
            raise ValueError(f"ep must be 1 or tp ({p.tp}), got {p.ep}")
        return self


@dataclass
class System:
    """A built system: its config and the device every rank runs (with its link unit)."""

    config: SystemConfig
    device: Any
    file: str

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def parallelism(self) -> Parallelism:
        return self.config.parallelism

    @property
    def units(self) -> dict:
        """The device's units (what a sweep shares between points)."""
        return self.device.units

    def resolved(self) -> dict:
        """Everything the system's results depend on (a sweep point's key)."""
        return {"system": self.config.model_dump(mode="json"), "device": self.device.resolved()}


from .detect import is_system_doc, is_system_file  # noqa: E402,F401  (defined there: light)


#: sweep / override keys under this prefix go to the device YAML, not the system's
DEVICE_PREFIX = "device."


def load_system(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> System:
    """Load and validate a system YAML and build its device (errors name file, key, line).
    ``-o device.<key>=...`` overrides the device's YAML."""
    from ..config import load_document
    sys_over = [o for o in overrides if not o.startswith(DEVICE_PREFIX)]
    dev_over = [o[len(DEVICE_PREFIX):] for o in overrides if o.startswith(DEVICE_PREFIX)]
    return system_from_doc(load_document(path, sys_over), dev_over)


def system_from_doc(doc: Any, device_overrides: list[str] | tuple[str, ...] = (),
                    device_values: dict[str, Any] | None = None) -> System:
    """A System from a loaded system document; ``device_overrides`` (``-o`` strings) and
    ``device_values`` (dotted path -> value, as a sweep sets them) change its device."""
    from ..arch.device import build_arch
    from ..config import load_document, validate
    cfg = validate(SystemConfig, doc.data, doc)
    dev_path = Path(doc.file).parent / cfg.devices.path
    dev_doc = load_document(dev_path, [*cfg.devices.overrides, *device_overrides])
    if device_values:
        from ..dse.evaluate import overlay
        dev_doc = overlay(dev_doc, device_values, {})
    units = dict(dev_doc.data.get("units") or {})
    if LINK_UNIT in units:
        raise AccelsimError(f"{dev_path}: the device has a unit named {LINK_UNIT!r}; a system "
                            f"adds its own network port under that name")
    units[LINK_UNIT] = {"type": "link", "topology": [d.model_dump() for d in cfg.topology]}
    dev_doc.data = dict(dev_doc.data, units=units)
    return System(cfg, build_arch(dev_doc), str(doc.file))
