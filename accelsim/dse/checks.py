"""Checks of axis values against the schemas, and the store column type of each parameter.

Each axis value is applied alone to each base architecture (the other axes at their first
value) and validated, so a value the schema rejects is reported at its own line in the
experiment before anything runs; full points are validated again when they are planned.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import AccelsimError, ConfigError
from .space import SIZE_BUDGET, WORKLOAD_PREFIX, Dim, merge_types, value_type

if TYPE_CHECKING:
    from .experiment import BaseArch, Experiment


def check_values(exp: "Experiment") -> None:
    """Raise a located ConfigError for the first axis value a base's schema rejects."""
    first_workload = next(iter(exp.workloads))
    for block in exp.space.blocks:
        if block.workload != first_workload:
            continue  # architecture values do not depend on the workload
        base = exp.bases[block.base]
        first = block.values_at(0)
        for dim in block.dims:
            for pos, row in enumerate(dim.values):
                values = dict(first)
                values.update(zip(dim.paths, row))
                _check_one(exp, base, values, dim, pos)
    for wl in exp.workloads.values():
        wl.check_axis_values(exp)


def _check_one(exp: "Experiment", base: "BaseArch", values: dict, dim: Dim, pos: int) -> None:
    from .evaluate import point_arch
    changed = {p: v for p, v in zip(dim.paths, dim.values[pos])
               if not p.startswith(WORKLOAD_PREFIX) and p != SIZE_BUDGET}
    if not changed:
        return
    try:
        point_arch(exp, base, {p: v for p, v in values.items()
                               if not p.startswith(WORKLOAD_PREFIX) and p != SIZE_BUDGET})
    except ConfigError as e:
        p = (e.problems or [e])[0]
        path = next((q for q in changed if p.key_path and
                     (p.key_path == q or p.key_path.startswith(q + "."))), next(iter(changed)))
        key = base.params[path]
        where = f" in base {base.name!r}" if len(exp.bases) > 1 else ""
        if p.message.startswith("unknown ") or (p.key_path or "") not in changed:
            raise exp.fail(key, f"{p.message}{where} ({base.doc.file})") from None
        shown = f"value {changed[path]!r}"
        if len(dim.values) > 1:
            shown += f" (item {pos + 1} of {len(dim.values)})"
        raise exp.fail(key, f"{shown}{where} is rejected: {p.message}") from None
    except AccelsimError as e:
        raise exp.fail(base.params[next(iter(changed))], str(e)) from None


def param_types(exp: "Experiment") -> dict[str, str]:
    """Column type of every parameter over all blocks. A derived value's type is that of its
    value at the first and the last point of each block (an int stays an int: stored as
    int64, issue 17); a later point whose derived value does not fit (a whole-number column
    given 2.5) is a failed row saying so, never a truncated value (``space.cell``)."""
    types: dict[str, str] = {}
    for k, block in enumerate(exp.space.blocks):
        for dim in block.dims:
            for j, path in enumerate(dim.paths):
                types[path] = merge_types(types.get(path),
                                          value_type([row[j] for row in dim.values]))
        base = exp.bases[block.base]
        if base.size is not None:
            for knob in base.size.knobs:   # sized knobs are integers
                types[knob] = merge_types(types.get(knob), "int")
        if block.derived and block.size:
            start = exp.space.offsets[k]
            pts = [exp.point(i) for i in dict.fromkeys((start, start + block.size - 1))]
            for path, _ in block.derived:
                seen = [v for p in pts if p is not None
                        if (v := p.values.get(path)) is not None]
                # nothing seen (both points excluded by an input constraint): float, which
                # holds every number
                types[path] = merge_types(types.get(path),
                                          value_type(seen) if seen else "float")
    return types
