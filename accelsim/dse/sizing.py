"""Iso-area sizing: the largest design within an area budget, from the cost model alone.

``size_to_area(doc, budget_mm2, knobs)`` scales integer config knobs (``units.sa.rows``,
``units.lut.tiles``, ...) together from their starting values, keeping their ratios: knob k
becomes max(1, floor(start_k x s)), and the largest scale s whose area (the cost package's
``ArchCost.area_mm2``: components x integration overhead) is within the budget wins. Area is
assumed not to shrink when a knob grows (true of every unit modelled). The search doubles s
until the area passes the budget (or the config's own limits reject the design), then bisects;
no simulation runs, so it takes milliseconds. ``accelsim size`` prints the result, and an
experiment's ``archs.<name>.size`` applies it to every point (iso-area by construction).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..arch.device import build_arch
from ..config import SourceDoc
from ..errors import AccelsimError, ConfigError
from .space import has_path, lookup

#: bisection steps on the scale (relative precision 2^-40: every integer design is reached)
_BISECT = 40
_MAX_DOUBLINGS = 64


@dataclass(frozen=True)
class Sized:
    """The sizing answer: knob values, their area, the budget, and how it was found."""

    values: dict[str, int]
    area_mm2: float
    budget_mm2: float
    scale: float
    evaluations: int
    #: why the scale could not grow further when not the budget (a config limit), else ""
    limit: str = ""
    start: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values, "area_mm2": self.area_mm2, "budget_mm2": self.budget_mm2,
                "scale": self.scale, "evaluations": self.evaluations, "limit": self.limit,
                "start": self.start}


def area_mm2(doc: SourceDoc, values: Mapping[str, Any] | None = None) -> float:
    """Area of the device in ``doc`` with ``values`` set at their dotted paths (no simulation)."""
    from ..cost.estimator import arch_cost
    from .evaluate import overlay
    arch = build_arch(overlay(doc, dict(values or {}), {}) if values else doc)
    return arch_cost(arch).area_mm2


def _start_values(doc: SourceDoc, knobs: Sequence[str], start: Mapping[str, Any]) -> dict[str, int]:
    resolved = None
    out: dict[str, int] = {}
    for k in knobs:
        if k in start:
            v = start[k]
        elif has_path(doc.data, k):
            v = lookup(doc.data, k)
        else:
            resolved = resolved if resolved is not None else build_arch(doc).resolved()
            v = lookup(resolved, k)
            if not has_path(resolved, k):
                raise AccelsimError(f"sizing knob {k!r} is not a key of {doc.file}")
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise AccelsimError(f"sizing knob {k!r} must be a positive integer setting, "
                                f"but {doc.file} gives {v!r}")
        out[k] = v
    return out


def size_to_area(doc: SourceDoc, budget_mm2: float, knobs: Sequence[str],
                 start: Mapping[str, Any] | None = None,
                 fixed: Mapping[str, Any] | None = None) -> Sized:
    """The largest scaling of ``knobs`` (from ``start``, else the document's values) whose
    area is at most ``budget_mm2``; ``fixed`` values are set as they are. AccelsimError when
    even the smallest design (every knob 1) is over the budget, or area is unknown."""
    if not knobs:
        raise AccelsimError("sizing needs at least one knob (a positive integer setting)")
    if not (isinstance(budget_mm2, (int, float)) and math.isfinite(budget_mm2)
            and budget_mm2 > 0):
        raise AccelsimError(f"the area budget must be a positive number of mm², got "
                            f"{budget_mm2!r}")
    fixed = dict(fixed or {})
    v0 = _start_values(doc, knobs, {**fixed, **(start or {})})
    evaluations = 0
    limit = ""

    def at(s: float) -> dict[str, int]:
        return {k: max(1, math.floor(v * s + 1e-9)) for k, v in v0.items()}

    def area(s: float) -> float:
        nonlocal evaluations, limit
        evaluations += 1
        try:
            a = area_mm2(doc, {**fixed, **at(s)})
        except ConfigError as e:    # past the config's own limits: treat as over the budget
            p = (e.problems or [e])[0]
            limit = f"{p.key_path or ''}: {p.message}".strip(": ")
            return math.inf
        if math.isnan(a):
            raise AccelsimError(f"{doc.file}: area unknown (a unit or memory declares no "
                                f"components), so it cannot be sized")
        return a

    lo = 1.0 / max(v0.values())          # every knob 1
    a_lo = area(lo)
    if a_lo > budget_mm2:
        why = f" ({limit})" if math.isinf(a_lo) else ""
        raise AccelsimError(f"even the smallest design ({', '.join(f'{k}=1' for k in knobs)}) "
                            f"is {a_lo:.4g} mm², over the budget of {budget_mm2:g} mm²{why}")
    hi = max(lo * 2, 1.0)
    for _ in range(_MAX_DOUBLINGS):
        if area(hi) > budget_mm2:
            break
        lo, hi = hi, hi * 2
    else:
        raise AccelsimError(f"area does not grow with {', '.join(knobs)}: no largest design "
                            f"within {budget_mm2:g} mm²")
    for _ in range(_BISECT):
        if at(lo) == at(hi):
            break
        mid = (lo + hi) / 2
        if area(mid) <= budget_mm2:
            lo = mid
        else:
            hi = mid
    best = at(lo)
    final = area(lo)
    if final == a_lo and best != at(1.0 / max(v0.values())):
        raise AccelsimError(f"the area of {doc.file} ({final:.4g} mm²) does not change with "
                            f"{', '.join(knobs)}: nothing to size")
    stopped_by_limit = math.isinf(area(hi))   # the next design up breaks a config limit
    return Sized(best, final, float(budget_mm2), lo, evaluations,
                 limit if stopped_by_limit else "", v0)
