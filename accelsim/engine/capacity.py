"""Memory capacity: does what the workload keeps resident fit the device's main memory?

Resident = every op's ``resident_bytes()`` times its segment's repeats, before lowering:
weights (the B operand of a GEMM that shares it across its batch or has no batch, with its
quantisation scales) and the KV cache (attention's K and V of every sequence). Activations are transient and not counted. A design
that does not fit is reported infeasible (``SimResult.fits_memory``), with what did not fit;
it is still simulated.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..workload.trace import Trace


@dataclass(frozen=True)
class CapacityCheck:
    memory: str
    capacity_bytes: float | None
    #: resident bytes by kind ('weights', 'kv_cache')
    resident: dict[str, float] = field(default_factory=dict)

    @property
    def resident_bytes(self) -> float:
        return float(sum(self.resident.values()))

    @property
    def fits(self) -> bool:
        return self.capacity_bytes is None or self.resident_bytes <= self.capacity_bytes

    def problems(self) -> list[str]:
        if self.fits:
            return []
        parts = " + ".join(f"{v / 1e9:.3g} GB of {k.replace('_', ' ')}"
                           for k, v in self.resident.items() if v)
        return [f"memory {self.memory!r} holds {parts} = {self.resident_bytes / 1e9:.3g} GB, more "
                f"than its capacity of {self.capacity_bytes / 1e9:.3g} GB"]  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        return {"memory": self.memory, "capacity_bytes": self.capacity_bytes,
                "resident_bytes": self.resident_bytes, "resident": dict(self.resident),
                "fits": self.fits}


def check_capacity(device: Any, trace: Trace) -> CapacityCheck:
    """Resident bytes of ``trace`` against the main memory of ``device``."""
    main = device.main_memory
    return CapacityCheck(main, device.memories[main].capacity_bytes, resident_bytes(trace))


_LAST: list = [None, None]  # (trace, its resident bytes): sweeps reuse one trace object


def resident_bytes(trace: Trace) -> dict[str, float]:
    """Bytes ``trace`` keeps resident, by kind, times the segment repeats."""
    if _LAST[0] is trace:
        return dict(_LAST[1])
    resident: dict[str, float] = {}
    for seg in trace.segments:
        for op in seg.ops:
            for kind, b in op.resident_bytes().items():
                resident[kind] = resident.get(kind, 0.0) + b * seg.repeat
    _LAST[:] = [trace, resident]
    return dict(resident)
