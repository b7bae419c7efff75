"""An experiment's points through the vectorised systolic path (``dse.vector``), as columns.

``applies(exp)`` says whether the vectorised path evaluates an experiment exactly: one base,
a single device (not a system) with one systolic unit, one zoo or trace workload whose trace
does not depend on the point, analytical fidelity, every swept parameter one that
``SystolicGrid`` varies (the unit's rows, cols and SRAM sizes, its memory's bandwidth) and no
derived metrics or metric constraints (those are expressions over a row: the per-point path
evaluates them). ``evaluate_columns(exp, points)`` then gives, per point, the parameter values
and every metric column ``Evaluator.run`` writes (``evaluate.metrics_of``: cycles, latency,
bytes, energy, power, area, efficiency, token metrics), plus ``feasible``; the tests compare
them with ``Evaluator.run`` rows. Rows' ``key``, ``config`` and ``config_hash`` (hashes of the
resolved config JSON) are not produced here: the runner still resolves each point for them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .vector import NotVectorisable, SystolicGrid, grid_of_points, vectorisable_params


def applies(exp: Any) -> str | None:
    """None if ``exp`` can be evaluated by ``evaluate_columns``, else why not."""
    from ..arch.units.systolic import SystolicArray
    from ..system.config import is_system_doc
    from .evaluate import point_arch
    if exp.fidelity != "analytical":
        return f"fidelity {exp.fidelity!r} (only analytical)"
    if len(exp.bases) != 1 or len(exp.workloads) != 1:
        return "more than one base or workload"
    if exp.derived_metrics or exp.metric_constraints:
        return "derived metrics or metric constraints"
    (base,) = exp.bases.values()
    if base.size is not None or is_system_doc(base.doc.data):
        return "a sized or multi-device base"
    arch = point_arch(exp, base, {})
    sas = [n for n, u in arch.units.items() if isinstance(u, SystolicArray)]
    if len(sas) != 1:
        return f"{len(sas)} systolic units (needs one)"
    (wl,) = exp.workloads.values()
    if any(p.startswith("workload") or p.startswith("workloads") for p in base.params):
        return "the workload is swept"
    if not vectorisable_params(base.params, sas[0], arch.unit_memory(sas[0])):
        return "a swept parameter without a closed form over configs"
    return None


def evaluate_columns(exp: Any, points: list) -> dict[str, np.ndarray]:
    """Columns of ``points`` (all of the experiment's one base and workload; see module
    docstring); raises NotVectorisable where ``applies`` would say why."""
    from .evaluate import Evaluator, point_arch
    from .vector_cost import price
    why = applies(exp)
    if why:
        raise NotVectorisable(why)
    (bname, base), = exp.bases.items()
    (wname, wl), = exp.workloads.items()
    arch = point_arch(exp, base, {})
    trace = Evaluator(exp)._trace(wl, {})
    grid = SystolicGrid(arch, trace)
    arrays = grid_of_points(exp, points, grid.unit, grid.memory)
    out = grid.evaluate(*arrays.values())
    out.update(price(grid, out["latency_s"], out["macs"], out["cycles"], out["flops"],
                     wl.tokens(trace, {})))
    n = len(points)
    for k, v in grid.constants.items():
        out[k] = np.full(n, v)
    cols: dict[str, np.ndarray] = {"point": np.array([p.index for p in points])}
    for name in base.params:
        cols[name] = arrays[name] if name in arrays else np.array([p.values[name]
                                                                    for p in points])
    cols.update(out)
    cols["feasible"] = cols["fits_memory"] != 0.0
    return cols
