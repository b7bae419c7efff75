"""Where an op may run: pins (``mapping.pins`` of the device, then the op's ``unit`` tag) and
the units that accept it, each with its verdict."""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from ..errors import AccelsimError
from ..workload.ops import Op


def pinned_unit(device: Any, op: Op) -> str | None:
    """The unit ``op`` is pinned to: the first ``mapping.pins`` glob matching its name, else its
    ``unit`` tag; None if neither."""
    for glob, unit in device.config.mapping.pins.items():
        if fnmatchcase(op.name, glob):
            return unit
    return dict(op.tags).get("unit")


def candidate_units(device: Any, op: Op) -> list[str]:
    """Units that may run ``op``: the pinned one, or every unit that accepts it (device order).
    An op no unit accepts is an error listing every unit's reason."""
    units = device.units
    pin = pinned_unit(device, op)
    if pin is not None:
        if pin not in units:
            raise AccelsimError(f"op {op.name!r} asks for unit {pin!r}, which device "
                                f"{device.name!r} lacks; units: {', '.join(units)}")
        verdict = units[pin].accepts(op)
        if not verdict:
            raise AccelsimError(f"op {op.name!r} is pinned to unit {pin!r}, which cannot run it: "
                                f"{verdict.reason}")
        return [pin]
    verdicts = {n: u.accepts(op) for n, u in units.items()}
    ok = [n for n, v in verdicts.items() if v]
    if not ok:
        reasons = "; ".join(f"unit {n!r} cannot run op {op.name!r}: {v.reason}"
                            for n, v in verdicts.items())
        kinds = any(op.category in u.categories for u in units.values())
        hint = "" if kinds else "; add " + ("a 'type: vector' unit" if op.category == "vector"
                                            else "a GEMM unit such as 'type: systolic_array'")
        raise AccelsimError(f"no unit of device {device.name!r} can run op {op.name!r} (kind "
                            f"{op.kind}): {reasons}{hint}")
    return ok
