"""``run_sweep``'s vectorised path: a whole grid or random sweep in one ``row_columns`` call.

``run_sweep`` calls ``run_vectorised`` first for a sweep that could take it: a fresh store
(not a resume), a grid or random strategy (not an optimiser), no screening funnel, the local
backend and the batch evaluator allowed (``batch=True``, the default). It returns None, and
the sweep runs point by point as before, when ``vector_sweep.applies`` says no or the
vectorised evaluation refuses or fails on any point (the per-point path then reports what is
wrong, as it always did). Otherwise the rows, equal to ``Evaluator.run``'s (``row_columns``),
go to the store in large Parquet parts (``ResultStore.append_columns``), and the report,
tracker, progress and manifest run record are filled in as the per-point path fills them
(the run record notes ``"evaluator": "vector"``). Points go ``CHUNK`` at a time, each chunk
committed as its part; if a chunk after the first cannot be evaluated this way, the run record
ends "interrupted" and ``run_sweep`` continues point by point as a resume of the same store.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .vector import NotVectorisable


#: points per ``row_columns`` call and store part: bounds the memory of a million-point sweep
#: (every row's config text is held until its chunk is written) and commits rows as it goes
CHUNK = 1 << 18

#: ``run_vectorised``'s answer when a chunk after the first could not be evaluated: the rows
#: written so far stay, and ``run_sweep`` goes on point by point as a resume of that store
RESUME = "resume"


@dataclass
class VectorStart:
    """What ``vector_start`` did: ``report`` is the whole sweep's when nothing is left to do;
    else ``resume`` says the rest runs point by point as a resume of the store, and for a
    funnel ``only`` holds the promoted points (resolved instead of every point) and
    ``screen`` the vectorised screen's report (``merge_screen``)."""

    report: Any = None
    resume: bool = False
    only: list | None = None
    screen: Any = None


def vector_start(exp: Any, path: Path, overwrite: bool, progress: Any, backend: str,
                 t0: float) -> VectorStart:
    """``run_sweep``'s vectorised first step: the whole sweep, or a funnel's screen followed by
    the promoted points to run point by point, or some chunks and the rest to resume, or
    nothing (``VectorStart()``: the per-point path runs the sweep)."""
    funnel = exp.spec.funnel is not None
    vec = run_vectorised(exp.screening() if funnel else exp, path, overwrite, progress,
                         backend, t0)
    if vec is None:
        return VectorStart()
    if vec == RESUME:   # some chunks stored; the rest point by point
        return VectorStart(resume=True)
    if not funnel:
        return VectorStart(report=vec)
    from .funnel import promoted_points
    from .store import ResultStore
    return VectorStart(resume=True, only=promoted_points(exp, ResultStore(path)), screen=vec)


def merge_screen(report: Any, screen: Any) -> None:
    """One report for both stages of a vectorised funnel, counted as the per-point funnel
    counts (every point screened and evaluated once; promoted ones again)."""
    report.planned, report.skipped = screen.planned, screen.skipped
    report.evaluated = report.screened = screen.evaluated
    report.failed, report.infeasible = screen.failed, screen.infeasible


def run_vectorised(exp: Any, path: Path, overwrite: bool, progress: Any, backend: str,
                   t0: float) -> Any:
    """The sweep's report, None if this path does not take it, or ``RESUME`` (module
    docstring). Points are evaluated and stored ``CHUNK`` at a time."""
    from .progress import Tracker
    from .runner import SweepReport, _end_run, _open_store, _start_run
    from .point_table import planned_table
    from .strategies import planned_points, strategy_label
    from .vector_sweep import applies
    if applies(exp) is not None:
        return None
    points = planned_table(exp)   # columns; None where only per-point enumeration applies
    if points is None:
        points = planned_points(exp)
    if not len(points):
        return None
    chunks = [points[i:i + CHUNK] for i in range(0, len(points), CHUNK)]
    cols = _chunk_columns(exp, chunks[0], set())
    if cols is None:
        return None   # nothing written: the per-point path runs the sweep (and reports)
    needed = [n for n, _ in exp.metric_names_needed() if n not in exp.spec.metrics]
    if needed:
        exp.check_metrics({k for k, v in cols.items()
                           if isinstance(v, np.ndarray) and v.dtype == float})
    rs = _open_store(exp, path, False, overwrite)
    run = _start_run(rs, exp, backend, 1)
    run["evaluator"] = "vector"
    n = len(points)
    report = SweepReport(exp.name, str(path), strategy_label(exp), backend, 1, n, 0, 0, 0, 0,
                         0.0)
    tracker = Tracker(exp.objectives)
    status, answer, seen = "finished", report, set(cols["key"])
    try:
        progress.start(n, 0, exp.name)
        for i in range(len(chunks)):
            if i:
                cols = _chunk_columns(exp, chunks[i], seen)
                if cols is None:   # the rest point by point, resuming this store
                    status, answer = "interrupted", RESUME
                    break
            rs.append_columns(cols)   # no compaction: the parts are large already
            _track(tracker, cols, exp.objectives)
            report.evaluated += len(cols["key"])
            progress.update(report.evaluated, tracker)
            del cols
    except BaseException:
        status = "failed"
        raise
    finally:
        progress.stop()
        report.elapsed_s = time.perf_counter() - t0
        report.failed, report.infeasible = tracker.failed, tracker.infeasible
        _end_run(rs, run, report, status)
        rs.unlock()
    return answer


def _chunk_columns(exp: Any, points: list, seen: set) -> dict[str, Any] | None:
    """``row_columns`` of ``points``, or None where the vectorised path cannot give them: it
    refuses, a point fails (the per-point path reports it), or a key repeats within the chunk
    or one stored before (the per-point path's dedupe decides which row stays). Adds the
    chunk's keys to ``seen``."""
    from .vector_sweep import row_columns
    try:
        cols = row_columns(exp, points)
    except NotVectorisable:
        return None
    except Exception:  # noqa: BLE001 - an invalid point: the per-point path reports it
        return None
    keys = cols["key"]
    fresh = set(keys)
    if len(fresh) != len(keys) or not fresh.isdisjoint(seen):
        return None
    seen |= fresh
    return cols


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
