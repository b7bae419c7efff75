"""Fit a GPU's documented efficiency values on one half of the measured cases.

Values are fitted in groups on the rows they govern (``GROUPS``: e.g. the bf16 GEMM overhead,
streaming fraction and MMA efficiency on the bf16 GEMMs, each vector kind's overhead with its
bandwidth fraction on its rows), each
group by Nelder-Mead on a log scale within its bounds, minimising the mean squared log error of
the full model's predictions; two sweeps over the groups. The rows are split per (kind, case name) in file order: even positions are fitted,
odd ones held out; whole-model rows are never fitted. Values with no rows keep the start set's
value, or copy a measured sibling (fp16 and tf32 take bf16's MMA efficiency; gelu and relu
silu's, copy add's, layernorm rmsnorm's), and the output says so.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..arch.device import arch_from_dict
from ..errors import AccelsimError
from ..pipeline import simulate
from .cases import Case
from .check import check, summary



@dataclass(frozen=True)
class Param:
    """One fitted value: its path in the calibration values, bounds, the rows it governs."""

    path: tuple[str, ...]
    lo: float
    hi: float
    rows: Callable[[Case], bool]

    @property
    def name(self) -> str:
        return ".".join(self.path)


def _gemm(dt: str, w: str | None = None, m_max: int | None = None, m_min: int | None = None
          ) -> Callable[[Case], bool]:
    def pick(c: Case) -> bool:
        f = c.fields
        if c.kind != "gemm" or f.get("dtype") != dt or (f.get("w_dtype") or dt) != (w or dt):
            return False
        m = int(float(f["m"]))
        return (m_max is None or m <= m_max) and (m_min is None or m >= m_min)
    return pick


def _vec(kind: str) -> Callable[[Case], bool]:
    return lambda c: c.kind == "vector" and c.fields.get("name") == kind


def _attn(decode: bool) -> Callable[[Case], bool]:
    return lambda c: c.kind == "attention" and (int(float(c.fields["q_len"])) <= 4) == decode


@dataclass(frozen=True)
class Group:
    """Values fitted together (Nelder-Mead on a log scale) on the rows they govern."""

    params: tuple[Param, ...]
    rows: Callable[[Case], bool]


def _g(rows: Callable[[Case], bool], *specs: tuple[tuple[str, ...], float, float]) -> Group:
    return Group(tuple(Param(path, lo, hi, rows) for path, lo, hi in specs), rows)


def _gemm_group(dt: str, cls: str, mma_lo: float) -> Group:
    return _g(_gemm(dt), (("gemm_overhead_us", cls), 0.5, 20),
              (("gemm_stream_fraction", cls), 0.1, 1.0), (("mma_efficiency", cls), mma_lo, 1.0))


GROUPS: tuple[Group, ...] = (
    _gemm_group("bf16", "bf16", 0.3),
    _gemm_group("fp8_e4m3", "fp8", 0.2),
    _gemm_group("int8", "int8", 0.1),
    _g(_gemm("bf16", "int4"), (("w4a16_overhead_us",), 0.3, 20),
       (("w4a16_stream_fraction",), 0.05, 1.0), (("w4a16_mma_efficiency",), 0.005, 0.5)),
    *(_g(_vec(k), (("vector", k, "overhead_us"), 0.3, 30), (("vector", k, "bw_fraction"), 0.02, 1.0))
      for k in ("add", "mul", "silu", "softmax", "rmsnorm", "rope")),
    _g(_attn(True), (("attention_decode", "overhead_us"), 0.5, 40),
       (("attention_decode", "bw_fraction"), 0.2, 1.0)),
    _g(_attn(False), (("attention_prefill", "overhead_us"), 0.5, 40),
       (("attention_prefill", "cta_overhead_us"), 0.01, 40),
       (("attention_prefill", "efficiency"), 0.1, 1.0)),
    _g(lambda c: c.kind == "moe_ffn" and c.fields.get("moe_kernel") == "grouped",
       (("grouped_overhead_us",), 0.5, 40), (("grouped_stream_fraction",), 0.1, 1.0),
       (("grouped_mma_efficiency",), 0.1, 1.0)),
)
PARAMS: tuple[Param, ...] = tuple(p for g in GROUPS for p in g.params)
#: values without measurements take a measured sibling's
SIBLINGS = {(k, c): (k, "bf16") for k in ("gemm_overhead_us", "gemm_stream_fraction",
                                          "mma_efficiency") for c in ("fp16", "tf32")} | {
    ("vector", "gelu"): ("vector", "silu"), ("vector", "relu"): ("vector", "silu"),
    ("vector", "copy"): ("vector", "add"), ("vector", "layernorm"): ("vector", "rmsnorm")}


def split(cases: Sequence[Case]) -> tuple[list[Case], list[Case]]:
    """(fit rows, held-out rows): alternating within each (kind, case name), in file order."""
    seen: dict[tuple[str, str], int] = {}
    fit, held = [], []
    for c in cases:
        key = (c.kind, c.fields.get("name", ""))
        i = seen.get(key, 0)
        seen[key] = i + 1
        (held if i % 2 else fit).append(c)
    models = [c for c in cases if c.kind == "model"]  # checks only: never fitted
    return [c for c in fit if c.kind != "model"], [c for c in held if c.kind != "model"] + models


class Fitter:
    """Predictions of a GPU device with some calibration values replaced."""

    def __init__(self, base: Any, unit: str) -> None:
        self.base, self.unit = base, unit
        self.resolved = base.resolved()
        self.values = _plain(base.units[unit].eff.model_dump())

    def device(self, values: dict[str, Any]) -> Any:
        d = self.resolved
        d = {**d, "units": {**d["units"], self.unit: {**d["units"][self.unit],
                                                       "efficiency": values}}}
        return arch_from_dict(d, name=f"{self.base.name} (fit)")

    def loss(self, values: dict[str, Any], rows: Sequence[Case]) -> float:
        dev = self.device(values)
        errs = [math.log(simulate(dev, c.trace, "analytical").latency_s * 1e6 / c.measured_us)
                for c in rows]
        return float(np.mean(np.square(errs))) if errs else 0.0


def fit(base: Any, cases: Sequence[Case], unit: str | None = None, sweeps: int = 2,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fitted calibration values, the rows used, and train / held-out error per kind."""
    unit = unit or next((n for n, u in base.units.items() if u.config.type == "gpu"), None)
    if unit is None:
        raise AccelsimError(f"device {base.name!r} has no unit of type gpu to fit")
    t0 = time.time()
    train, held = split(cases)
    f = Fitter(base, unit)
    values = f.values
    fitted, unused = [], []
    for sweep in range(sweeps):
        for g in GROUPS:
            rows = [c for c in train if g.rows(c)]
            names = [p.name for p in g.params]
            if not rows:
                unused += names if sweep == 0 else []
                continue
            values = _fit_group(f, values, g.params, rows)
            if sweep == 0:
                fitted += [f"{n} ({len(rows)} rows)" for n in names]
        if log:
            log(f"sweep {sweep + 1}/{sweeps} done ({time.time() - t0:.0f} s)")
    copied = []
    for dst, src in SIBLINGS.items():
        values = _set(values, dst, _get(values, src))
        copied.append(f"{'.'.join(dst)} = {'.'.join(src)}")
    dev = f.device(values)
    return {"values": values, "fitted": fitted, "not_fitted": unused, "copied": copied,
            "train_rows": len(train), "held_out_rows": len(held),
            "train_error": _errors(summary(check(dev, train))),
            "held_out_error": _errors(summary(check(dev, held))), "device": dev}


def _fit_group(f: Fitter, values: dict[str, Any], params: Sequence[Param],
               rows: Sequence[Case]) -> dict[str, Any]:
    """Values with ``params`` set to the minimiser of the loss on ``rows``."""
    lo = np.log([p.lo for p in params])
    hi = np.log([p.hi for p in params])

    def put(x: np.ndarray) -> dict[str, Any]:
        v = values
        for p, xi in zip(params, np.clip(x, lo, hi)):
            v = _set(v, p.path, float(f"{math.exp(xi):.4g}"))
        return v

    x0 = np.clip(np.log([_get(values, p.path) for p in params]), lo, hi)
    best = _nelder_mead(lambda x: f.loss(put(x), rows), x0, (hi - lo) * 0.25)
    return put(best)


def _nelder_mead(fn: Callable[[np.ndarray], float], x0: np.ndarray, step: np.ndarray,
                 iters: int = 120, tol: float = 1e-7) -> np.ndarray:
    """Minimiser of ``fn`` near ``x0`` (the classic reflect / expand / contract / shrink)."""
    n = len(x0)
    pts = [x0] + [x0 + np.eye(n)[i] * step[i] for i in range(n)]
    vals = [fn(p) for p in pts]
    for _ in range(iters):
        order = np.argsort(vals)
        pts, vals = [pts[i] for i in order], [vals[i] for i in order]
        if abs(vals[-1] - vals[0]) < tol:
            break
        c = np.mean(pts[:-1], axis=0)
        r = c + (c - pts[-1])
        fr = fn(r)
        if fr < vals[0]:
            e = c + 2 * (c - pts[-1])
            fe = fn(e)
            pts[-1], vals[-1] = (e, fe) if fe < fr else (r, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = r, fr
        else:
            k = c + 0.5 * (pts[-1] - c)
            fk = fn(k)
            if fk < vals[-1]:
                pts[-1], vals[-1] = k, fk
            else:
                pts = [pts[0]] + [pts[0] + 0.5 * (p - pts[0]) for p in pts[1:]]
                vals = [vals[0]] + [fn(p) for p in pts[1:]]
    return pts[int(np.argmin(vals))]


def _get(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    for p in path:
        values = values[p]
    return values


def _set(values: dict[str, Any], path: tuple[str, ...], x: Any) -> dict[str, Any]:
    """A copy of ``values`` with ``path`` set to ``x``."""
    out = dict(values)
    if len(path) == 1:
        out[path[0]] = x
    else:
        out[path[0]] = _set(dict(values.get(path[0], {})), path[1:], x)
    return out


def _plain(d: Any) -> Any:
    return {k: _plain(v) for k, v in d.items()} if isinstance(d, dict) else d


def _errors(df: Any) -> dict[str, dict[str, float]]:
    return {r["kind"]: {"cases": int(r["cases"]),
                        "median_abs_error": round(float(r["median_abs_error"]), 4),
                        "p90_abs_error": round(float(r["p90_abs_error"]), 4),
                        "median_error": round(float(r["median_error"]), 4)}
            for r in df.to_dict("records")}
