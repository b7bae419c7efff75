"""Run a sweep: check the experiment, plan points, evaluate them in parallel, store the rows.

Order of events, so that bad input never costs a run:

1. load and check the experiment (schema, axes, expressions, constraints);
2. plan the points and validate every planned architecture (grid, random), computing each
   point's key; the optimiser's points are checked value by value instead;
3. probe one point per base in this process and check that every objective, constraint and
   derived metric names a metric the results really have (skipped when resuming a store
   whose rows already show the metrics);
4. only then open or create the store (``resume`` skips points already in it, except failed
   ones, which it runs again unless ``retry_failed=False``);
5. on resume, recompute what stored rows derive from the experiment (derived metrics, per-token
   metrics, ``feasible``) if any of it was edited: one atomic rewrite, no simulation;
6. evaluate the rest in chunks on the backend; finished points are committed to the store
   as one part once ``FLUSH_POINTS`` of them wait or the oldest has waited ``FLUSH_SECONDS``,
   so a kill -9 loses only points still running and those last fractions of a second (and
   Ctrl-C or an error loses nothing finished). A retried point's new row supersedes its error
   row (the store keeps the newest row of each key). A worker process that dies is replaced
   and its points go on (backends.py).

A run is recorded in the manifest as "running" and, at its end, "finished", "interrupted"
(Ctrl-C) or "failed"; a run that could record no end (kill -9, the OOM killer, a power loss) is
marked "killed" by the next run of the store, which holds the store's lock and so knows that
no other sweep is writing it.
"""
from __future__ import annotations

import dataclasses
import math
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from .. import __version__
from ..errors import AccelsimError, ConfigError
from .backends import check_backend, make_backend
from .batch import resolve_all
from .evaluate import Evaluator, Rederiver, Task, derivation_stamp, resolve
from .experiment import Experiment, load_experiment
from .progress import NullProgress, ProgressSink, Tracker
from .schema import OptunaStrategy
from .store import ResultStore, StoreError
from .strategies import OptunaSearch, planned_points, strategy_label
from .sweep_report import SweepReport

_PROBE_TRIES = 3
#: finished points are committed (one Parquet part) once this many are waiting (or a chunk's
#: worth, if chunks are smaller) ...
FLUSH_POINTS = 256
#: ... or once the oldest of them has waited this many seconds, whichever comes first
FLUSH_SECONDS = 0.5


def run_sweep(experiment: str | Path | Experiment, store: str | Path, *,
              workers: int | None = None, backend: str = "local", address: str | None = None,
              resume: bool = False, overwrite: bool = False, chunk_size: int | None = None,
              progress: ProgressSink | None = None, overrides: Sequence[str] = (),
              retry_failed: bool = True, batch: bool = True, vector: bool = True
              ) -> SweepReport:
    """Run ``experiment`` (a path or a loaded Experiment) into the store at ``store``.

    ``resume``: continue that store, running only points it lacks and, with ``retry_failed``,
    those whose stored row failed. ``batch=False`` evaluates every point on its own instead of
    from the plan it shares with its schedule-only neighbours (same rows; ``dse.batch``);
    ``vector=False`` keeps a sweep the vectorised systolic path could take (``dse.vector_run``)
    on the batch evaluator (same rows; benchmarks compare the two)."""
    if resume and overwrite:
        raise StoreError("choose one of resume (continue the store) and overwrite (replace it)")
    for what, n in (("workers", workers), ("chunk_size", chunk_size)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise AccelsimError(f"{what} must be a whole number >= 1, got {n!r}")
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment, overrides)
    batch = batch and exp.spec.evaluator != "point"   # the experiment may only restrict
    vector = vector and exp.spec.evaluator == "auto"
    if exp.batch != batch:
        exp = dataclasses.replace(exp, batch=batch)
    progress = progress or NullProgress()
    t0 = time.perf_counter()
    adaptive = isinstance(exp.spec.strategy, OptunaStrategy)
    check_backend(backend, workers, address)  # an unknown backend or unreachable cluster
    start = None
    if not (adaptive or resume) and exp.batch and vector and backend == "local":
        from .vector_run import vector_start   # the vectorised systolic path, where it applies
        start = vector_start(exp, Path(store), overwrite, progress, backend, t0)
        if start.report is not None:
            return start.report
        resume, overwrite = (True, False) if start.resume else (resume, overwrite)
    only, screen = (start.only, start.screen) if start is not None else (None, None)
    tasks = [] if adaptive else _dedupe(resolve_all(exp, planned_points(exp) if only is None
                                                    else only))
    search = OptunaSearch(exp) if adaptive else None
    path = Path(store)
    existing = ResultStore(path) if resume and (path / "manifest.json").is_file() else None
    stored = existing.keys() if existing is not None else set()
    failed = existing.failed_keys() if existing is not None and retry_failed else set()
    pending = [t for t in tasks if t.key not in stored or t.key in failed]
    retry = {t.key for t in pending if t.key in failed}
    probes = _check_metrics(exp, existing, pending if not adaptive else None)
    rs = _open_store(exp, path, resume, overwrite)  # only now: bad input leaves no store behind
    tracker = Tracker(exp.objectives)
    run = _start_run(rs, exp, backend, workers)
    report = SweepReport(exp.name, str(store), strategy_label(exp), backend, 0,
                         exp.spec.strategy.budget if search else len(tasks),
                         len(tasks) - len(pending), 0, 0, 0, 0.0)
    commit = _Committer(rs, tracker, progress, report)
    status, be = "finished", None
    try:
        report.rederived = _rederive(exp, rs, tasks)
        first = exp.screening() if exp.spec.funnel is not None else exp
        with make_backend(first, backend, workers, address) as be:
            report.workers = be.workers
            progress.start(report.planned, report.skipped, exp.name)
            if probes:
                commit.add(probes, retry)
            done = {r["key"] for r in probes}
            # in point order: neighbours share unit configs, so op costs are reused
            rest = sorted((t for t in pending if t.key not in done), key=lambda t: t.index)
            if search is None:
                commit.every = min(FLUSH_POINTS, _chunk_len(len(rest), be.workers, chunk_size))
                for rows in be.map_chunks(_chunks(rest, be.workers, chunk_size)):
                    commit.add(rows, retry)
            else:
                _optimise(exp, search, rs, be, chunk_size, commit, retry_failed)
        if exp.spec.funnel is not None:
            report.screened = report.evaluated - len(probes)
            commit.flush()
            from .funnel import promote
            promote(exp, rs, tasks, commit, report, backend, workers, address, chunk_size)
        commit.flush()
        if screen is None:   # a vectorised screen's parts are large already: merging them
            rs.compact()     # would rewrite every row's config text for a few promoted rows
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        progress.stop()
        try:
            commit.flush()  # points that finished are kept, whatever ended the sweep
        except Exception:  # noqa: BLE001 - never hide what ended it
            pass
        report.elapsed_s = time.perf_counter() - t0
        report.failed, report.infeasible = tracker.failed, tracker.infeasible
        report.worker_deaths = getattr(be, "deaths", 0)
        if screen is not None:   # one report for both stages, as the per-point funnel's
            from .vector_run import merge_screen
            merge_screen(report, screen)
        _end_run(rs, run, report, status)
        rs.unlock()
    return report


def _dedupe(tasks: list[Task]) -> list[Task]:
    """One task per key (two points with the same resolved config run once)."""
    seen: set[str] = set()
    out = []
    for t in tasks:
        if t.key not in seen:
            seen.add(t.key)
            out.append(t)
    return out


def _chunk_len(n: int, workers: int, size: int | None) -> int:
    """Points per chunk: ``size``, else about 8 chunks per worker, at most 64 points."""
    return size or max(1, min(64, math.ceil(n / (workers * 8))))


def _chunks(tasks: list[Task], workers: int, size: int | None) -> Iterator[list[Task]]:
    """Contiguous chunks (neighbours share unit costs), of ``_chunk_len`` points."""
    n = _chunk_len(len(tasks), workers, size)
    for i in range(0, len(tasks), n):
        yield tasks[i:i + n]


class _Committer:
    """Counts finished rows as they come and commits them to the store in parts: once
    ``every`` wait (``FLUSH_POINTS``, or a chunk's worth if chunks are smaller: never later
    than a chunk at a time) or the oldest has waited ``FLUSH_SECONDS`` (checked on every call,
    and the backends call at least every ``TICK_S``), and at the end. How rows are grouped
    into parts never changes what the store reads back."""

    def __init__(self, rs: ResultStore, tracker: Tracker, progress: ProgressSink,
                 report: SweepReport) -> None:
        self.rs, self.tracker, self.progress, self.report = rs, tracker, progress, report
        self.rows: list[dict[str, Any]] = []
        self.replace: set[str] = set()
        self.since = 0.0
        self.every = FLUSH_POINTS

    def add(self, rows: list[dict[str, Any]], retry: set[str] | None = None,
            supersede: bool = False) -> None:
        """Take finished rows; those of points in ``retry`` replace their failed rows (once).
        ``supersede``: the rows replace stored rows of the same points (a funnel's detailed
        evaluation of screened points); they are not counted as new points again."""
        if rows and supersede:
            self.replace |= {r["key"] for r in rows}
            if not self.rows:
                self.since = time.monotonic()
            self.rows.extend(rows)
            self.progress.update(0, self.tracker)
        elif rows:
            again = {r["key"] for r in rows} & retry if retry else set()
            if retry:
                retry -= again
            self.report.retried += len(again)
            self.replace |= again
            self.tracker.add(rows)
            self.report.evaluated += len(rows)
            self.progress.update(len(rows), self.tracker)
            if not self.rows:
                self.since = time.monotonic()
            self.rows.extend(rows)
        if self.rows and (len(self.rows) >= self.every
                          or time.monotonic() - self.since >= FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Commit every row taken so far (one part)."""
        if self.rows:
            rows, replace = self.rows, self.replace
            self.rows, self.replace = [], set()
            self.rs.append(rows, replace=replace)


# ---------------------------------------------------------------------------- store

def _manifest(exp: Experiment) -> dict[str, Any]:
    return {
        "accelsim_version": __version__,
        "experiment": {"name": exp.name, "description": exp.spec.description, "file": exp.file,
                       "sha256": exp.sha256, "text": exp.text},
        "fidelity": exp.spec.fidelity,
        "funnel": exp.spec.funnel.model_dump() if exp.spec.funnel else None,
        "objectives": exp.objectives,
        "constraints": [c.expr.text for b in exp.bases.values() for c in b.constraints]
        + [c.expr.text for c in exp.metric_constraints],
        "param_types": exp.param_types,
        # what stored rows' derived values were computed with (see _rederive)
        "derivation": derivation_stamp(exp),
        "derived_columns": _derived_names(exp),
        "bases": {n: {"family": b.family, "file": b.doc.file} for n, b in exp.bases.items()},
        "workloads": {n: {"spec": w.spec.model_dump(), "file": w.path,
                          "trace_sha256": w.ident.get("trace_sha256")}
                      for n, w in exp.workloads.items()},
        # trace files by content hash, so any stored point can be simulated again (replay)
        "traces": {w.ident["trace_sha256"]: w.trace.to_dict()
                   for w in exp.workloads.values() if w.trace is not None},
        "runs": [],
    }


def _open_store(exp: Experiment, path: Path, resume: bool, overwrite: bool) -> ResultStore:
    """The store to write, locked (before anything in it changes)."""
    if not resume or not (path / "manifest.json").is_file():
        rs = ResultStore.create(path, _manifest(exp), overwrite=overwrite)
        rs.lock()
        return rs
    rs = ResultStore(path)
    rs.lock()  # before the manifest is rewritten: a running sweep keeps its store
    try:
        _update_manifest(exp, path, rs)
    except BaseException:
        rs.unlock()
        raise
    return rs


def _update_manifest(exp: Experiment, path: Path, rs: ResultStore) -> None:
    """Resume: refuse another version or a changed column type; record this experiment."""
    old = rs.manifest.get("accelsim_version")
    if old != __version__:
        raise StoreError(f"{path} was written by accelsim {old}; this is {__version__}. Results "
                         f"of two versions do not mix: start a new store")
    m = _manifest(exp)
    types = dict(rs.manifest.get("param_types", {}))
    for k, t in m["param_types"].items():
        if types.get(k) == "float" and t == "int":
            continue  # whole numbers fit the float column a store made before (issue 17)
        if k in types and types[k] != t:
            raise StoreError(f"{path}: parameter {k} was stored as {types[k]}, the experiment "
                             f"now makes it {t}; start a new store")
        types[k] = t
    m["param_types"] = types
    # until _rederive has rewritten the rows, they keep the old derived values and columns
    m["derivation"] = rs.manifest.get("derivation")
    m["derived_columns"] = sorted(set(_recorded_derived(rs.manifest)) | set(_derived_names(exp)))
    m["runs"] = rs.manifest.get("runs", [])
    m["traces"] = {**rs.manifest.get("traces", {}), **m["traces"]}
    previous = rs.manifest.get("previous_experiments", [])
    if rs.manifest["experiment"]["sha256"] != exp.sha256:
        previous = previous + [rs.manifest["experiment"]]
    if previous:
        m["previous_experiments"] = previous
    rs.write_manifest(m)


def _derived_names(exp: Experiment) -> list[str]:
    """Names of the experiment's derived metrics (columns that an edit may make stale)."""
    return [n for n, _, _ in exp.derived_metrics]


def _recorded_derived(manifest: dict[str, Any]) -> list[str]:
    """Derived metric columns the store's rows may hold: as recorded, or (a store written
    before they were recorded) the derived metrics of each experiment version it keeps."""
    if "derived_columns" in manifest:
        return list(manifest["derived_columns"])
    import yaml
    names: set[str] = set()
    for e in [manifest.get("experiment", {})] + manifest.get("previous_experiments", []):
        try:
            names.update((yaml.safe_load(e.get("text") or "") or {}).get("derived_metrics") or {})
        except (yaml.YAMLError, AttributeError, TypeError):
            continue
    return sorted(names)


def _rederive(exp: Experiment, rs: ResultStore, tasks: list[Task]) -> int:
    """Recompute stored rows' derived metrics, per-token metrics and feasibility if this
    experiment computes them differently from the one that stored them (an edit of
    derived_metrics, metric constraints or tokens:, which point keys do not cover); drop the
    columns of derived metrics it no longer has. Returns the number of rows rewritten."""
    stamp = derivation_stamp(exp)
    if rs.manifest.get("derivation") == stamp:
        return 0
    fix = Rederiver(exp, {t.key: t for t in tasks}, rs.manifest.get("param_types", {}),
                    _recorded_derived(rs.manifest))
    n = rs.rewrite(fix) if len(rs) else 0
    m = dict(rs.manifest)  # only once the rows are rewritten: a crash before redoes it all
    m["derivation"], m["derived_columns"] = stamp, _derived_names(exp)
    rs.write_manifest(m)
    return n


def _start_run(rs: ResultStore, exp: Experiment, backend: str, workers: int | None) -> dict:
    """Record this run as "running"; earlier runs still "running" were killed (module doc)."""
    run = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "experiment_sha256": exp.sha256, "strategy": strategy_label(exp),
           "backend": backend, "workers": workers or os.cpu_count(), "status": "running",
           "pid": os.getpid(), "host": socket.gethostname()}
    m = dict(rs.manifest)
    m["runs"] = [_stale(r) for r in m.get("runs", [])] + [run]
    rs.write_manifest(m)
    return run


def _stale(run: Any) -> Any:
    """A run entry as a later run, holding the store's lock, sees it: one still "running"
    ended without recording it (kill -9, the OOM killer, a power loss)."""
    if isinstance(run, dict) and run.get("status") == "running":
        return {**run, "status": "killed",
                "note": "ended without recording it (kill -9, out of memory, power loss); "
                        "found by a later run"}
    return run


def _end_run(rs: ResultStore, run: dict, report: SweepReport, status: str = "finished") -> None:
    m = dict(rs.manifest)
    runs = m.get("runs", [])
    if runs:
        runs[-1] = {**run, "status": "interrupted" if report.interrupted else status,
                    "evaluated": report.evaluated, "skipped": report.skipped,
                    "failed": report.failed, "retried": report.retried,
                    "rederived": report.rederived, "worker_deaths": report.worker_deaths,
                    "elapsed_s": round(report.elapsed_s, 3)}
    rs.write_manifest(m)


# ---------------------------------------------------------------------------- metric names

def _check_metrics(exp: Experiment, rs: ResultStore | None,
                   pending: list[Task] | None) -> list[dict[str, Any]]:
    """Check metric names against real results; return probe rows to store (grid/random)."""
    needed = [n for n, _ in exp.metric_names_needed() if n not in exp.spec.metrics]
    if not needed:
        return []
    stored_metrics = set(rs.metric_columns()) - set(_recorded_derived(rs.manifest)) \
        if rs is not None and len(rs) else set()
    if stored_metrics:
        exp.check_metrics(stored_metrics)
        return []
    ev = Evaluator(exp)
    produced: set[str] = set()
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for bname in exp.bases:
        cands = [t for t in pending if t.base == bname] if pending is not None \
            else _first_points(exp, bname)
        for t in cands[:_PROBE_TRIES]:
            row = ev.run(t)
            if pending is not None:
                rows.append(row)
            if row["status"] == "ok":
                produced |= {k for k, v in row.items() if isinstance(v, float)}
                break
            errors.append(f"base {bname!r}: {row['error']}")
    if not produced:
        name, key = exp.metric_names_needed()[0]
        raise exp.fail(key, f"cannot check metric {name!r}: the first points failed "
                       f"({errors[0] if errors else 'no points'}); list expected metric names "
                       f"under 'metrics:' to skip this check")
    exp.check_metrics(produced)
    return rows


def _first_points(exp: Experiment, base: str) -> list[Task]:
    out: list[Task] = []
    for k, block in enumerate(exp.space.blocks):
        if block.base != base:
            continue
        for i in range(exp.space.offsets[k], exp.space.offsets[k] + block.size):
            p = exp.point(i)
            if p is None:
                continue
            try:
                out.append(resolve(exp, p))
            except ConfigError:
                continue
            if len(out) == _PROBE_TRIES:
                return out
    return out


# ---------------------------------------------------------------------------- optimiser

def _optimise(exp: Experiment, search: OptunaSearch, rs: ResultStore, be: Any,
              chunk_size: int | None, commit: _Committer, retry_failed: bool = True) -> None:
    """Generations of asked points: reuse stored rows, evaluate the rest, tell in order.

    With ``retry_failed``, a stored failed point the optimiser asks for again is simulated
    again (its new row replaces the error row, and is what the optimiser is told); points the
    schema rejects (``invalid-`` keys) fail the same way every time and are reused."""
    known: dict[str, dict[str, Any]] = {}
    retry: set[str] = set()
    if len(rs):
        known = {r["key"]: r for r in rs.load(status=None).to_dict("records")}
    if retry_failed:
        retry = {k for k, r in known.items()
                 if r["status"] == "error" and not k.startswith("invalid-")}
        known = {k: r for k, r in known.items() if k not in retry}
    while not search.done:
        batch = search.ask()
        keys: list[str] = []
        fresh: list[Task] = []
        invalid: list[dict[str, Any]] = []
        for _, point in batch:
            try:
                task = resolve(exp, point)
            except ConfigError as e:  # a combination the schema rejects: a failed point
                row = _invalid_row(exp, point, str(e))
                keys.append(row["key"])
                if row["key"] not in known:
                    invalid.append(row)
                    known[row["key"]] = row
                continue
            keys.append(task.key)
            if task.key not in known and all(t.key != task.key for t in fresh):
                fresh.append(task)
        if invalid:
            commit.add(invalid)
        fresh.sort(key=lambda t: t.index)
        commit.every = min(FLUSH_POINTS, _chunk_len(len(fresh), be.workers, chunk_size))
        for rows in be.map_chunks(_chunks(fresh, be.workers, chunk_size)):
            commit.add(rows, retry)
            known.update((r["key"], r) for r in rows)
        reused = len(batch) - len(fresh) - len(invalid)
        if reused > 0:
            commit.report.skipped += reused
            commit.progress.update(reused, commit.tracker)
        for (trial, _), key in zip(batch, keys):
            search.tell(trial, known[key])


def _invalid_row(exp: Experiment, point: Any, error: str) -> dict[str, Any]:
    """The stored row of a point whose architecture the schema rejects."""
    import hashlib
    import json
    from .space import cell
    ident = json.dumps({"base": point.base, "workload": point.workload, "values": point.values,
                        "fidelity": exp.spec.fidelity}, sort_keys=True, default=str)
    base = exp.bases[point.base]
    row = {"point": point.index, "key": "invalid-" + hashlib.sha256(ident.encode()).hexdigest()[:12],
           "base": point.base, "family": base.family, "workload": point.workload,
           "status": "error", "error": error, "feasible": False, "fidelity": exp.spec.fidelity,
           "accelsim_version": __version__, "config": ident}
    for p, v in point.values.items():
        try:
            row[p] = cell(v, exp.param_types.get(p))
        except ValueError:
            row[p] = None
    return row
