"""DRAM standards as data: one YAML per standard in ``standards/`` (organisation and timing of
one channel, each file citing its source), loaded into a validated ``Standard``.

Timing values are in cycles of ``tCK_ns`` (the command clock); ``beats_per_ck`` data beats
cross the bus per tCK (2 for DDR; 4 or 8 where the source counts a slower command clock).
A YAML config may override any organisation or timing key (``memory.<name>.organisation`` /
``.timing``); the overrides are validated the same way.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...errors import AccelsimError

STANDARDS_DIR = Path(__file__).parent / "standards"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(_M):
    """One channel's organisation."""

    channels_per_stack: int = Field(gt=0, le=4096, description="channels of one stack/device")
    bus_bits: int = Field(gt=0, le=4096, description="data bus width of one channel")
    beats_per_ck: int = Field(2, gt=0, le=64, description="data beats per tCK")
    bankgroups: int = Field(gt=0, le=64)
    banks_per_group: int = Field(gt=0, le=64)
    ranks: int = Field(1, gt=0, le=16)
    rows: int = Field(gt=0, le=1 << 24)
    row_bytes: int = Field(gt=0, le=1 << 20, description="bytes of one open row (page)")
    burst_length: int = Field(gt=0, le=64, description="beats of one burst (BL)")
    address_mapping: str = Field("rorabgbachco", description="DRAMsim3-style field order, "
                                 "most significant first (co = column, lowest)")

    @property
    def banks(self) -> int:
        return self.bankgroups * self.banks_per_group * self.ranks

    @property
    def burst_bytes(self) -> int:
        return self.bus_bits * self.burst_length // 8


class Timing(_M):
    """One channel's timing, in cycles of ``tCK_ns``."""

    tCK_ns: float = Field(gt=0, le=100, allow_inf_nan=False)
    CL: int = Field(gt=0, le=1000)
    CWL: int = Field(gt=0, le=1000)
    tRCD: int = Field(gt=0, le=1000)
    tRP: int = Field(gt=0, le=1000)
    tRAS: int = Field(gt=0, le=1000)
    tRRD_S: int = Field(gt=0, le=1000)
    tRRD_L: int = Field(gt=0, le=1000)
    tFAW: int = Field(gt=0, le=10000)
    tCCD_S: int = Field(gt=0, le=1000)
    tCCD_L: int = Field(gt=0, le=1000)
    tWTR_S: int = Field(gt=0, le=1000)
    tWTR_L: int = Field(gt=0, le=1000)
    tWR: int = Field(gt=0, le=1000)
    tRTP: int = Field(gt=0, le=1000)
    tRFC: int = Field(gt=0, le=100000)
    tREFI: int = Field(gt=0, le=1000000)
    tRTRS: int = Field(1, ge=0, le=100, description="rank-to-rank switch on the data bus")

    @property
    def tRC(self) -> int:
        return self.tRAS + self.tRP

    @model_validator(mode="after")
    def _consistent(self) -> "Timing":
        if self.tRFC >= self.tREFI:
            raise ValueError(f"tRFC {self.tRFC} must be below tREFI {self.tREFI} (refresh "
                             f"would take all the time)")
        if self.tRRD_L < self.tRRD_S or self.tCCD_L < self.tCCD_S:
            raise ValueError("tRRD_L/tCCD_L must be at least tRRD_S/tCCD_S")
        return self


class Standard(_M):
    """A standard's data file."""

    standard: str
    description: str
    source: str
    energy_kind: str | None = Field(None, description="DRAM kind priced by the technology "
                                    "library (None: no sourced energy)")
    organisation: Organisation
    timing: Timing

    @property
    def peak_gb_s(self) -> float:
        """One channel's bus peak: bus bytes x beats per tCK / tCK."""
        o, t = self.organisation, self.timing
        return o.bus_bits / 8 * o.beats_per_ck / t.tCK_ns

    @property
    def burst_ck(self) -> float:
        """tCK one burst occupies the bus (BL / beats per tCK)."""
        return self.organisation.burst_length / self.organisation.beats_per_ck


def standard_names() -> list[str]:
    return sorted(p.stem for p in STANDARDS_DIR.glob("*.yaml"))


def _raw(name: str) -> dict:
    path = STANDARDS_DIR / f"{name}.yaml"
    if not path.is_file():
        from ...config import suggest
        raise AccelsimError(f"unknown DRAM standard {name!r}{suggest(name, standard_names())};"
                            f" known: {', '.join(standard_names())} (HBM2E: no sourced timing)")
    data = yaml.safe_load(path.read_text())
    base = data.pop("extends", None)
    if base is not None:   # a variant: the base's values, its own on top
        parent = _raw(base)
        for key in ("organisation", "timing"):
            data[key] = {**parent.get(key, {}), **data.get(key, {})}
        data = {**parent, **data}
    return data


@lru_cache(maxsize=None)
def load_standard(name: str) -> Standard:
    """The standard ``name`` (a file stem of ``standards/``), validated."""
    try:
        return Standard.model_validate(_raw(name))
    except AccelsimError:
        raise
    except Exception as e:   # a broken data file is our bug; say which file
        raise AccelsimError(f"DRAM standard file {name}.yaml is invalid: {e}") from None


def with_overrides(std: Standard, organisation: dict | None = None,
                   timing: dict | None = None) -> Standard:
    """``std`` with some organisation / timing keys replaced (validated: ValueError)."""
    if not organisation and not timing:
        return std
    from pydantic import ValidationError
    data = std.model_dump()
    data["organisation"].update(organisation or {})
    data["timing"].update(timing or {})
    try:
        return Standard.model_validate(data)
    except ValidationError as e:
        msgs = [f"{'.'.join(map(str, err['loc']))}: {err['msg'].removeprefix('Value error, ')}"
                for err in e.errors()]
        raise ValueError("; ".join(msgs)) from None
