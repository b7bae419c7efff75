"""Workloads of an experiment: a trace file, or a model-zoo spec whose fields can be swept.

A trace file is read once when the experiment loads and shipped to the workers as a Trace, so a
remote worker needs no files. A zoo spec is built by ``accelsim.workload.zoo.build_trace`` (a
lazy import) in each worker, once per distinct parameter set.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pydantic import ValidationError

from ..config import suggest
from ..cost.estimator import tokens_of
from ..errors import AccelsimError, ConfigError
from ..workload import Trace, load_trace
from .schema import ZOO_FIELDS, TraceWorkload, ZooWorkload
from .space import WORKLOAD_PREFIX

if TYPE_CHECKING:
    from .experiment import Experiment

Fail = Callable[[tuple, str], ConfigError]


def zoo_module() -> Any:
    """``accelsim.workload.zoo``, or None while the model zoo is not in this tree."""
    try:
        from ..workload import zoo  # type: ignore[attr-defined]
    except ImportError:
        return None
    return zoo


@dataclass
class WorkloadDef:
    """One named workload of an experiment."""

    name: str
    spec: TraceWorkload | ZooWorkload
    trace: Trace | None = None            # for trace files: loaded once
    ident: dict[str, Any] = field(default_factory=dict)  # what identifies it in point keys
    path: str | None = None

    @property
    def is_zoo(self) -> bool:
        return isinstance(self.spec, ZooWorkload)

    @property
    def fields(self) -> dict[str, Any]:
        """Names ``workload.<field>`` that expressions may read."""
        if isinstance(self.spec, ZooWorkload):
            return self.spec.model_dump()
        return {"tokens": self.tokens(self.trace)} if self.trace is not None else {}

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        """Zoo build parameters for a point (its ``workload.*`` values applied)."""
        assert isinstance(self.spec, ZooWorkload)
        p = {k: getattr(self.spec, k) for k in ZOO_FIELDS}
        for path, v in values.items():
            if path.startswith(WORKLOAD_PREFIX):
                p[path[len(WORKLOAD_PREFIX):]] = v
        return p

    def config(self, values: dict[str, Any]) -> dict[str, Any]:
        """The workload part of a point's stored config."""
        if isinstance(self.spec, ZooWorkload):  # ident: a config.json's content hash
            return {"name": self.name, "zoo": self.params(values), **self.ident}
        return {"name": self.name, **self.ident}

    def tokens(self, trace: Trace | None, values: dict[str, Any] | None = None) -> int | None:
        """Tokens one run of the workload produces (for tokens_per_s), if known."""
        if self.spec.tokens is not None:
            return self.spec.tokens
        if isinstance(self.spec, ZooWorkload):
            p = self.params(values or {})
            return p["batch"] if p["phase"] == "decode" else p["batch"] * p["prompt"]
        return tokens_of(trace.meta) if trace is not None else None

    def build(self, values: dict[str, Any]) -> Trace:
        """The trace of this workload for a point."""
        if self.trace is not None:
            return self.trace
        zoo = zoo_module()
        if zoo is None:
            raise AccelsimError("the model zoo (accelsim.workload.zoo) is not installed")
        p = self.params(values)
        return zoo.build_trace(p.pop("model"), **p)

    def check_axis_values(self, exp: "Experiment") -> None:
        """Each ``workload.*`` axis value must pass the zoo schema and build a trace."""
        if not self.is_zoo:
            return
        seen: set[str] = set()
        for block in exp.space.blocks:
            if block.workload != self.name:
                continue
            base = exp.bases[block.base]
            for dim in block.dims:
                for row in dim.values:
                    for path, v in zip(dim.paths, row):
                        if not path.startswith(WORKLOAD_PREFIX):
                            continue
                        key = base.params[path]
                        data = {**self.spec.model_dump(), path[len(WORKLOAD_PREFIX):]: v}
                        try:
                            ZooWorkload.model_validate(data)
                        except ValidationError as e:
                            msg = e.errors(include_url=False)[0]["msg"]
                            raise exp.fail(key, f"value {v!r} is rejected: {msg}") from None
                        ident = json.dumps(data, sort_keys=True, default=str)
                        if ident in seen:
                            continue
                        seen.add(ident)
                        try:
                            WorkloadDef(self.name, ZooWorkload.model_validate(data)).build({})
                        except AccelsimError as e:
                            raise exp.fail(key, f"value {v!r}: {e}") from None


def load_workload_def(name: str, spec: TraceWorkload | ZooWorkload, path: str | None,
                      fail: Fail, model_path: str | None = None) -> WorkloadDef:
    """Load a trace file or check a zoo spec; problems are located through ``fail``.

    ``path``: the trace file; ``model_path``: a zoo ``model`` given as a config.json file,
    resolved against the experiment."""
    if isinstance(spec, TraceWorkload):
        assert path is not None
        if not os.path.isfile(path):
            raise fail(("trace",), f"trace file not found: {path}")
        trace = load_trace(path, csv_dtype=spec.csv_dtype)
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        # content-addressed: the same trace gives the same point keys wherever the file lives
        ident = {"trace_sha256": sha, "csv_dtype": spec.csv_dtype}
        return WorkloadDef(name, spec, trace, ident, path)
    zoo = zoo_module()
    if zoo is None:
        raise fail(("model",), "model-zoo workloads need accelsim.workload.zoo, which is not "
                   "installed in this tree; use {trace: path/to/trace.yaml} instead")
    models = list(zoo.list_models())
    ident: dict[str, Any] = {}
    if spec.model.endswith(".json") and model_path is not None:
        if not os.path.isfile(model_path):
            raise fail(("model",), f"model config not found: {model_path}")
        spec = spec.model_copy(update={"model": os.path.abspath(model_path)})
        from ..config.files import read_bytes  # a regular file within the config size cap
        # an edited config.json must not reuse stored points
        ident = {"model_sha256": hashlib.sha256(read_bytes(model_path)).hexdigest()}
    elif spec.model not in models:
        raise fail(("model",), f"unknown model {spec.model!r}{suggest(spec.model, models)}; "
                   f"known: {', '.join(models)}")
    wl = WorkloadDef(name, spec, ident=ident)
    try:
        wl.build({})
    except AccelsimError as e:
        raise fail((), str(e)) from None
    return wl
