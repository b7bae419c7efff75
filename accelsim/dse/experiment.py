"""Load an experiment YAML and check everything that can be checked before a point runs.

``load_experiment`` validates the schema, loads every base architecture and workload, expands
the axes, parses expressions, checks every axis value against each base's schema, and rejects
contradictory constraints. Each problem is one ConfigError naming file, key path and line.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from ..arch.system import build_arch
from ..config import SourceDoc, load_document, suggest, validate
from ..config.files import MAX_CONFIG_BYTES, config_file_problem, read_text
from ..errors import ConfigError
from .expr import Expr, ExprError, contradiction, parse_expr
from .schema import (MAX_GRID_POINTS, MAX_SPACE_POINTS, ZOO_FIELDS, ExperimentSpec, GridStrategy,
                     OptunaStrategy, SizeSpec, TraceWorkload)
from .space import (SIZE_BUDGET, WORKLOAD_PREFIX, Block, Dim, Point, PointEnv, Space,
                    expand_axis, has_path)
from .workloads import WorkloadDef, load_workload_def

#: columns every stored row has; axis paths may not use these names
META_COLUMNS = ("point", "key", "base", "family", "workload", "status", "error", "feasible",
                "arch_name", "trace_name", "fidelity", "config_hash", "accelsim_version", "config")


@dataclass(frozen=True)
class Constraint:
    """A constraint expression and where it was written (``key``: experiment key path)."""

    expr: Expr
    key: tuple
    kind: str  # "input" (checked before running) or "metric" (checked on results)


@dataclass
class BaseArch:
    """A base architecture with its own slice of the space."""

    name: str
    family: str
    doc: SourceDoc
    params: dict[str, tuple]            # path -> experiment key path that sets it
    origins: dict[str, tuple]           # path -> (file, line) for error messages
    constraints: list[Constraint] = field(default_factory=list)
    size: SizeSpec | None = None        # iso-area sizing of every point (schema.SizeSpec)


@dataclass
class Experiment:
    """A loaded, checked experiment: bases, workloads, the space and the evaluation rules."""

    spec: ExperimentSpec
    doc: SourceDoc
    file: str
    text: str
    bases: dict[str, BaseArch]
    workloads: dict[str, WorkloadDef]
    space: Space
    metric_constraints: list[Constraint]
    derived_metrics: list[tuple[str, Expr, tuple]]
    param_types: dict[str, str]
    #: sizing answers by (base, budget, the point's other values): each is computed once
    _sized: dict = field(default_factory=dict, repr=False, compare=False)
    #: the fidelity points are simulated at, when not ``spec.fidelity`` (a funnel's screen);
    #: point keys always use ``spec.fidelity``
    run_fidelity: str | None = None
    #: evaluate schedule-only neighbours from a shared plan (``accelsim.dse.batch``); False:
    #: every point on its own (the reference the batch path is tested and timed against)
    batch: bool = True

    @property
    def fidelity(self) -> str:
        """The fidelity this experiment's evaluator simulates at."""
        return self.run_fidelity or self.spec.fidelity

    def screening(self) -> "Experiment":
        """This experiment simulating at its funnel's screen fidelity (same points and keys)."""
        assert self.spec.funnel is not None
        return replace(self, run_fidelity=self.spec.funnel.screen, _sized=self._sized)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def objectives(self) -> dict[str, str]:
        return dict(self.spec.objectives)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def fail(self, key: tuple, msg: str) -> ConfigError:
        """A ConfigError located at experiment key path ``key``."""
        file, line = self.doc.origin(key)
        return ConfigError(msg, file=file or self.file, line=line,
                           key_path=".".join(str(k) for k in key) or None)

    def point(self, index: int) -> Point | None:
        """Point ``index`` with derived values applied; None if an input constraint excludes it."""
        block, values = self.space.raw_point(index)
        base, wl = self.bases[block.base], self.workloads[block.workload]
        env = PointEnv(values, base.doc.data, wl.fields)
        for path, expr in block.derived:
            try:
                values[path] = expr(env)
            except (ArithmeticError, TypeError, ValueError) as e:
                raise self.fail(base.params[path], f"cannot compute for point {index} "
                                f"({_show(values)}): {e}") from None
        if base.size is not None:
            values.update(self._size(base, values, index))
        for c in base.constraints:
            try:
                ok = bool(c.expr(env))
            except (ArithmeticError, TypeError, ValueError) as e:
                raise self.fail(c.key, f"cannot evaluate for point {index} ({_show(values)}): "
                                f"{e}") from None
            if not ok:
                return None
        return Point(index, block.base, block.workload, values)

    def _size(self, base: BaseArch, values: dict[str, Any], index: int) -> dict[str, int]:
        """The point's knobs sized to its budget (memoised on everything the answer reads)."""
        from ..errors import AccelsimError
        from .sizing import size_to_area
        assert base.size is not None
        knobs = base.size.knobs
        arch_values = {p: v for p, v in values.items()
                       if p != SIZE_BUDGET and not p.startswith(WORKLOAD_PREFIX)}
        budget = values[SIZE_BUDGET]
        key = (base.name, budget, tuple(sorted(arch_values.items(), key=lambda kv: kv[0])))
        hit = self._sized.get(key)
        if hit is None:
            start = {k: arch_values[k] for k in knobs if k in arch_values}
            fixed = {p: v for p, v in arch_values.items() if p not in knobs}
            try:
                hit = size_to_area(base.doc, budget, knobs, start, fixed).values
            except AccelsimError as e:
                raise self.fail(("archs", base.name, "size"), f"point {index} "
                                f"({_show(values)}): {e}") from None
            self._sized[key] = hit
        return hit

    def is_input(self, name: str) -> bool:
        """Whether ``name`` is a parameter or config key of every base (not a metric)."""
        if name.startswith(WORKLOAD_PREFIX) and all(
                name[len(WORKLOAD_PREFIX):] in w.fields for w in self.workloads.values()):
            return True
        return all(name in b.params or has_path(b.doc.data, name) for b in self.bases.values())

    def metric_names_needed(self) -> list[tuple[str, tuple]]:
        """(metric name, experiment key path) for every name results must provide."""
        out: list[tuple[str, tuple]] = []
        derived = {n for n, _, _ in self.derived_metrics} | {
            n for c in self.metric_constraints for n in c.expr.names if self.is_input(n)} | {
            n for _, e, _ in self.derived_metrics for n in e.names if self.is_input(n)}
        for name, expr, key in self.derived_metrics:
            out += [(n, key) for n in expr.names if n not in derived]
        for c in self.metric_constraints:
            out += [(n, c.key) for n in c.expr.names if n not in derived]
        out += [(n, ("objectives", n)) for n in self.spec.objectives if n not in derived]
        return out

    def check_metrics(self, produced: set[str]) -> None:
        """Raise ConfigError for objective/constraint/derived-metric names no result provides."""
        known = produced | set(self.spec.metrics) | set(self.param_types)
        for name, key in self.metric_names_needed():
            if name not in known:
                hint = suggest(name, known) or "; known metrics: " + ", ".join(sorted(produced))
                raise self.fail(key, f"unknown metric {name!r}{hint}")


def load_experiment(path: str | Path, overrides: Sequence[str] = ()) -> Experiment:
    """Load and check the experiment YAML at ``path`` (``-o key=value`` overrides allowed)."""
    doc = load_document(path, overrides)
    spec = validate(ExperimentSpec, doc.data, doc)
    assert isinstance(spec, ExperimentSpec)
    return _Builder(spec, doc, str(path)).build()


def _show(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


class _Builder:
    """Turns a validated ExperimentSpec into an Experiment (one check per method)."""

    def __init__(self, spec: ExperimentSpec, doc: SourceDoc, file: str) -> None:
        self.spec, self.doc, self.file = spec, doc, file
        self.text = read_text(file, max_bytes=MAX_CONFIG_BYTES, what="an experiment YAML")

    def fail(self, key: tuple, msg: str) -> ConfigError:
        file, line = self.doc.origin(key)
        return ConfigError(msg, file=file or self.file, line=line,
                           key_path=".".join(str(k) for k in key) or None)

    def relative(self, key: tuple, rel: str) -> str:
        """``rel`` resolved against the directory of the file that wrote ``key``."""
        origin_file = self.doc.origin(key)[0] or self.file
        if origin_file.startswith("<"):  # an override: relative to the working directory
            return rel
        return os.path.normpath(os.path.join(os.path.dirname(origin_file), rel))

    def build(self) -> Experiment:
        spec = self.spec
        if isinstance(spec.strategy, OptunaStrategy) and not spec.objectives:
            raise self.fail(("strategy",), "the optuna strategy needs at least one objective "
                            "(objectives: {latency_s: min, ...})")
        if isinstance(spec.strategy, OptunaStrategy):
            try:
                import optuna  # noqa: F401  (optional: the [dse] extra)
            except ImportError:
                raise self.fail(("strategy", "kind"), "the optuna strategy needs the optuna "
                                "package, which is not installed: pip install 'accelsim[dse]' "
                                "(or pip install optuna), or use strategy kind grid or "
                                "random") from None
        workloads = {n: self.load_workload(n) for n in spec.workloads}
        bases = {n: self.load_base(n) for n in spec.archs}
        blocks: list[Block] = []
        for bname, base in bases.items():
            dims, derived = self.dims(bname, base, workloads)
            for wname in workloads:
                blocks.append(Block(bname, wname, dims, derived))
        self.check_size(blocks)
        exp = Experiment(spec, self.doc, self.file, self.text, bases, workloads, Space(blocks),
                         [], [], {})
        self.constraints(exp)
        exp.derived_metrics = [(n, self.parse(("derived_metrics", n), t), ("derived_metrics", n))
                               for n, t in spec.derived_metrics.items()]
        for n in spec.derived_metrics:
            if n in META_COLUMNS or any(n in b.params for b in bases.values()):
                raise self.fail(("derived_metrics", n), f"{n!r} is already a column name")
        from .checks import check_values, param_types
        check_values(exp)
        for k, block in enumerate(exp.space.blocks):   # each base's first point sizes
            if bases[block.base].size is not None:
                exp.point(exp.space.offsets[k])
        exp.param_types = param_types(exp)
        return exp

    def check_size(self, blocks: list[Block]) -> None:
        """Refuse, with the count, a space too large to index or a grid too large to run
        (before anything enumerates it)."""
        total = sum(b.size for b in blocks)
        key = ("axes",) if "axes" in self.doc.data else ("archs",)
        shape = " x ".join(str(len(d.values)) for d in blocks[0].dims) if blocks else ""
        detail = f"{total:,} points" + (f" ({len(blocks)} base/workload block(s) of "
                                        f"{shape} values)" if shape else "")
        if total > MAX_SPACE_POINTS:
            raise self.fail(key, f"the space has {detail}, more than the {MAX_SPACE_POINTS:,} "
                            f"a sweep can address; remove axes or values")
        if isinstance(self.spec.strategy, GridStrategy) and total > MAX_GRID_POINTS:
            raise self.fail(key, f"the space has {detail}, more than the {MAX_GRID_POINTS:,} a "
                            f"grid sweep may enumerate; remove axes or values, or sample it "
                            f"(strategy: {{kind: random, samples: N}} or {{kind: optuna, "
                            f"budget: N}})")

    # ------------------------------------------------------------------ inputs
    def load_workload(self, name: str) -> WorkloadDef:
        spec = self.spec.workloads[name]
        key = ("workloads", name)
        if isinstance(spec, TraceWorkload):
            path = self.relative(key + ("trace",), spec.trace)
            return load_workload_def(name, spec, path, lambda k, m: self.fail(key + k, m))
        model_path = self.relative(key + ("model",), spec.model)
        return load_workload_def(name, spec, None, lambda k, m: self.fail(key + k, m), model_path)

    def load_base(self, name: str) -> BaseArch:
        spec = self.spec.archs[name]
        path = self.relative(("archs", name, "path"), spec.path)
        if not os.path.exists(path):
            raise self.fail(("archs", name, "path"), f"architecture file not found: {path}")
        problem = config_file_problem(path)  # only regular .yaml/.yml/.json files are read
        if problem:
            raise self.fail(("archs", name, "path"), problem)
        doc = load_document(path)
        from ..system.config import is_system_doc, system_from_doc
        if is_system_doc(doc.data):    # a multi-device system: it and its device must be valid
            if spec.size is not None:
                raise self.fail(("archs", name, "size"), "iso-area sizing is for single "
                                "devices; size the system's device YAML instead")
            system_from_doc(doc)
        else:
            build_arch(doc)  # the base itself must be valid; errors name its own file and line
        return BaseArch(name, spec.family or name, doc, {}, {})

    def parse(self, key: tuple, text: str) -> Expr:
        try:
            return parse_expr(text)
        except ExprError as e:
            raise self.fail(key, f"{e} in {text!r}") from None

    def dims(self, bname: str, base: BaseArch,
             workloads: dict[str, WorkloadDef]) -> tuple[tuple[Dim, ...], tuple]:
        """Dimensions and derived values of one base: top-level block, then the arch's own."""
        dims: list[Dim] = []
        derived: list[tuple[str, Expr]] = []
        for root, block in (((), self.spec), (("archs", bname), self.spec.archs[bname])):
            for path, axis in block.axes.items():
                key = root + ("axes", path)
                self.claim(base, path, key, workloads)
                dims.append(Dim((path,), tuple((v,) for v in self.values(key, axis))))
            for gi, group in enumerate(block.zip):
                cols, lengths = [], {}
                for path, axis in group.items():
                    key = root + ("zip", gi, path)
                    self.claim(base, path, key, workloads)
                    cols.append(self.values(key, axis, unique=False))
                    lengths[path] = len(cols[-1])
                if len(set(lengths.values())) > 1:
                    first = next(iter(lengths))
                    bad = next(p for p in lengths if lengths[p] != lengths[first])
                    raise self.fail(root + ("zip", gi, bad), f"has {lengths[bad]} values but "
                                    f"{first} has {lengths[first]}; zipped axes need equal lengths")
                if cols:
                    rows = list(zip(*cols))
                    dup = _first_repeat(rows)
                    if dup is not None:
                        raise self.fail(root + ("zip", gi), f"the combination {dup!r} appears "
                                        f"twice")
                    dims.append(Dim(tuple(group), tuple(rows)))
            for path, text in block.derived.items():
                key = root + ("derived", path)
                self.claim(base, path, key, workloads)
                derived.append((path, self.parse(key, text)))
        size = self.spec.archs[bname].size
        if size is not None:
            key = ("archs", bname, "size")
            self.claim(base, SIZE_BUDGET, key + ("area_mm2",), workloads)
            dims.append(Dim((SIZE_BUDGET,), tuple((float(a),) for a in size.budgets)))
            for i, knob in enumerate(size.knobs):
                if knob in size.knobs[:i]:
                    raise self.fail(key + ("knobs", i), f"knob {knob!r} appears twice")
                if knob not in base.params:  # a column of its own (set by the sizing)
                    self.claim(base, knob, key + ("knobs", i), workloads)
            base.size = size
        for path, expr in derived:
            self.require_inputs(base, expr, base.params[path], workloads)
        return tuple(dims), tuple(derived)

    def values(self, key: tuple, axis: Any, unique: bool = True) -> list[Any]:
        vals = expand_axis(axis)
        if not unique:
            return vals
        seen: set[Any] = set()
        unhashable: list[Any] = []  # lists and mappings as values: compared one by one
        for v in vals:
            try:
                again = v in seen
            except TypeError:
                again = v in unhashable
                unhashable.append(v)
            else:
                seen.add(v)
            if again and not isinstance(v, bool):
                raise self.fail(key, f"value {v!r} appears twice")
        return vals

    def claim(self, base: BaseArch, path: str, key: tuple,
              workloads: dict[str, WorkloadDef]) -> None:
        """Register ``path`` as a parameter of ``base`` set at experiment key ``key``."""
        parts = path.split(".")
        if not all(parts):
            raise self.fail(key, f"{path!r} is not a dotted key path like units.sa.rows")
        if path in META_COLUMNS:
            raise self.fail(key, f"{path!r} is a reserved column name")
        if path in base.params:
            prev = ".".join(str(k) for k in base.params[path])
            raise self.fail(key, f"{path} is already set by {prev}")
        if path.startswith(WORKLOAD_PREFIX):
            field_name = path[len(WORKLOAD_PREFIX):]
            if field_name not in ZOO_FIELDS:
                raise self.fail(key, f"unknown workload field {field_name!r}"
                                f"{suggest(field_name, ZOO_FIELDS)}; workload axes set model-zoo "
                                f"parameters: {', '.join(ZOO_FIELDS)}")
            trace_wl = [n for n, w in workloads.items() if not w.is_zoo]
            if trace_wl:
                raise self.fail(key, f"workload axes need model-zoo workloads, but "
                                f"{trace_wl[0]!r} is a trace file")
        elif parts[0] == "units" and len(parts) > 2:
            units = base.doc.data.get("units") or {}
            if parts[1] not in units:
                raise self.fail(key, f"base {base.name!r} ({base.doc.file}) has no unit "
                                f"{parts[1]!r}{suggest(parts[1], units)}; units: "
                                f"{', '.join(units)} (put axes of one base under "
                                f"archs.<name>.axes)")
        base.params[path] = key
        base.origins[path] = self.doc.origin(key)

    def is_input(self, base: BaseArch, name: str, workloads: dict[str, WorkloadDef]) -> bool:
        if name in base.params or has_path(base.doc.data, name):
            return True
        field_name = name[len(WORKLOAD_PREFIX):] if name.startswith(WORKLOAD_PREFIX) else None
        return field_name is not None and all(field_name in w.fields for w in workloads.values())

    def require_inputs(self, base: BaseArch, expr: Expr, key: tuple,
                       workloads: dict[str, WorkloadDef]) -> None:
        for n in expr.names:
            if not self.is_input(base, n, workloads):
                known = [*base.params, *_paths(base.doc.data)]
                raise self.fail(key, f"{n!r} is neither a parameter nor a key of base "
                                f"{base.name!r}{suggest(n, known)}")

    # ------------------------------------------------------------------ constraints
    def constraints(self, exp: Experiment) -> None:
        """Split constraints into input and metric ones; reject contradictions."""
        top = [(("constraints", i), self.parse(("constraints", i), t))
               for i, t in enumerate(self.spec.constraints)]
        for key, expr in top:
            where = {n: [b for b, base in exp.bases.items() if self.is_input(base, n, exp.workloads)]
                     for n in expr.names}
            partial = [(n, bs) for n, bs in where.items() if bs and len(bs) < len(exp.bases)]
            if partial:
                name, bs = partial[0]
                raise self.fail(key, f"{name!r} exists in base {bs[0]!r} but not in every base; "
                                f"put this constraint under archs.{bs[0]}.constraints")
            kind = "input" if all(where.values()) else "metric"
            if kind == "input":
                for base in exp.bases.values():
                    base.constraints.append(Constraint(expr, key, kind))
            else:
                exp.metric_constraints.append(Constraint(expr, key, kind))
        for bname, base in exp.bases.items():
            for i, text in enumerate(self.spec.archs[bname].constraints):
                key = ("archs", bname, "constraints", i)
                expr = self.parse(key, text)
                if all(self.is_input(base, n, exp.workloads) for n in expr.names):
                    base.constraints.append(Constraint(expr, key, "input"))
                else:
                    raise self.fail(key, "a constraint under an arch may only read its "
                                    "parameters and config keys; put metric constraints at the "
                                    "top level")
        for bname, base in exp.bases.items():
            every = base.constraints + exp.metric_constraints
            found = contradiction([(b, c) for c in every for b in c.expr.bounds])
            if found:
                name, c1, c2 = found
                first, second = sorted([c1, c2], key=lambda c: self.doc.origin(c.key)[1] or 0)
                raise self.fail(second.key, f"{second.expr.text!r} contradicts "
                                f"{'.'.join(map(str, first.key))} ({first.expr.text!r}): no "
                                f"value of {name} satisfies both")

def _first_repeat(rows: list[tuple]) -> tuple | None:
    """The first row equal to an earlier one (hashing where it can: a million rows is fast)."""
    seen: set[tuple] = set()
    unhashable: list[tuple] = []
    for r in rows:
        try:
            if r in seen:
                return r
            seen.add(r)
        except TypeError:
            if r in unhashable or any(r == s for s in seen):
                return r
            unhashable.append(r)
    return None


def _paths(data: Any, prefix: str = "") -> list[str]:
    """Every dotted path in nested mappings (for did-you-mean hints)."""
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            p = f"{prefix}{k}"
            out.append(p)
            out += _paths(v, p + ".")
    return out
