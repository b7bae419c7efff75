"""An experiment's points through the vectorised systolic path (``dse.vector``), as columns.

``applies(exp)`` says whether the vectorised path evaluates an experiment exactly: one base,
a single device (not a system) with one systolic unit, one zoo or trace workload whose trace
does not depend on the point, a fidelity whose chain segments are closed forms back to back
(analytical or op: ``vector.chain_is_closed_form``; the grid still requires every segment to
be a chain, so op fidelity's contention never arises), every swept parameter one that
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

from .vector import (NotVectorisable, SystolicGrid, chain_is_closed_form, grid_of_points,
                     vectorisable_params)


def applies(exp: Any) -> str | None:
    """None if ``exp`` can be evaluated by ``evaluate_columns``, else why not."""
    from ..arch.units.systolic import SystolicArray
    from ..system.config import is_system_doc
    from .evaluate import point_arch
    from ..engine.fidelities import fidelity as make_fidelity
    if not chain_is_closed_form(make_fidelity(exp.fidelity)):
        return f"fidelity {exp.fidelity!r} (only those whose chains are closed forms)"
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
    (base,) = exp.bases.values()
    (wl,) = exp.workloads.values()
    arch = point_arch(exp, base, {})
    trace = Evaluator(exp)._trace(wl, {})
    grid = SystolicGrid(arch, trace, fidelity=exp.fidelity)
    arrays = grid_of_points(exp, points, grid.unit, grid.memory)
    out = grid.evaluate(*arrays.values())
    out.update(price(grid, out["latency_s"], out["macs"], out["cycles"], out["flops"],
                     wl.tokens(trace, {})))
    n = len(points)
    for k, v in grid.constants.items():
        out[k] = np.full(n, v)
    from .point_table import PointTable
    table = isinstance(points, PointTable)
    cols: dict[str, np.ndarray] = {"point": points.index.copy() if table else
                                   np.array([p.index for p in points])}
    for name in base.params:
        if name in arrays:
            cols[name] = arrays[name]
        elif table:
            cols[name] = points.column(name)
        else:
            cols[name] = np.array([p.values[name] for p in points])
    cols.update(out)
    cols["feasible"] = cols["fits_memory"] != 0.0
    return cols


def row_columns(exp: Any, points: list) -> dict[str, Any]:
    """``evaluate_columns`` plus every other column ``Evaluator.run`` writes (``key``,
    ``config``, ``config_hash``, names, status), parameters typed as the store types them: the
    columns of the rows, in one table.

    The resolved config of a point is the base's with the swept fields replaced, so its
    canonical JSON (``evaluate.point_config``; ``Device.config_hash``) is a template with one
    hole per swept field, filled with that field's JSON as the validated config dumps it (taken
    once per distinct value from a point built in full that has it); ``tests/test_dse_vector.py``
    compares keys, configs and hashes with ``resolve`` and ``Evaluator.run``."""
    import json

    from .. import __version__
    from .evaluate import point_arch
    from .space import cell, lookup
    cols = evaluate_columns(exp, points)
    (bname, base), = exp.bases.items()
    (wname, wl), = exp.workloads.items()
    arch = point_arch(exp, base, {})
    names = list(base.params)
    resolved = arch.resolved()
    for i, nm in enumerate(names):   # sentinels where the swept values go
        _set(resolved, nm, f"@@accelsim-param-{i}@@")
    wl_cfg = wl.config({})
    key_tpl = json.dumps({"arch": resolved, "workload": wl_cfg, "fidelity": exp.spec.fidelity},
                         sort_keys=True, separators=(",", ":"))
    hash_tpl = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    key_pieces, key_order = _split(key_tpl, len(names))
    hash_pieces, hash_order = _split(hash_tpl, len(names))
    # per parameter: each distinct value's JSON in a resolved config, from a point that has it
    codes, texts, typed = [], [], {}
    for nm in names:
        vals = np.asarray(cols[nm], dtype=float)   # the points' values (grid_of_points)
        uniq, first, code = np.unique(vals, return_index=True, return_inverse=True)
        rendered = []
        for j in first:   # equal numbers validate to the same config value
            built = point_arch(exp, base, points[int(j)].values).resolved()
            rendered.append(json.dumps(lookup(built, _resolved_path(nm)),
                                       separators=(",", ":")))
        codes.append(code.reshape(-1))
        texts.append(rendered)
        kind = exp.param_types.get(nm)
        if kind not in ("int", "float") or (np.abs(uniq) > 2.0**53).any():
            raise NotVectorisable(f"parameter {nm!r} of type {kind}")
        cells = [cell(points[int(j)].values[nm], kind) for j in first]
        typed[nm] = np.array(cells, dtype=np.int64 if kind == "int" else float)[code.reshape(-1)]
    configs, keys, hashes = _texts(key_pieces, key_order, hash_pieces, hash_order, codes,
                                   texts, [nm.startswith("memory.") for nm in names])
    n = len(points)
    out: dict[str, Any] = {"point": cols.pop("point"), "key": keys, "base": [bname] * n,
                           "family": [base.family] * n, "workload": [wname] * n,
                           "status": ["ok"] * n, "error": [None] * n,
                           "feasible": cols.pop("feasible"),
                           "fidelity": [exp.fidelity] * n,
                           "accelsim_version": [__version__] * n, "config": configs}
    for nm in names:
        out[nm] = typed[nm]
        cols.pop(nm, None)
    out["arch_name"] = [arch.name] * n
    out["trace_name"] = [_trace_name(exp, arch)] * n
    out["config_hash"] = hashes
    out.update(cols)
    return _checked(exp, points, out)


def _checked(exp: Any, points: list, cols: dict[str, Any]) -> dict[str, Any]:
    """``cols`` in the column order of the first point's ``Evaluator.run`` row, after checking
    that row equals the first point's columns (a guard: a mismatch raises NotVectorisable)."""
    from .evaluate import Evaluator, resolve
    row = Evaluator(exp).run(resolve(exp, points[0]))
    if set(row) != set(cols):
        raise NotVectorisable(f"columns differ from a row's: {sorted(set(row) ^ set(cols))}")
    for k, v in row.items():
        got = cols[k][0]
        got = got.item() if isinstance(got, np.generic) else got
        same = (got != got and v != v) if isinstance(v, float) and v != v else got == v
        if not same:
            raise NotVectorisable(f"column {k!r} of point {points[0].index}: vectorised "
                                  f"{got!r}, per point {v!r}")
    return {k: cols[k] for k in row}


def _texts(key_pieces: list, key_order: list, hash_pieces: list, hash_order: list,
           codes: list, texts: list, head_param: list) -> tuple[list, list, list]:
    """Per point: the config JSON, its key (20 hex digits of its SHA-256) and the device
    config hash (16 hex digits of the SHA-256 of the resolved device JSON).

    Where every hole of the ``head_param`` parameters (the memory's) comes before every other
    hole in both templates (sorted JSON keys put ``memory`` before ``units``), each text is a
    head (one per distinct head values) plus a tail (one per distinct other values): the
    hashes continue a copy of the head's SHA-256 state over the tail's bytes; else every text
    is filled hole by hole. Same texts and digests either way."""
    import hashlib
    n = codes[0].shape[0] if codes else 0
    heads = [i for i, h in enumerate(head_param) if h]
    split = []
    for order in (key_order, hash_order):
        k = len(heads)
        split.append(k if sorted(order[:k]) == heads and k < len(order) else None)
    if None in split or not heads:
        configs, keys, hashes = [], [], []
        for j in range(n):
            vals = [texts[i][codes[i][j]] for i in range(len(codes))]
            text = _fill(key_pieces, key_order, vals)
            configs.append(text)
            keys.append(hashlib.sha256(text.encode()).hexdigest()[:20])
            hashes.append(hashlib.sha256(_fill(hash_pieces, hash_order, vals).encode())
                          .hexdigest()[:16])
        return configs, keys, hashes
    def combo(idx: list[int]) -> tuple[np.ndarray, list[tuple]]:
        """A code per point for the values of parameters ``idx``, and each code's values."""
        if not idx:
            return np.zeros(n, dtype=np.intp), [()]
        stacked = np.stack([codes[i] for i in idx], axis=1)
        uniq, inv = np.unique(stacked, axis=0, return_inverse=True)
        return inv.reshape(-1), [tuple(int(x) for x in row) for row in uniq]
    tails_i = [i for i in range(len(codes)) if i not in heads]
    h_of, h_vals = combo(heads)
    t_of, t_vals = combo(tails_i)

    def parts(pieces: list, order: list, k: int) -> tuple[list, list]:
        head, tail = [], []
        for hv in h_vals:
            vals = dict(zip(heads, (texts[i][c] for i, c in zip(heads, hv))))
            head.append(pieces[0] + "".join(vals[o] + pieces[m + 1]
                                            for m, o in enumerate(order[:k])))
        for tv in t_vals:
            vals = dict(zip(tails_i, (texts[i][c] for i, c in zip(tails_i, tv))))
            tail.append("".join(vals[o] + pieces[k + m + 1]
                                for m, o in enumerate(order[k:])))
        return head, tail
    kh, kt = parts(key_pieces, key_order, split[0])
    hh, ht = parts(hash_pieces, hash_order, split[1])
    kh_sha = [hashlib.sha256(x.encode()) for x in kh]
    hh_sha = [hashlib.sha256(x.encode()) for x in hh]
    kt_b = [x.encode() for x in kt]
    ht_b = [x.encode() for x in ht]
    configs, keys, hashes = [], [], []
    for a, b in zip(h_of.tolist(), t_of.tolist()):
        configs.append(kh[a] + kt[b])
        h = kh_sha[a].copy()
        h.update(kt_b[b])
        keys.append(h.hexdigest()[:20])
        h = hh_sha[a].copy()
        h.update(ht_b[b])
        hashes.append(h.hexdigest()[:16])
    return configs, keys, hashes


def _trace_name(exp: Any, arch: Any) -> str:
    from ..engine.policies import make_policy
    from .evaluate import Evaluator
    (wl,) = exp.workloads.values()
    return make_policy(arch.policy_config, arch).rewrite(Evaluator(exp)._trace(wl, {})).name


def _resolved_path(name: str) -> str:
    """A parameter's path in ``Device.resolved()`` (the same dotted path)."""
    return name


def _set(data: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        data = data[p]
    if parts[-1] not in data:
        raise NotVectorisable(f"parameter {dotted!r} is not in the resolved config")
    data[parts[-1]] = value


def _split(text: str, n: int) -> tuple[list[str], list[int]]:
    """``text`` cut at each quoted sentinel: the pieces between, and which parameter each hole
    takes (in text order)."""
    import re
    pat = re.compile(r'"@@accelsim-param-(\d+)@@"')
    pieces, order, pos = [], [], 0
    for m in pat.finditer(text):
        pieces.append(text[pos:m.start()])
        order.append(int(m.group(1)))
        pos = m.end()
    pieces.append(text[pos:])
    if sorted(order) != list(range(n)):
        raise NotVectorisable("a swept parameter is missing from or repeated in the config")
    return pieces, order


def _fill(pieces: list[str], order: list[int], vals: list[str]) -> str:
    out = [pieces[0]]
    for i, k in enumerate(order):
        out.append(vals[k])
        out.append(pieces[i + 1])
    return "".join(out)
