"""Which unit of a device is its low-Op/B unit and which its high-Op/B unit (Duplex, MICRO'24
Sec 4: "separate processing units for high-Op/B and low-Op/B operations that share device
memories"), for the policies that dispatch by Op/B (``duplex_stage``, ``opb_threshold``).

A unit's Op/B (its machine balance) is its peak compute over the rate at which it reads a
weight matrix, both from the unit's own cost model, never from its type name:

    Op/B(u) = peak FLOP/s(u) / (B / t_probe(u))

``peak FLOP/s`` is ``Unit.peak(dtypes).flops`` times the unit's clock; ``t_probe`` is the
closed-form latency (the device's memory rates, private ports) of a GEMV probe,
``C[1, 4096] = A[1, 4096] @ W[4096, 4096]``, whose B = 4096 x 4096 weight elements bound its
time on every unit: over the memory bus on an xPU, inside the banks on a PIM unit. The probe
is tried in fp16, then bf16, then int8 (weights and activations); a unit that accepts none of
them, or that runs no GEMMs, has no Op/B and takes no role.

The low-Op/B unit is the unit with the smallest Op/B, the high-Op/B unit the one with the
largest (device order breaks ties); ``low_opb_unit`` / ``high_opb_unit`` in the policy config
name them instead. A device without two such units, or whose two extremes have the same Op/B,
is refused with the measured values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from ...errors import AccelsimError, ConfigError
from ...workload.dtypes import dtype
from ...workload.ops import Gemm
from ..timing import Prepared
from . import DispatchState, PolicyConfig

#: the probe's weight matrix is PROBE_DIM x PROBE_DIM
PROBE_DIM = 4096
PROBE_DTYPES = ("fp16", "bf16", "int8")


class RolesConfig(PolicyConfig):
    """Policy config keys naming the two units (default: inferred from their Op/B)."""

    low_opb_unit: str | None = Field(None, description="the low-Op/B unit (default: the unit "
                                     "with the smallest peak FLOP/s per weight byte/s)")
    high_opb_unit: str | None = Field(None, description="the high-Op/B unit (default: the unit "
                                      "with the largest)")


@dataclass(frozen=True)
class Balance:
    """A unit's peak compute, its weight-read rate and their ratio."""

    unit: str
    peak_flops_s: float
    bytes_s: float

    @property
    def opb(self) -> float:
        return self.peak_flops_s / self.bytes_s if self.bytes_s > 0 else float("inf")


def unit_balance(device: Any, unit: str) -> Balance | None:
    """The unit's Op/B from its cost model (module docstring), or None if it runs no probe."""
    u = device.units[unit]
    if not ({"gemm", "grouped_gemm"} & set(u.categories)):
        return None
    for dt in PROBE_DTYPES:
        probe = Gemm("opb_probe", m=1, n=PROBE_DIM, k=PROBE_DIM, dtype=dt, w_dtype=dt,
                     out_dtype=dt, b_shared=True)
        if not u.accepts(probe):
            continue
        cost = u.cost(probe)
        prep = Prepared.of(cost.tiles, device.unit_memory(unit), None,
                           device.ticks_per_cycle(unit))
        seconds = prep.closed_form(device.memories) / device.clock_hz
        weight = PROBE_DIM * PROBE_DIM * dtype(dt).bytes
        flops = u.peak((dt, dt)).flops * device.unit_clock_hz(unit)
        return Balance(unit, flops, weight / seconds if seconds > 0 else float("inf"))
    return None


@dataclass(frozen=True)
class Roles:
    """The low- and high-Op/B units of a device and every measured balance."""

    low: str
    high: str
    balances: dict[str, Balance]

    def other(self, unit: str) -> str | None:
        return self.high if unit == self.low else self.low if unit == self.high else None


def _fail(device: Any, key: str, msg: str) -> ConfigError:
    return ConfigError(f"device {device.name!r}: {msg}", file=device.source,
                       key_path=f"scheduling.{key}" if key else "scheduling")


def opb_roles(device: Any, config: RolesConfig | None) -> Roles:
    """The device's two units (module docstring); memoised on the device per memory rates."""
    low = config.low_opb_unit if config is not None else None
    high = config.high_opb_unit if config is not None else None
    rates = tuple((n, getattr(m, "bytes_per_tick", None)) for n, m in device.memories.items())
    memo = device.__dict__.setdefault("_opb_roles", {})
    key = (low, high, rates)
    if key not in memo:
        memo[key] = _roles(device, low, high)
    return memo[key]


def _roles(device: Any, low: str | None, high: str | None) -> Roles:
    for key, name in (("low_opb_unit", low), ("high_opb_unit", high)):
        if name is not None and name not in device.units:
            raise _fail(device, key, f"no unit {name!r}; units: {', '.join(device.units)}")
    if low is not None and low == high:
        raise _fail(device, "high_opb_unit", f"names the same unit as low_opb_unit ({low!r})")
    bal = {u: b for u in device.units if (b := unit_balance(device, u)) is not None}
    for key, name in (("low_opb_unit", low), ("high_opb_unit", high)):
        if name is not None and name not in bal:
            raise _fail(device, key, f"unit {name!r} runs no GEMM probe (fp16/bf16/int8 "
                        f"GEMV), so it cannot take a role")
    seen = ", ".join(f"{u} {b.opb:.3g} Op/B" for u, b in bal.items()) or "none"
    if len(bal) < 2:
        raise _fail(device, "", f"an Op/B dispatch policy needs two units that run GEMMs, a "
                    f"low-Op/B and a high-Op/B one (e.g. a PIM unit beside an xPU); units with "
                    f"a measured Op/B: {seen}")
    named = low is not None and high is not None
    if low is None:   # min/max keep the first of equals: device order breaks ties
        low = min((u for u in bal if u != high), key=lambda u: bal[u].opb)
    if high is None:
        high = max((u for u in bal if u != low), key=lambda u: bal[u].opb)
    if not named and bal[low].opb == bal[high].opb:
        raise _fail(device, "", f"units {low!r} and {high!r} have the same Op/B "
                    f"({bal[low].opb:.3g}), so neither is the low-Op/B unit; name them with "
                    f"low_opb_unit and high_opb_unit (measured: {seen})")
    return Roles(low, high, bal)


def prefer(i: int, state: DispatchState, want: str, avoid: str | None) -> int:
    """Candidate index of op ``i`` on unit ``want``; if it cannot run there, the earliest
    estimated finish among its candidates other than ``avoid`` (any, if only ``avoid`` is
    left), ties to the unit listed first (the base policy's rule)."""
    cands = state.candidates(i)
    for k, c in enumerate(cands):
        if c.unit == want:
            return k
    pool = [k for k, c in enumerate(cands) if c.unit != avoid] or list(range(len(cands)))
    return min(pool, key=lambda k: (state.available(cands[k].unit) + cands[k].estimate,
                                    state.unit_rank[cands[k].unit]))
