"""``run_sweep``'s vectorised path: a whole grid or random sweep in one ``row_columns`` call.

``run_sweep`` calls ``run_vectorised`` first for a sweep that could take it: a fresh store
(not a resume), a grid or random strategy (not an optimiser), no screening funnel, the local
backend and the batch evaluator allowed (``batch=True``, the default). It returns None, and
the sweep runs point by point as before, when ``vector_sweep.applies`` says no or the
vectorised evaluation refuses or fails on any point (the per-point path then reports what is
wrong, as it always did). Otherwise the rows, equal to ``Evaluator.run``'s (``row_columns``),
go to the store in large Parquet parts (``ResultStore.append_columns``), and the report,
tracker, progress and manifest run record are filled in as the per-point path fills them
(the run record notes ``"evaluator": "vector"``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .vector import NotVectorisable


def run_vectorised(exp: Any, path: Path, overwrite: bool, progress: Any, backend: str,
                   t0: float) -> Any:
    """The sweep's report, or None if this path does not take it (module docstring)."""
    from .progress import Tracker
    from .runner import SweepReport, _end_run, _open_store, _start_run
    from .strategies import planned_points, strategy_label
    from .vector_sweep import applies, row_columns
    if applies(exp) is not None:
        return None
    points = planned_points(exp)
    if not points:
        return None
    try:
        cols = row_columns(exp, points)
    except NotVectorisable:
        return None
    except Exception:  # noqa: BLE001 - an invalid point: the per-point path reports it
        return None
    keys = cols["key"]
    if len(set(keys)) != len(keys):
        return None   # repeated configs: the per-point path's dedupe decides which row stays
    needed = [n for n, _ in exp.metric_names_needed() if n not in exp.spec.metrics]
    if needed:
        exp.check_metrics({k for k, v in cols.items()
                           if isinstance(v, np.ndarray) and v.dtype == float})
    rs = _open_store(exp, path, False, overwrite)
    run = _start_run(rs, exp, backend, 1)
    run["evaluator"] = "vector"
    n = len(keys)
    report = SweepReport(exp.name, str(path), strategy_label(exp), backend, 1, n, 0, 0, 0, 0,
                         0.0)
    tracker = Tracker(exp.objectives)
    status = "finished"
    try:
        progress.start(n, 0, exp.name)
        rs.append_columns(cols)
        _track(tracker, cols, exp.objectives)
        report.evaluated = n
        progress.update(n, tracker)   # no compaction: the parts are large already
    except BaseException:
        status = "failed"
        raise
    finally:
        progress.stop()
        report.elapsed_s = time.perf_counter() - t0
        report.failed, report.infeasible = tracker.failed, tracker.infeasible
        _end_run(rs, run, report, status)
        rs.unlock()
    return report


def _track(tracker: Any, cols: dict[str, Any], objectives: dict[str, str]) -> None:
    """``Tracker.add`` over the columns: counts and the best feasible value per objective
    (every row here has status ok)."""
    feasible = np.asarray(cols["feasible"], dtype=bool)
    tracker.ok += len(feasible)
    tracker.infeasible += int((~feasible).sum())
    for name, sense in objectives.items():
        v = cols.get(name)
        if not isinstance(v, np.ndarray) or v.dtype.kind not in "fi":
            continue
        vals = v[feasible].astype(float)
        vals = vals[~np.isnan(vals)]
        if not vals.size:
            continue
        best = float(vals.min() if sense == "min" else vals.max())
        cur = tracker.best.get(name)
        if cur is None or (best < cur if sense == "min" else best > cur):
            tracker.best[name] = best
