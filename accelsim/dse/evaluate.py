"""One design point -> one stored row: build the arch, simulate the workload, flatten metrics.

``resolve`` runs in the driver: it applies a point's values to a copy of its base document,
validates the architecture (so bad points fail before anything runs) and computes the point key,
a hash of the fully resolved config. ``Evaluator`` runs in the workers: it rebuilds the arch,
simulates and turns ``SimResult.summary()`` into a flat metrics dict. Every summary key is a
metric (nested dicts flattened with dots: ``bytes.dram_read``), plus ``tokens``,
``tokens_per_s`` and, when the summary has ``energy_j``, ``energy_per_token_j``.

What a row holds beyond the simulation (per-token metrics from the workload's token count, the
experiment's derived metrics, ``feasible``: metric constraints hold and the main memory holds
the workload, ``fits_memory``) comes from ``point_metrics`` alone. A point's key
does not cover those inputs, so after an edit ``Rederiver`` recomputes them for stored rows with
the same function, from the stored simulation metrics, without simulating again.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Collection, Mapping

from .. import __version__
from ..arch.system import Arch, build_arch
from ..config import SourceDoc, copy_data
from ..pipeline import simulate
from ..errors import ConfigError
from ..workload import Trace
from .experiment import META_COLUMNS, BaseArch, Experiment
from .space import SIZE_BUDGET, WORKLOAD_PREFIX, Point, PointEnv, cell

#: summary keys that describe the run rather than measure it; stored as metadata columns
_SUMMARY_META = {"arch": "arch_name", "workload": "trace_name", "fidelity": "fidelity",
                 "config_hash": "config_hash", "accelsim_version": "accelsim_version"}

#: metrics the DSE computes from the workload's token count (replacing any the summary has)
TOKEN_METRICS = ("tokens", "tokens_per_s", "energy_per_token_j")

#: bump when ``point_metrics`` changes what it computes: stored rows are then recomputed
#: (2: a design whose main memory cannot hold the weights and KV cache is infeasible)
_RULES = 2


@dataclass(frozen=True)
class Task:
    """A resolved point, ready for a worker."""

    index: int
    key: str
    base: str
    workload: str
    values: dict[str, Any]


def overlay(doc: SourceDoc, values: dict[str, Any], origins: dict[str, tuple]) -> SourceDoc:
    """A new document: ``doc`` with ``values`` set at their dotted paths.

    Only the mappings along the assigned paths are copied (validation never mutates its
    input), so this costs a few dict copies rather than a deep copy. Paths through lists or
    scalars take ``SourceDoc.assign``'s slower, fully checked route.
    """
    data = dict(doc.data)
    out = SourceDoc(data, doc.file, dict(doc.origins))
    copied = {id(data)}
    for path, value in values.items():
        if path.startswith(WORKLOAD_PREFIX) or path == SIZE_BUDGET:
            continue
        parts = path.split(".")
        origin = origins.get(path, (None, None))
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
                copied.add(id(child))
            elif not isinstance(child, dict):
                node = None
                break
            elif id(child) not in copied:
                child = node[part] = dict(child)
                copied.add(id(child))
            node = child
        if node is None:
            out.data = data = copy_data(data)
            out.assign(parts, value, origin)
            copied = {id(data)}
            continue
        node[parts[-1]] = value
        out.origins[tuple(parts)] = origin
    return out


def point_arch(exp: Experiment, base: BaseArch, values: dict[str, Any]) -> Arch:
    """Build ``base`` with the point's architecture values applied (validated); a system
    base gives an ``accelsim.system.System`` (``device.<key>`` values go to its device)."""
    from ..system.config import DEVICE_PREFIX, is_system_doc, system_from_doc
    if is_system_doc(base.doc.data):
        dev = {k[len(DEVICE_PREFIX):]: v for k, v in values.items()
               if k.startswith(DEVICE_PREFIX)}
        own = {k: v for k, v in values.items() if not k.startswith(DEVICE_PREFIX)}
        return system_from_doc(overlay(base.doc, own, base.origins), device_values=dev)
    return build_arch(overlay(base.doc, values, base.origins))


def resolve(exp: Experiment, point: Point) -> Task:
    """Validate ``point`` and compute its key; ConfigError (located) if the schema rejects it."""
    return resolve_arch(exp, point)[0]


def resolve_arch(exp: Experiment, point: Point) -> tuple[Task, Arch]:
    """``resolve``, also returning the point's built architecture."""
    base = exp.bases[point.base]
    try:
        arch = point_arch(exp, base, point.values)
    except ConfigError as e:
        p = (e.problems or [e])[0]
        shown = ", ".join(f"{k}={v!r}" for k, v in point.values.items())
        raise ConfigError(f"{p.message} (point {point.index}: base {point.base!r}, {shown})",
                          file=p.file, line=p.line, key_path=p.key_path) from None
    _, key = point_config(exp, point.workload, point.values, arch)
    return Task(point.index, key, point.base, point.workload, point.values), arch


def point_config(exp: Experiment, workload: str, values: dict[str, Any],
                 arch: Arch) -> tuple[str, str]:
    """Canonical JSON of a point's resolved config (arch with defaults, workload, fidelity),
    and its key: the first 20 hex digits of the JSON's SHA-256."""
    config = {"arch": arch.resolved(), "workload": exp.workloads[workload].config(values),
              "fidelity": exp.spec.fidelity}
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()[:20]


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"bytes": {"dram_read": 1}}`` -> ``{"bytes.dram_read": 1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """Numeric metrics of a summary (as floats; missing/infinite values as NaN)."""
    out: dict[str, float] = {}
    for k, v in flatten(summary).items():
        if k in _SUMMARY_META or isinstance(v, (str, list, tuple)):
            continue
        out[k] = math.nan if v is None else float(v)
    return out


def with_token_metrics(metrics: Mapping[str, float], tokens: int | None) -> dict[str, float]:
    """``metrics`` with the per-token metrics of ``tokens`` tokens per run (none if unknown).

    They always follow the workload's count (``tokens:`` included), so that ``tokens_per_s``
    and ``energy_per_token_j`` never use two different counts; the summary's own
    ``energy_per_token_j`` uses the trace's meta and agrees unless ``tokens:`` overrides it.
    """
    out = {k: v for k, v in metrics.items() if k not in TOKEN_METRICS}
    if tokens:
        out["tokens"] = float(tokens)
        lat = out.get("latency_s", math.nan)
        out["tokens_per_s"] = tokens / lat if lat > 0 else math.nan
        if "energy_j" in out:
            out["energy_per_token_j"] = out["energy_j"] / tokens
    return out


def metrics_of(summary: dict[str, Any], tokens: int | None) -> dict[str, float]:
    """Numeric metrics of a summary plus the per-token metrics of ``tokens``."""
    return with_token_metrics(summary_metrics(summary), tokens)


def point_metrics(exp: Experiment, sim: Mapping[str, float], tokens: int | None,
                  values: Mapping[str, Any], base_data: dict, workload: Mapping[str, Any]
                  ) -> tuple[dict[str, float], bool]:
    """A point's metrics from its simulated ones (per-token, then derived metrics in order) and
    whether its metric constraints hold: the one place both new and stored rows get them."""
    metrics = with_token_metrics(sim, tokens)
    env = PointEnv(values, base_data, workload, metrics)
    for name, expr, _ in exp.derived_metrics:
        metrics[name] = _safe(expr, env)
    fits = metrics.get("fits_memory", 1.0) != 0.0  # weights + KV cache fit the main memory
    return metrics, fits and all(_holds(c.expr, env) for c in exp.metric_constraints)


def derivation_stamp(exp: Experiment) -> str:
    """Hash of everything ``point_metrics`` reads from the experiment (rows stored under
    another stamp may hold stale derived metrics, per-token metrics or feasibility)."""
    data = {"rules": _RULES,
            "derived": [(n, e.text) for n, e, _ in exp.derived_metrics],
            "constraints": [c.expr.text for c in exp.metric_constraints],
            "workloads": {n: {"tokens": w.spec.tokens, "fields": w.fields}
                          for n, w in exp.workloads.items()},
            "bases": {n: b.doc.data for n, b in exp.bases.items()}}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class Evaluator:
    """Evaluates tasks of one experiment; caches traces and unit cost models across points."""

    def __init__(self, exp: Experiment, unit_cache: int = 256, trace_cache: int = 16,
                 unit_cache_mib: float = 256.0) -> None:
        self.exp = exp
        self._units: OrderedDict[tuple, Any] = OrderedDict()
        self._unit_bytes: dict[tuple, int] = {}
        self._traces: OrderedDict[str, Trace] = OrderedDict()
        self._unit_cap, self._trace_cap = unit_cache, trace_cache
        self._unit_budget = unit_cache_mib * 2**20
        self._new: list[tuple] = []

    def run_chunk(self, tasks: list[Task]) -> list[dict[str, Any]]:
        """Rows for ``tasks``, in order; a failing point gives an error row."""
        return [self.run(t) for t in tasks]

    def run(self, task: Task) -> dict[str, Any]:
        exp = self.exp
        base, wl = exp.bases[task.base], exp.workloads[task.workload]
        row = row_head(exp, task, base)
        bad = _fill_params(row, task.values, exp.param_types)
        try:
            if bad:
                raise ValueError(bad)
            arch = point_arch(exp, base, task.values)
            row["config"], key = point_config(exp, task.workload, task.values, arch)
            if key != task.key:  # the driver and this worker disagree: never store such a row
                raise RuntimeError(f"point {task.index}: key {key} != planned {task.key}")
            trace = self._trace(wl, task.values)
            if hasattr(arch, "parallelism"):          # a multi-device system
                from ..system import simulate_system
                arch.device = self._share_units(arch.device)
                summary = simulate_system(arch, trace, exp.fidelity).sweep_summary()
            else:
                arch = self._share_units(arch)
                summary = self._simulate(arch, trace).summary()
            self._account()
            fill_summary(row, exp, summary, wl, trace, task, base)
        except Exception as e:  # a failing point is recorded, never fatal
            row.update(status="error", error=_describe(e), feasible=False)
        return row

    def _simulate(self, arch: Arch, trace: Trace) -> Any:
        """One simulation at the experiment's fidelity (a hook for ``BatchEvaluator``)."""
        return simulate(arch, trace, self.exp.fidelity)

    def _trace(self, wl: Any, values: dict[str, Any]) -> Trace:
        if wl.trace is not None:
            return wl.trace
        ident = json.dumps(wl.params(values), sort_keys=True, default=str)
        hit = self._traces.get(ident)
        if hit is None:
            hit = self._traces[ident] = wl.build(values)
            if len(self._traces) > self._trace_cap:
                self._traces.popitem(last=False)
        else:
            self._traces.move_to_end(ident)
        return hit

    def _share_units(self, arch: Arch) -> Arch:
        """Reuse unit objects with identical configs and context, so their memoised op costs
        carry over.

        A unit's costs depend on its config and on the context it declares
        (``Unit.context_key()``: e.g. its memory's timing); the engine adds bandwidth and time.
        So two points that differ only in, say, DRAM bandwidth cost each op once, unless a unit
        declares that it depends on it.
        """
        for name, unit in list(arch.units.items()):
            try:
                k = (name, type(unit), unit.config, unit.context_key())
                hash(k)
            except TypeError:
                continue
            hit = self._units.get(k)
            if hit is None:
                self._units[k] = unit
                self._new.append(k)
                if len(self._units) > self._unit_cap:
                    self._evict()
            else:
                self._units.move_to_end(k)
                arch.units[name] = hit
        return arch


    def _account(self) -> None:
        """Record the memo size of the units this point added; evict the least recently used
        units while their memos exceed the budget (fold arrays of large GEMMs add up)."""
        for k in self._new:
            if k in self._units:
                self._unit_bytes[k] = self._units[k].memo_bytes()
        self._new.clear()
        while len(self._units) > 1 and sum(self._unit_bytes.values()) > self._unit_budget:
            self._evict()

    def _evict(self) -> None:
        k, _ = self._units.popitem(last=False)
        self._unit_bytes.pop(k, None)


class Rederiver:
    """Brings stored rows up to date with an edited experiment, without simulating.

    Called on each stored row, it drops the per-token and derived metric columns (of this
    experiment and of ``stale``: earlier versions') and recomputes them and ``feasible`` with
    ``point_metrics`` from the row's simulated metrics. A row whose point the experiment still
    has (same key) gets exactly what a fresh evaluation would give; another row (a design the
    edited experiment dropped) is computed from its stored parameter values, with what is left
    of its base and workload, keeping its token count unless the workload now sets ``tokens:``.
    """

    def __init__(self, exp: Experiment, tasks: Mapping[str, Task], params: Collection[str],
                 stale: Collection[str]) -> None:
        self.exp, self.tasks, self.params = exp, tasks, set(params)
        self.owned = set(TOKEN_METRICS) | set(stale) | {n for n, _, _ in exp.derived_metrics}

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in self.owned}
        if out.get("status") != "ok":  # failed points have no metrics and are not feasible
            return out
        sim = {k: float(v) for k, v in out.items()
               if v is not None and k not in META_COLUMNS and k not in self.params}
        metrics, out["feasible"] = point_metrics(self.exp, sim, *self._inputs(row))
        out.update(metrics)
        return out

    def _inputs(self, row: dict[str, Any]) -> tuple[int | None, Mapping[str, Any], dict,
                                                    Mapping[str, Any]]:
        """Tokens, parameter values, base config and workload fields of a stored row."""
        exp = self.exp
        task = self.tasks.get(row["key"]) or self._place(row)
        if task is not None:
            base, wl = exp.bases[task.base], exp.workloads[task.workload]
            return wl.tokens(wl.trace, task.values), task.values, base.doc.data, wl.fields
        values = {p: row[p] for p in self.params if row.get(p) is not None}
        base, wl = exp.bases.get(row["base"]), exp.workloads.get(row["workload"])
        old = row.get("tokens")
        tokens = wl.spec.tokens if wl is not None and wl.spec.tokens else \
            int(old) if isinstance(old, float) and math.isfinite(old) and old > 0 else None
        return tokens, values, base.doc.data if base else {}, wl.fields if wl else {}

    def _place(self, row: dict[str, Any]) -> Task | None:
        """The task of a row whose point index still names its design (same key), else None."""
        i = row.get("point")
        if not isinstance(i, int) or not 0 <= i < self.exp.space.size:
            return None
        try:
            p = self.exp.point(i)
            if p is None or (p.base, p.workload) != (row.get("base"), row.get("workload")):
                return None
            task = resolve(self.exp, p)
        except ConfigError:
            return None
        return task if task.key == row["key"] else None


def _holds(expr: Any, env: Any) -> bool:
    try:
        return bool(expr(env))
    except (ArithmeticError, TypeError, ValueError, KeyError):
        return False


def row_head(exp: Any, task: Any, base: Any) -> dict[str, Any]:
    """The identifying columns a point's row starts with (status ok until something fails)."""
    return {"point": task.index, "key": task.key, "base": task.base, "family": base.family,
            "workload": task.workload, "status": "ok", "error": None, "feasible": False,
            "fidelity": exp.fidelity, "accelsim_version": __version__, "config": None}


def fill_summary(row: dict, exp: Any, summary: dict, wl: Any, trace: Any, task: Any,
                 base: Any) -> None:
    """A point's row from its simulation summary: the summary columns, the experiment's
    metrics (with tokens from the workload) and feasibility."""
    for k, col in _SUMMARY_META.items():
        if k in summary:
            row[col] = summary[k]
    metrics, feasible = point_metrics(exp, summary_metrics(summary),
                                      wl.tokens(trace, task.values), task.values,
                                      base.doc.data, wl.fields)
    row.update(metrics)
    row["feasible"] = feasible


def _fill_params(row: dict[str, Any], values: dict[str, Any], types: dict[str, str]) -> str:
    """Put a point's parameters into ``row`` typed by their columns; describe any misfit."""
    problems = []
    for p, v in values.items():
        try:
            row[p] = cell(v, types.get(p))
        except ValueError as e:
            row[p] = None
            problems.append(f"parameter {p}: {e}")
    return "; ".join(problems)


def _safe(expr: Any, env: Any) -> float:
    try:
        return float(expr(env))
    except (ArithmeticError, TypeError, ValueError, KeyError):
        return math.nan


def _describe(e: BaseException) -> str:
    from ..errors import AccelsimError
    text = str(e) if isinstance(e, AccelsimError) else f"{type(e).__name__}: {e}"
    return text.strip() or type(e).__name__
