"""MixPE mixed-precision GEMM (Zhang et al., "MixPE: Quantization and Hardware Co-design for
Efficient LLM Inference", arXiv 2411.16158), numpy reference.

Computes ``A @ dequantize(W_q).T`` the way a MixPE processing element does (the abstract's two
ideas): the product of a low-bit integer weight and a higher-precision activation is formed by
**shift-and-add** over the weight's bits instead of a multiplier, the products of one
quantisation group of ``group_size`` weights along K are summed **before** any dequantisation
(integer partial sums for INT8 activations, floating point for FP16), and each (output, group)
partial sum is dequantised **once**, then accumulated across groups in FP32:

    P[m, n, g] = sum_{k in g} a[m, k] * q[n, k],   a * q = sum_b bit_b(q) * (a << b)
    S[m, g]    = sum_{k in g} a[m, k]                                   (only with zero points)
    out[m, n]  = sum_g  s[n, g] * (P[m, n, g] - z[n, g] * S[m, g])      (FP32, in group order)

which equals ``sum_k a * s * (q - z)``, i.e. the dequantised GEMM. The brief's form
``P*s - z*s*S`` is the same value; the zero point is subtracted before the scale here so that
the correction stays exact integer arithmetic for INT8 activations and the dequantiser needs a
single FP multiplier. Weights are unsigned codes with an optional per-group zero point (the
format of ``accelsim.functional.dequant``), or signed two's-complement values (``signed=True``,
no zero point; the most significant bit's shifted copy is subtracted).

Every action is counted while it is performed (the sizes of the arrays each step produces);
the counts equal ``mixpe_counts`` (closed form, used by the ``mixpe`` unit). For an
(M, K) x (N, K)^T problem with G = ceil(K / group_size) groups (1 for ``None``):

    products         = M*N*K                 one shift-add tree result per (m, n, k)
    bit_selects      = bits*M*N*K            weight bit b gates the activation (AND / mux)
    shift_adds       = (bits-1)*M*N*K        the tree: bits shifted copies, bits-1 adds
    partial_adds     = M*N*(K-G)             in-group accumulation (int32, or fp for FP16 acts)
    group_sum_adds   = M*(K-G)               S[m, g], shared by all N outputs (zero points only)
    zero_corrections = M*N*G                 P - z*S, one multiply-subtract (zero points only)
    scale_muls       = M*N*G                 one FP scale multiply per (output, group)
    accumulate_adds  = M*N*(G-1)             FP32 accumulation across groups

Memory is O(M N K): meant for the small shapes the tests check, not for real layers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

import numpy as np

from accelsim.functional.dequant import (check_activations, check_codes, check_int,
                                         group_params, is_int)
from accelsim.functional.lut import _segment_sum

#: widest weight the reference (and the unit) multiplies by shift-and-add
MAX_BITS = 8
ACT_DTYPES = ("int8", "fp16")
PRECISIONS = ("hw", "exact")
PARTIAL_DTYPES = ("fp32", "fp16")
INT32_MAX = 2 ** 31 - 1


@dataclass(frozen=True)
class MixpeCounts:
    """Actions of one MixPE mpGEMM (definitions and closed forms in the module docstring)."""

    products: int
    bit_selects: int
    shift_adds: int
    partial_adds: int
    group_sum_adds: int
    zero_corrections: int
    scale_muls: int
    accumulate_adds: int

    @property
    def dequant_ops(self) -> int:
        """Dequantisations: one per (output, group), i.e. the scale multiplies."""
        return self.scale_muls

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (field name -> int)."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class MixpeResult:
    """Output (M, N) of ``mixpe_mpgemm`` and the actions it performed."""

    out: np.ndarray
    counts: MixpeCounts


def mixpe_counts(M: int, N: int, K: int, bits: int, group_size: int | None = None, *,
                 zero_point: bool = True) -> MixpeCounts:
    """Closed-form action counts of ``mixpe_mpgemm`` (formulas in the module docstring).

    ``zero_point``: the weights carry a per-group zero point (unsigned codes with ``zeros``);
    False for signed (symmetric) weights or unsigned codes without zero points.
    """
    M, N, K = (check_int(v, name, 1) for v, name in ((M, "M"), (N, "N"), (K, "K")))
    bits = check_int(bits, "bits", 1, MAX_BITS)
    G = 1 if group_size is None else -(-K // check_int(group_size, "group_size", 1))
    zp = bool(zero_point)
    return MixpeCounts(
        products=M * N * K, bit_selects=bits * M * N * K, shift_adds=(bits - 1) * M * N * K,
        partial_adds=M * N * (K - G), group_sum_adds=M * (K - G) if zp else 0,
        zero_corrections=M * N * G if zp else 0, scale_muls=M * N * G,
        accumulate_adds=M * N * (G - 1))


def check_signed(W_q: np.ndarray, bits: int) -> np.ndarray:
    """Validated (N, K) signed weights as int64, in [-2**(bits-1), 2**(bits-1))."""
    W = np.asarray(W_q)
    if W.ndim != 2 or W.size == 0:
        raise ValueError(f"W_q must be a non-empty 2-D (N, K) array, got shape {W.shape}")
    if not np.issubdtype(W.dtype, np.integer):
        raise ValueError(f"W_q must hold signed integer weights (an integer dtype), got {W.dtype}")
    lo, hi = int(W.min()), int(W.max())
    top = 1 << (bits - 1)
    if lo < -top or hi >= top:
        raise ValueError(f"signed {bits}-bit weights must lie in [{-top}, {top - 1}], found "
                         f"values in [{lo}, {hi}]")
    return W.astype(np.int64)


def _act_kind(A: np.ndarray, act_dtype: str) -> str:
    """'int8' or 'fp16' for the activations (``auto``: integer arrays are int8)."""
    if act_dtype == "auto":
        act_dtype = "int8" if is_int(A) else "fp16"
    if act_dtype not in ACT_DTYPES:
        raise ValueError(f"act_dtype must be 'auto' or one of {ACT_DTYPES}, got {act_dtype!r}")
    if act_dtype == "int8":
        if not is_int(A):
            raise ValueError(f"act_dtype='int8' needs integer activations (quantise A first), "
                             f"got {A.dtype}")
        lo, hi = int(A.min()), int(A.max())
        if lo < -128 or hi > 127:
            raise ValueError(f"int8 activations must lie in [-128, 127], found [{lo}, {hi}]")
    return act_dtype


def _shift_add_products(A: np.ndarray, W: np.ndarray, bits: int, signed: bool,
                        c: dict[str, int]) -> np.ndarray:
    """Products (M, N, K) of A (M, K) and weights W (N, K) by shift-and-add over W's bits.

    Bit b of each weight (two's complement for signed weights) selects the activation shifted
    by b (``a * 2**b``: a wire shift for integers, an exponent increment for floats; not an
    arithmetic action); the selected copies are summed by a tree of ``bits - 1`` adders, the
    most significant one subtracted for signed weights.
    """
    U = W & ((1 << bits) - 1)
    P = None
    for b in range(bits):
        weight = -(1 << b) if signed and b == bits - 1 else 1 << b
        plane = ((U >> b) & 1).astype(A.dtype)                       # (N, K)
        term = A[:, None, :] * plane[None, :, :]                      # bit select
        c["bit_selects"] += term.size
        term = term * A.dtype.type(weight)                            # shift (and sign)
        if P is None:
            P = term
        else:
            P = P + term
            c["shift_adds"] += P.size
    assert P is not None
    c["products"] += P.size
    return P


def mixpe_mpgemm(A: np.ndarray, W_q: np.ndarray, scales: np.ndarray | None = None,
                 zeros: np.ndarray | None = None, group_size: int | None = None,
                 bits: int = 4, *, signed: bool = False, act_dtype: str = "auto",
                 precision: Literal["hw", "exact"] = "hw",
                 partial_dtype: Literal["fp32", "fp16"] = "fp32") -> MixpeResult:
    """``A @ dequantize(W_q, scales, zeros, group_size).T`` the MixPE way, with its counts.

    ``W_q`` (N, K): unsigned ``bits``-bit codes (``zeros``: optional (N, G) integer zero
    points), or with ``signed=True`` two's-complement values (no zero points). ``scales`` and
    ``zeros`` are (N, G), G = ceil(K / group_size), as in ``accelsim.functional.dequantize``.
    ``act_dtype``: 'int8' (integer A in [-128, 127]; exact integer shift-adds and partial
    sums, checked to fit int32), 'fp16' (A rounded to float16; shift-adds and partial sums in
    ``partial_dtype``), or 'auto' (from A's dtype).
    ``precision``: 'hw' dequantises and accumulates across groups in float32 (output
    float32, as the hardware); 'exact' uses int64 where A, scales and zeros are all integer,
    else float64, everywhere (the reference the tests compare with ``A @ dequant(W)``).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if partial_dtype not in PARTIAL_DTYPES:
        raise ValueError(f"partial_dtype must be one of {PARTIAL_DTYPES}, got {partial_dtype!r}")
    bits = check_int(bits, "bits", 2 if signed else 1, MAX_BITS)
    W = check_signed(W_q, bits) if signed else check_codes(W_q, bits)
    N, K = W.shape
    A = check_activations(A, K)
    M = A.shape[0]
    act = _act_kind(A, act_dtype)
    zero_point = zeros is not None
    if signed and zero_point:
        raise ValueError("signed weights take no zero point (zeros must be None)")
    s, z, gs = group_params(N, K, group_size, scales, zeros)
    integer = act == "int8"
    if integer and zero_point and not is_int(z):
        if not np.all(z == np.round(z)):
            raise ValueError("int8 activations need integer zero points (the correction "
                             "z * sum(A) is integer arithmetic)")
        z = z.astype(np.int64)
    c = {f.name: 0 for f in fields(MixpeCounts)}

    # 1. shift-and-add products and in-group partial sums (the PE array)
    if integer:
        pdt: type = np.int64                      # exact; the hardware's int32, checked below
    elif precision == "exact":
        pdt = np.float64
    else:
        pdt = np.float32 if partial_dtype == "fp32" else np.float16
    Ap = (A if integer else A.astype(np.float16)).astype(pdt)
    P = _shift_add_products(Ap, W, bits, signed, c)                   # (M, N, K)
    part = _segment_sum(P, gs, c, "partial_adds")                     # (M, N, G)
    if integer and precision == "hw" and int(np.abs(part).max()) > INT32_MAX:
        raise ValueError("a group's partial sum overflows the int32 group accumulator; use "
                         "smaller groups")

    # 2. one dequantisation per (output, group), then accumulation across groups
    if precision == "exact":
        ddt: type = np.int64 if integer and is_int(s) else np.float64
    else:
        ddt = np.float32
    if zero_point:
        S = _segment_sum(Ap, gs, c, "group_sum_adds")                 # (M, G), shared by all N
        if integer:                 # exact integer correction, then to the dequantiser's format
            x = (part - z.astype(np.int64)[None, :, :] * S[:, None, :]).astype(ddt)
        else:
            x = part.astype(ddt) - z.astype(ddt)[None, :, :] * S.astype(ddt)[:, None, :]
        c["zero_corrections"] += x.size
    else:
        x = part.astype(ddt)
    y = s.astype(ddt)[None, :, :] * x
    c["scale_muls"] += y.size
    out = y[..., 0]
    for g in range(1, y.shape[-1]):  # in group order, as the per-column accumulator sees them
        out = out + y[..., g]
        c["accumulate_adds"] += out.size
    return MixpeResult(out=out, counts=MixpeCounts(**c))
