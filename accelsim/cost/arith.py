"""Arithmetic at 45 nm as a function of operand width, built from Horowitz's ISSCC 2014 table.

All functions return 45 nm values (pJ, um^2); callers scale to the design node.

* Integer adder (ripple/prefix): linear in width through Horowitz's 8- and 32-bit points,
  ``X(b) = X8 + (X32 - X8) * (b - 8) / 24``. It predicts 0.053 pJ / 69.7 um^2 at 16 bits, close
  to the 0.05 pJ / 67 um^2 the reference notes attribute to Horowitz (unverified, not used).
* Integer multiplier (array): a power of the partial-product count ``a*b``,
  ``X(a, b) = X8 * (a*b / 64) ** (beta / 2)``, beta fitted on the 8x8 and 32x32 points
  (energy beta = 1.98, area beta = 1.82: close to the quadratic array-multiplier law).
* Floating point (no peer library has it): an exponent adder (an integer adder of e+1 bits)
  plus a significand datapath whose cost grows as ``k * w ** beta`` with w = mantissa + 1 (the
  significand multiplier for FMUL; alignment shifter, significand adder, normaliser and rounding
  for FADD). ``k`` and ``beta`` are fitted per op and per quantity on Horowitz's fp16 and fp32
  points, which the model therefore reproduces exactly; bf16, tf32 and fp8 follow from their
  (e, m). Fitted exponents: FADD energy 1.07, area 1.45; FMUL energy 1.57, area 2.00 (shifters
  and adders ~ w log w, multipliers ~ w^2).
* MAC = multiplier(operand) + adder(accumulator), not fused (Horowitz lists separate ops).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ..errors import AccelsimError
from ..workload.dtypes import DType, dtype
from . import techlib

#: exponent bits of the float formats (the IR stores only total and mantissa bits)
EXPONENT_BITS = {"fp32": 8, "tf32": 8, "fp16": 5, "bf16": 8, "fp8_e4m3": 4, "fp8_e5m2": 5}
#: accumulator format of a MAC whose multiplier takes a given kind of operand
DEFAULT_ACC = {"int": "int32", "float": "fp32"}


def _v(component: str, action: str, **params: object) -> float:
    return techlib.get(component, action, **params).value


def int_add(bits: float, what: str = "energy") -> float:
    """Integer adder of ``bits`` at 45 nm: energy (pJ) or area (um^2)."""
    act = "add" if what == "energy" else "area"
    x8, x32 = _v("int_adder", act, bits=8), _v("int_adder", act, bits=32)
    return x8 + (x32 - x8) * (bits - 8) / 24.0


@lru_cache(maxsize=None)
def _int_mul_beta(what: str) -> float:
    act = "mul" if what == "energy" else "area"
    return math.log(_v("int_multiplier", act, bits=32) / _v("int_multiplier", act, bits=8)) \
        / math.log(32 * 32 / 64) * 2


def int_mul(a_bits: float, b_bits: float, what: str = "energy") -> float:
    """Integer multiplier of ``a_bits`` x ``b_bits`` at 45 nm: energy (pJ) or area (um^2)."""
    act = "mul" if what == "energy" else "area"
    return _v("int_multiplier", act, bits=8) * (a_bits * b_bits / 64.0) ** (_int_mul_beta(what) / 2)


def float_format(d: DType) -> tuple[int, int]:
    """(exponent bits, significand width m+1) of a float dtype."""
    e = EXPONENT_BITS.get(d.name)
    if e is None:
        raise AccelsimError(f"no floating-point cost model for dtype {d.name!r}; modelled "
                            f"formats: {', '.join(EXPONENT_BITS)}")
    return e, d.mantissa_bits + 1


@dataclass(frozen=True)
class PowerFit:
    """``k * w ** beta``: a fitted significand-datapath term (w = significand width)."""

    k: float
    beta: float

    def __call__(self, w: float) -> float:
        return self.k * w ** self.beta


@lru_cache(maxsize=None)
def fp_fit(op: str, what: str) -> PowerFit:
    """Fit of the significand term of ``op`` ('add' or 'mul') on Horowitz's fp16/fp32 points."""
    comp = {"add": "fp_adder", "mul": "fp_multiplier"}[op]
    act = op if what == "energy" else "area"
    pts = []
    for fmt in ("fp16", "fp32"):
        e, w = float_format(dtype(fmt))
        pts.append((w, _v(comp, act, format=fmt) - int_add(e + 1, what)))
    (w1, y1), (w2, y2) = pts
    beta = math.log(y2 / y1) / math.log(w2 / w1)
    return PowerFit(y1 / w1 ** beta, beta)


def fp_op(op: str, d: DType, what: str = "energy") -> float:
    """Float ``op`` ('add' or 'mul') in format ``d`` at 45 nm: energy (pJ) or area (um^2)."""
    e, w = float_format(d)
    return int_add(e + 1, what) + fp_fit(op, what)(w)


def op_cost(op: str, d: DType, what: str = "energy") -> float:
    """One add or multiply on operands of dtype ``d`` (int or float) at 45 nm."""
    if d.is_float:
        return fp_op(op, d, what)
    return int_add(d.bits, what) if op == "add" else int_mul(d.bits, d.bits, what)


def mac(pe: str | DType, acc: str | DType | None = None, what: str = "energy") -> float:
    """MAC = multiply in ``pe`` + accumulate in ``acc`` (default int32 / fp32), 45 nm."""
    p = dtype(pe)
    a = dtype(acc) if acc is not None else dtype(DEFAULT_ACC[p.kind])
    return op_cost("mul", p, what) + op_cost("add", a, what)


def fit_summary() -> dict[str, float]:
    """The fitted exponents (for docs and ``techlib show``)."""
    out = {f"int_mul_beta_{w}": _int_mul_beta(w) for w in ("energy", "area")}
    for op in ("add", "mul"):
        for w in ("energy", "area"):
            out[f"fp_{op}_beta_{w}"] = fp_fit(op, w).beta
    return out
