"""LUT Tensor Core mixed-precision GEMM (Mo et al., ISCA'25, arXiv 2408.06003), numpy reference.

Computes ``A @ dequantize(W_q).T`` the way the modelled LUT dataflow does: per activation row and
K-group of ``k`` activations a table of partial sums is precomputed (Sec 3.1), weight bit planes
index it bit-serially (Sec 3.2.1), and scales/zero points are applied per quantisation group.
Every action is counted while it is performed (sizes of the arrays each step produces); the
counts equal ``lut_counts`` (closed form, used by the cost model):

    E  = 2**(k-1) if symmetric else 2**k     entries per table
    Gk = ceil(K / k)                         K-groups (K zero-padded to Gk*k)
    Gq = ceil(K / group_size), 1 for None    quantisation groups
    table_builds          = M*Gk                   one table per (activation row, K-group)
    table_entries_written = M*Gk*E
    precompute_adds       = M*Gk*E*(k-1)           each entry a k-input adder tree (k-1 adds)
                          + M*(Gk - Gq)            group activation sums from all-(+1) entries
    lookups               = bits*M*N*Gk            one per (bit plane, output, K-group)
    negations             = lookups if symmetric   every lookup passes the sign stage, else 0
    accumulate_adds       = bits*M*N*(Gk - Gq)     adder trees over the K-groups of each group
    shift_adds            = (bits-1)*M*N*Gq        acc += P_b * 2**b for planes b >= 1
    sum_corrections       = M*Gq + M*N*Gq if symmetric, else 0
                            ((2**bits-1)*S_g once per (row, group); one add per (output, group))
    scale_macs            = 2*M*N*Gq               x = acc - z*S_g; out += s*x
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from accelsim.functional.dequant import (check_activations, check_codes, check_int, dequantize,
                                         group_params, is_int)

TABLE_DTYPES = ("fp16", "int8", "exact")
MAX_BITS = 8
MAX_K = 8


@dataclass(frozen=True)
class LutCounts:
    """Actions of one LUT mpGEMM (definitions and closed forms in the module docstring)."""
    table_builds: int
    table_entries_written: int
    precompute_adds: int
    lookups: int
    negations: int
    accumulate_adds: int
    shift_adds: int
    sum_corrections: int
    scale_macs: int

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (field name -> int)."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class LutResult:
    """Output (M, N), the counted actions, and (int8 tables only) the relative table error."""
    out: np.ndarray
    counts: LutCounts
    table_quant_error: float | None = None


def _check_common(bits: int, k: int) -> tuple[int, int]:
    return check_int(bits, "bits", 1, MAX_BITS), check_int(k, "k", 1, MAX_K)


def lut_counts(M: int, N: int, K: int, bits: int, *, k: int = 4, symmetric: bool = True,
               group_size: int | None = None) -> LutCounts:
    """Closed-form action counts of ``lut_mpgemm`` (formulas in the module docstring)."""
    M, N, K = (check_int(v, name, 1) for v, name in ((M, "M"), (N, "N"), (K, "K")))
    bits, k = _check_common(bits, k)
    if group_size is not None:
        group_params(1, K, group_size, None, None, multiple_of=k)  # validates group_size
    E = 2 ** (k - 1) if symmetric else 2 ** k
    Gk = -(-K // k)
    Gq = 1 if group_size is None else -(-K // group_size)
    lookups = bits * M * N * Gk
    return LutCounts(
        table_builds=M * Gk, table_entries_written=M * Gk * E,
        precompute_adds=M * Gk * E * (k - 1) + M * (Gk - Gq),
        lookups=lookups, negations=lookups if symmetric else 0,
        accumulate_adds=bits * M * N * (Gk - Gq), shift_adds=(bits - 1) * M * N * Gq,
        sum_corrections=(M * Gq + M * N * Gq) if symmetric else 0, scale_macs=2 * M * N * Gq)


def _tree_sum(x: np.ndarray, counter: dict[str, int], key: str) -> np.ndarray:
    """Pairwise (adder-tree) sum over the last axis in x's dtype; L-1 adds per reduced vector."""
    while x.shape[-1] > 1:
        h = x.shape[-1] // 2
        s = x[..., :h] + x[..., h:2 * h]
        counter[key] += s.size
        x = np.concatenate([s, x[..., 2 * h:]], axis=-1)
    return x[..., 0]


def _segment_sum(x: np.ndarray, seg: int, counter: dict[str, int], key: str) -> np.ndarray:
    """Tree sums of consecutive runs of ``seg`` along the last axis (the last run may be short)."""
    L = x.shape[-1]
    full = L // seg
    parts = []
    if full:
        parts.append(_tree_sum(x[..., :full * seg].reshape(*x.shape[:-1], full, seg), counter, key))
    if L - full * seg:
        parts.append(_tree_sum(x[..., full * seg:], counter, key)[..., None])
    return np.concatenate(parts, axis=-1)


def _build_tables(Ag: np.ndarray, k: int, symmetric: bool, counter: dict[str, int]) -> np.ndarray:
    """Tables (M, Gk, E) from activation groups Ag (M, Gk, k), each entry a k-term adder tree.

    Conventional (UNPU-style): T[idx] = sum_i a_i * bit_i(idx), E = 2**k.
    Symmetric (Sec 3.1.2): bits {0,1} read as s = {-1,+1}; T'[j] = a_{k-1} + sum_{i<k-1} s_i(j) a_i,
    E = 2**(k-1): bit k-1 of the weight index is not stored but selects negation at lookup.
    """
    E = 2 ** (k - 1) if symmetric else 2 ** k
    bit = (np.arange(E)[:, None] >> np.arange(k)[None, :]) & 1  # (E, k)
    coef = 2 * bit - 1 if symmetric else bit
    if symmetric:
        coef[:, k - 1] = 1
    terms = Ag[:, :, None, :] * coef.astype(Ag.dtype)  # sign/select: wiring, not counted
    T = terms[..., 0]
    for i in range(1, k):  # sequential adds = the k-1 adds of one adder tree per entry
        T = T + terms[..., i]
        counter["precompute_adds"] += T.size
    counter["table_builds"] += T.shape[0] * T.shape[1]
    counter["table_entries_written"] += T.size
    return T


def _quantise_tables(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Table quantisation (Sec 3.1.3): each table to int8, scale max|T|/127, round to nearest."""
    amax = np.abs(T).max(axis=-1)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    return np.clip(np.rint(T / scale[..., None]), -127, 127).astype(np.int8), scale


def lut_mpgemm(A: np.ndarray, W_q: np.ndarray, bits: int, *, k: int = 4, symmetric: bool = True,
               table_dtype: str = "fp16", scales: np.ndarray | None = None,
               zeros: np.ndarray | None = None, group_size: int | None = None) -> LutResult:
    """``A @ dequantize(W_q).T`` through precomputed tables and bit-serial lookups, with counts.

    ``table_dtype``: "fp16" (entries, lookups and accumulation in float16, the scale/zero stage in
    float32; float32 output; mind fp16 overflow at 65504), "int8" (tables quantised per table and
    dequantised on accumulation in float64; sets ``table_quant_error``), or "exact" (float64, or
    int64 throughout when A, scales and zeros are all integer).
    """
    bits, k = _check_common(bits, k)
    if table_dtype not in TABLE_DTYPES:
        raise ValueError(f"table_dtype must be one of {TABLE_DTYPES}, got {table_dtype!r}")
    W = check_codes(W_q, bits)
    N, K = W.shape
    A = check_activations(A, K)
    M = A.shape[0]
    s, z, _ = group_params(N, K, group_size, scales, zeros, multiple_of=k)
    integer = table_dtype == "exact" and is_int(A) and is_int(s) and is_int(z)
    dt = np.int64 if integer else (np.float16 if table_dtype == "fp16" else np.float64)
    c = {f.name: 0 for f in fields(LutCounts)}

    # 1. pad K with zero activations / zero weight bits to Gk groups of k
    Gk = -(-K // k)
    seg = Gk if group_size is None else group_size // k  # K-groups per quantisation group
    Ap = np.zeros((M, Gk * k), dt)
    Ap[:, :K] = A
    Wp = np.zeros((N, Gk * k), np.int64)
    Wp[:, :K] = W
    Ag, Wg = Ap.reshape(M, Gk, k), Wp.reshape(N, Gk, k)

    # 2. table precompute per (row, K-group), shared by all N outputs (Sec 3.1.1-3.1.3)
    T = _build_tables(Ag, k, symmetric, c)
    tscale = None
    if table_dtype == "int8":
        T, tscale = _quantise_tables(T)
    # the last entry is all-(+1) (symmetric) / all-ones (conventional): sum(a) over the K-group;
    # summed per quantisation group it gives S_g, used by the symmetric and zero-point corrections
    ones = T[..., -1] if tscale is None else T[..., -1] * tscale
    S = _segment_sum(ones, seg, c, "precompute_adds")  # (M, Gq)

    # 3. bit-serial lookup (Sec 3.2.1): one k-bit index per (n, K-group) and bit plane
    jj = np.arange(Gk)
    place = 1 << np.arange(k)
    mask = 2 ** (k - 1) - 1
    acc = None
    for b in range(bits):
        idx = ((Wg >> b) & 1) @ place  # (N, Gk)
        if symmetric:  # convention: weight bit k-1 clear -> LUT[idx] = -LUT'[~idx & mask]
            neg = (idx >> (k - 1)) == 0
            sel = np.where(neg, ~idx & mask, idx & mask)
        else:
            sel = idx
        V = T[:, jj, sel]  # (M, N, Gk)
        c["lookups"] += V.size
        if symmetric:
            V = np.where(neg, -V, V)
            c["negations"] += V.size
        if tscale is not None:  # int8 tables: dequantised as they are accumulated
            V = V * tscale[:, None, :]
        P = _segment_sum(V, seg, c, "accumulate_adds")  # (M, N, Gq)
        if acc is None:
            acc = P
        else:  # exponent shift by b and add into the accumulator
            acc = acc + P * (2 ** b if integer else dt(2 ** b))
            c["shift_adds"] += acc.size

    # symmetric: a.w_b = (a.s_b + sum a) / 2, summed over planes: (acc + (2**bits-1) S_g) / 2
    if symmetric:
        Cg = S * ((2 ** bits - 1) if integer else dt(2 ** bits - 1))
        c["sum_corrections"] += Cg.size
        acc = acc + Cg[:, None, :]
        c["sum_corrections"] += acc.size
        acc = acc // 2 if integer else acc * dt(0.5)  # exact halving (the sum is even)

    # 4. per-group zero point and scale: out = sum_g s * (acc - z * S_g)
    fdt = np.int64 if integer else (np.float32 if table_dtype == "fp16" else np.float64)
    x = acc.astype(fdt) - z.astype(fdt)[None, :, :] * S.astype(fdt)[:, None, :]
    c["scale_macs"] += x.size
    y = s.astype(fdt)[None, :, :] * x
    c["scale_macs"] += y.size
    out = y.sum(axis=-1)

    err = None
    if table_dtype == "int8":
        exact = A.astype(np.float64) @ dequantize(W, s, z, group_size).astype(np.float64).T
        top = float(np.abs(exact).max())
        err = float(np.abs(out - exact).max()) / top if top > 0 else 0.0
    return LutResult(out=out, counts=LutCounts(**c), table_quant_error=err)
