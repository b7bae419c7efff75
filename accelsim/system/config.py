"""System YAML: devices, the network between them and the parallelism.

    name: 8x-h100
    devices: {path: ../gpu/h100_sxm.yaml, count: 8}    # a device YAML (relative to this file)
    topology:                                         # one dimension, or a list, innermost first
      - {type: switch, npus: 8, bandwidth_gb_s: 450, latency_us: 2.5}
    parallelism: {dp: 1, tp: 8, pp: 1, ep: 1, microbatches: 1}

``dp x tp x pp`` must equal the device count and the network must hold them; ranks are
numbered tp innermost, then dp, then pp (a replica's tensor-parallel group on contiguous NPUs,
so it sits in a node when tp fits one). ``dp`` replicas of tp x pp devices each take an even
share of the batch (sharding.py ``split_tokens``). ``ep``, where the experts live:

* 1: every replica holds all experts, tensor-split over its tp ranks (all-reduce after);
* tp: every replica holds all experts, spread whole over its tp ranks (all-to-all over tp);
* dp: the experts spread over the replicas, tensor-split over each replica's tp ranks (an
  all-to-all over the dp ranks of one tp index, then the tp all-reduce): the paper's "expert
  parallelism between nodes and tensor parallelism within nodes" (Duplex, MICRO'24, Sec 5.2);
* dp x tp: the experts spread whole over every device of the pipeline stage, all-to-all over
  all of them; with fewer experts than devices each expert is tensor-split over
  ep / experts devices (Duplex Sec 3, footnote: "each expert is allocated N_GPUs / N_ex GPUs
  using tensor parallelism").

Where two of these coincide (dp = tp, or dp or tp = 1), the first in that order is meant.
Every device gets a ``link`` unit carrying the topology (the network port that runs
collectives).
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
    dp: int = Field(1, gt=0, le=4096, description="data-parallel replicas, each tp x pp "
                    "devices taking an even share of the batch")
    tp: int = Field(1, gt=0, le=4096, description="tensor-parallel ranks (Megatron)")
    pp: int = Field(1, gt=0, le=4096, description="pipeline stages of contiguous layers")
    ep: int = Field(1, gt=0, le=4096, description="expert-parallel ranks: 1, tp, dp or dp x tp")
    microbatches: int = Field(1, gt=0, le=4096, description="pipeline microbatches")

    @property
    def devices(self) -> int:
        return self.dp * self.tp * self.pp

    @property
    def expert_layout(self) -> str:
        """Where the experts live (module docstring; sharding.expert_layout owns the rule)."""
        from .sharding import expert_layout
        return expert_layout(self.tp, self.ep, self.dp)


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
        if p.devices != n:
            raise ValueError(f"parallelism dp x tp x pp = {p.dp} x {p.tp} x {p.pp} = "
                             f"{p.devices} must equal devices.count {n}")
        npus = math.prod(d.npus for d in self.topology)
        if npus < n:
            raise ValueError(f"the topology holds {npus} NPUs, fewer than the {n} devices")
        allowed = dict.fromkeys((1, p.tp, p.dp, p.dp * p.tp))
        if p.ep not in allowed:
            raise ValueError(f"ep must be 1, tp ({p.tp}), dp ({p.dp}) or dp x tp "
                             f"({p.dp * p.tp}), got {p.ep}")
        if p.expert_layout == "across_replicas":     # the all-to-all over one tp index
            from .topology import _spans
            _spans(self.topology, p.dp, p.tp)
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
