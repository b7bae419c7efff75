"""Dequantisation-based mixed-precision GEMM (the conventional baseline) and the weight-format
conventions every functional reference shares: unsigned codes, quantisation groups, scales, zero
points, ternary codes.

Weights: ``W[n, k] = scales[n, g] * (W_q[n, k] - zeros[n, g])`` with ``g = k // group_size``;
``group_size=None`` is one group over all of K (per output channel). ``scales``/``zeros`` are
(N, G), G = ceil(K / group_size); they default to 1 and 0.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

COMPUTE_DTYPES = ("fp16", "int8")
_MAX_BITS = {"fp16": 16, "int8": 8}  # int8 MACs take (W_q - zeros) codes of at most 8-bit weights


# --------------------------------------------------------------------------- validation helpers
def check_int(value: object, name: str, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi], else ValueError naming ``name``."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or value < lo or (hi is not None and value > hi):
        span = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an integer in {span}, got {value!r}")
    return int(value)


def check_codes(W_q: np.ndarray, bits: int | None = None) -> np.ndarray:
    """Validated (N, K) weight codes as int64; with ``bits``, codes must lie in [0, 2**bits)."""
    W = np.asarray(W_q)
    if W.ndim != 2 or W.size == 0:
        raise ValueError(f"W_q must be a non-empty 2-D (N, K) array, got shape {W.shape}")
    if not np.issubdtype(W.dtype, np.integer):
        raise ValueError(f"W_q must hold unsigned integer codes (an integer dtype), got {W.dtype}")
    lo, hi = int(W.min()), int(W.max())
    top = None if bits is None else (1 << bits) - 1
    if lo < 0 or (top is not None and hi > top):
        span = "[0, inf)" if top is None else f"[0, 2**{bits}) = [0, {top}]"
        raise ValueError(f"W_q codes must lie in {span}, found values in [{lo}, {hi}]")
    return W.astype(np.int64)


def check_activations(A: np.ndarray, K: int) -> np.ndarray:
    """Validated (M, K) activations: a float or integer dtype, finite, K matching the weights."""
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] == 0:
        raise ValueError(f"A must be a non-empty 2-D (M, K) array, got shape {A.shape}")
    if A.dtype == np.bool_ or not (np.issubdtype(A.dtype, np.floating)
                                   or np.issubdtype(A.dtype, np.integer)):
        raise ValueError(f"A must have a float or integer dtype, got {A.dtype}")
    if A.shape[1] != K:
        raise ValueError(f"shape mismatch: A is {A.shape} = (M, K) but W_q has K = {K} columns")
    if np.issubdtype(A.dtype, np.floating) and not np.all(np.isfinite(A)):
        raise ValueError("A must be finite (found inf or nan)")
    return A


def group_params(N: int, K: int, group_size: int | None, scales: np.ndarray | None,
                 zeros: np.ndarray | None, multiple_of: int = 1
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated ``(scales, zeros, gs)``: (N, G) arrays (defaults: integer 1 and 0) and the group
    size in K elements (K when ``group_size`` is None), a multiple of ``multiple_of``."""
    if group_size is None:
        gs = K
    else:
        gs = check_int(group_size, "group_size", 1)
        if gs % multiple_of:
            raise ValueError(f"group_size ({gs}) must be a multiple of the LUT group width "
                             f"k = {multiple_of}, or None (one group per output channel)")
    G = -(-K // gs)
    s = np.ones((N, G), np.int64) if scales is None else np.asarray(scales)
    z = np.zeros((N, G), np.int64) if zeros is None else np.asarray(zeros)
    for name, arr in (("scales", s), ("zeros", z)):
        if arr.shape != (N, G):
            raise ValueError(f"{name} must have shape (N, G) = ({N}, {G}) for K = {K}, "
                             f"group_size = {group_size}; got {arr.shape}")
        if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating)
                                         or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"{name} must be a float or integer array, got {arr.dtype}")
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (found inf or nan)")
    return s, z, gs


def is_int(arr: np.ndarray) -> bool:
    """Whether ``arr`` has an integer dtype (exact integer arithmetic is possible)."""
    return bool(np.issubdtype(np.asarray(arr).dtype, np.integer))


def expand_groups(arr: np.ndarray, gs: int, K: int) -> np.ndarray:
    """Per-group (N, G) values broadcast to per-element (N, K)."""
    return np.repeat(arr, gs, axis=1)[:, :K]


# --------------------------------------------------------------------------- public helpers
def dequantize(W_q: np.ndarray, scales: np.ndarray | None = None, zeros: np.ndarray | None = None,
               group_size: int | None = None) -> np.ndarray:
    """Dequantised weights ``scales[n, g] * (W_q[n, k] - zeros[n, g])``, (N, K); int64 when scales
    and zeros are integer, else float64 (the exact reference every test compares with)."""
    W = check_codes(W_q)
    N, K = W.shape
    s, z, gs = group_params(N, K, group_size, scales, zeros)
    dt = np.int64 if is_int(s) and is_int(z) else np.float64
    return expand_groups(s.astype(dt), gs, K) * (W.astype(dt) - expand_groups(z.astype(dt), gs, K))


def ternary_codes(W_ternary: np.ndarray, group_size: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """BitNet b1.58 weights {-1, 0, +1} as 2-bit codes {0, 1, 2} and zero points 1, (N, G)."""
    W = np.asarray(W_ternary)
    if W.ndim != 2 or W.size == 0:
        raise ValueError(f"W_ternary must be a non-empty 2-D (N, K) array, got shape {W.shape}")
    if not np.all(np.isin(W, (-1, 0, 1))):
        raise ValueError("W_ternary values must all be -1, 0 or +1")
    N, K = W.shape
    G = 1 if group_size is None else -(-K // check_int(group_size, "group_size", 1))
    return (W + 1).astype(np.uint8), np.ones((N, G), np.int64)


# --------------------------------------------------------------------------- dequant GEMM
@dataclass(frozen=True)
class DequantCounts:
    """Actions of the dequantisation path (see ``dequant_counts`` for the closed forms)."""
    dequant_ops: int  # weight elements converted to compute_dtype, once each: N*K
    macs: int         # multiply-accumulates of A by the dequantised weights: M*N*K
    scale_macs: int   # per-group scale multiply-adds after integer MACs: M*N*G (int8), 0 (fp16)

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (field name -> int)."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class DequantResult:
    """Output (M, N) of ``dequant_mpgemm`` and the actions it performed."""
    out: np.ndarray
    counts: DequantCounts


def dequant_counts(M: int, N: int, K: int, *, compute_dtype: str = "fp16",
                   group_size: int | None = None) -> DequantCounts:
    """Closed-form counts of ``dequant_mpgemm`` for an (M, K) x (N, K)^T problem."""
    M, N, K = (check_int(v, name, 1) for v, name in ((M, "M"), (N, "N"), (K, "K")))
    _check_compute_dtype(compute_dtype)
    G = 1 if group_size is None else -(-K // check_int(group_size, "group_size", 1))
    return DequantCounts(dequant_ops=N * K, macs=M * N * K,
                         scale_macs=M * N * G if compute_dtype == "int8" else 0)


def _check_compute_dtype(compute_dtype: str) -> None:
    if compute_dtype not in COMPUTE_DTYPES:
        raise ValueError(f"compute_dtype must be one of {COMPUTE_DTYPES}, got {compute_dtype!r}")


def _group_dot(A: np.ndarray, C: np.ndarray, gs: int) -> tuple[np.ndarray, int]:
    """Per-group partial dot products (M, N, G) of A (M, K) and C (N, K), and the MACs done."""
    (M, K), N = A.shape, C.shape[0]
    full, rest = K // gs, K % gs
    parts, macs = [], 0
    if full:
        a = A[:, :full * gs].reshape(M, full, gs)
        c = C[:, :full * gs].reshape(N, full, gs)
        parts.append(np.einsum("mgk,ngk->mng", a, c))
        macs += M * N * full * gs
    if rest:
        parts.append((A[:, full * gs:] @ C[:, full * gs:].T)[:, :, None])
        macs += M * N * rest
    return np.concatenate(parts, axis=-1), macs


def dequant_mpgemm(A: np.ndarray, W_q: np.ndarray, bits: int, *, compute_dtype: str = "fp16",
                   scales: np.ndarray | None = None, zeros: np.ndarray | None = None,
                   group_size: int | None = None) -> DequantResult:
    """``A @ dequantize(W_q).T`` the conventional way: dequantise each weight once, then MACs.

    ``compute_dtype="fp16"``: weights become fp16 ``s * (q - z)``, products of fp16 operands are
    accumulated in fp32 (as tensor cores do); output float32. ``"int8"``: integer activations and
    integer zero points required; integer codes ``q - z`` (bits <= 8), exact integer MACs per
    group, then the group scale applied (int64 output with integer scales, else float64).
    """
    _check_compute_dtype(compute_dtype)
    bits = check_int(bits, f"bits (compute_dtype={compute_dtype!r})", 1, _MAX_BITS[compute_dtype])
    W = check_codes(W_q, bits)
    N, K = W.shape
    A = check_activations(A, K)
    s, z, gs = group_params(N, K, group_size, scales, zeros)
    if compute_dtype == "fp16":
        W16 = (expand_groups(s.astype(np.float64), gs, K)
               * (W - expand_groups(z.astype(np.float64), gs, K))).astype(np.float16)
        A16 = A.astype(np.float16)
        out = A16.astype(np.float32) @ W16.astype(np.float32).T
        counts = DequantCounts(dequant_ops=W16.size, macs=A16.shape[0] * W16.shape[0] * K,
                               scale_macs=0)
        return DequantResult(out=out, counts=counts)
    if not is_int(A):
        raise ValueError("compute_dtype='int8' needs integer activations (quantise A first), "
                         f"got {A.dtype}")
    if not is_int(z):
        if not np.all(z == np.round(z)):
            raise ValueError("compute_dtype='int8' needs integer zero points")
        z = z.astype(np.int64)
    C = W - expand_groups(z.astype(np.int64), gs, K)  # integer codes (q - z), one op per weight
    partial, macs = _group_dot(A.astype(np.int64), C, gs)
    dt = np.int64 if is_int(s) else np.float64
    scaled = s.astype(dt)[None, :, :] * partial.astype(dt)
    out = scaled.sum(axis=-1)
    return DequantResult(out=out, counts=DequantCounts(dequant_ops=C.size, macs=macs,
                                                       scale_macs=scaled.size))
