"""Simulate a stored point again from its recorded config (for per-op plots and audits).

The store keeps every point's fully resolved config and, for trace files, the trace itself (by
content hash), so a point can be rebuilt without the original files. ``replay`` checks that the
new run reproduces the stored cycles exactly; a mismatch means the store came from different
code.
"""
from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from ..arch.system import Arch, arch_from_dict
from ..config import SourceDoc
from ..engine import SimResult
from ..pipeline import simulate
from ..errors import AccelsimError
from ..workload import Trace
from ..workload.traceio import trace_from_doc
from .store import ResultStore
from .workloads import zoo_module


def point_row(store: ResultStore, key: str) -> pd.Series:
    """The stored row of point ``key`` (a unique prefix of the key is enough)."""
    df = store.load(status=None)
    hits = df[df["key"].astype(str).str.startswith(key)]
    if len(hits) != 1:
        what = "no point" if hits.empty else f"{len(hits)} points"
        raise AccelsimError(f"{store.path}: {what} with key {key!r}")
    return hits.iloc[0]


def rebuild(store: ResultStore, row: pd.Series) -> tuple[Arch, Trace, str]:
    """Arch, trace and fidelity of a stored point."""
    if row["status"] != "ok":
        raise AccelsimError(f"point {row['key']} failed when it ran: {row['error']}")
    cfg = json.loads(row["config"])
    name = f"{store.path}:{row['key']}"
    if set(cfg["arch"]) == {"system", "device"}:      # a multi-device system's point
        from ..system.config import System, SystemConfig
        arch = System(SystemConfig.model_validate(cfg["arch"]["system"]),
                      arch_from_dict(cfg["arch"]["device"], name=name), name)
    else:
        arch = arch_from_dict(cfg["arch"], name=name)
    wl = cfg["workload"]
    if "zoo" in wl:
        zoo = zoo_module()
        if zoo is None:
            raise AccelsimError("this point used the model zoo, which is not installed")
        params = dict(wl["zoo"])
        trace = zoo.build_trace(params.pop("model"), **params)
    else:
        data = store.manifest.get("traces", {}).get(wl["trace_sha256"])
        if data is None:
            raise AccelsimError(f"{store.path}: the trace of point {row['key']} is not in the "
                                f"store's manifest")
        trace = trace_from_doc(SourceDoc(data=json.loads(json.dumps(data)), file="<store>"))
    return arch, trace, cfg["fidelity"]


def replay(store: ResultStore | str, key: str, check: bool = True) -> tuple[Arch, SimResult]:
    """Simulate stored point ``key`` again; with ``check``, insist on the stored cycles."""
    rs = store if isinstance(store, ResultStore) else ResultStore(store)
    row = point_row(rs, key)
    arch, trace, fidelity = rebuild(rs, row)
    if hasattr(arch, "parallelism"):                  # a system: its result's rank-0 stages
        from ..system import simulate_system
        sys_result = simulate_system(arch, trace, fidelity)
        cycles = sys_result.sweep_summary()["cycles"]
        if check and not math.isclose(cycles, float(row["cycles"]), rel_tol=0, abs_tol=0):
            raise AccelsimError(f"replaying point {row['key']} gives {cycles} cycles, the "
                                f"store says {row['cycles']}: the store was written by "
                                f"different code")
        return arch, sys_result
    result = simulate(arch, trace, fidelity)
    stored = float(row["cycles"])
    if check and not math.isclose(result.cycles, stored, rel_tol=0, abs_tol=0):
        raise AccelsimError(f"replaying point {row['key']} gives {result.cycles} cycles, the "
                            f"store says {stored}: the store was written by different code")
    return arch, result


def pick_points(df: pd.DataFrame, keys: list[str] | None = None, best: str | None = None,
                sense: str = "min", n: int = 4) -> pd.DataFrame:
    """Rows by key prefixes, or the ``n`` best by metric ``best``."""
    if keys:
        rows = [df[df["key"].astype(str).str.startswith(k)] for k in keys]
        bad = [k for k, r in zip(keys, rows) if len(r) != 1]
        if bad:
            raise AccelsimError(f"key {bad[0]!r} matches {len(rows[keys.index(bad[0])])} points")
        return pd.concat(rows)
    if best is None:
        raise AccelsimError("choose points with --keys or --best METRIC")
    if best not in df.columns:
        raise AccelsimError(f"no column {best!r}")
    return df.sort_values(best, ascending=sense == "min", kind="stable").head(n)


def point_labels(rows: pd.DataFrame, params: list[str]) -> list[str]:
    """Short bar labels: the parameters that differ between ``rows``, one per line; a point's
    base that does not sweep a parameter shows none for it (never ``nan``)."""
    varying = [p for p in params if p in rows and rows[p].astype(str).nunique() > 1]
    labels = []
    for _, r in rows.iterrows():
        parts = [str(r["base"])] if rows["base"].nunique() > 1 else []
        parts += [f"{_short_name(p)}={_short(r[p])}" for p in varying if not _missing(r[p])]
        labels.append("\n".join(parts) or f"#{r['point']}")
    return labels


def describe(row: Any, params: list[str]) -> str:
    """A one-line label for a point: its base and the parameter values it has (one its base
    does not sweep is left out, never shown as ``nan``)."""
    vals = ", ".join(f"{p.split('.')[-1]}={_short(row[p])}" for p in params
                     if p in row and not _missing(row[p]))
    return f"{row['base']}: {vals}" if vals else str(row["base"])


_ABBREV = {"bandwidth": "BW", "ifmap": "ifmap", "filter": "filter"}


def _short_name(path: str) -> str:
    """``memory.dram.bandwidth_gb_s`` -> ``BW``; ``units.sa.sram.ifmap_kb`` -> ``ifmap``."""
    leaf = path.split(".")[-1]
    for suf in ("_gb_s", "_kb", "_mm2", "_ghz", "_gb", "_s", "_j", "_w"):
        if leaf.endswith(suf) and len(leaf) > len(suf):
            leaf = leaf[: -len(suf)]
            break
    return _ABBREV.get(leaf, leaf)


def _short(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _missing(v: Any) -> bool:
    """A parameter a row's base does not have (None, NaN or pandas' NA)."""
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
