"""Functional references (accelsim.functional): the LUT Tensor Core mpGEMM and the dequantisation
baseline compute A @ dequantize(W).T, and the actions they count equal the closed forms.

fp16 tolerance. With unit roundoff u = 2**-11 and gamma_d = d*u / (1 - d*u), every fp16 value on
the LUT path has passed at most d = (k-1) table adds + ceil(log2 Gk) tree levels + (bits-1)
shift-adds + 3 correction roundings (we allow k + ceil(log2 Gk) + bits + 3). Each lookup is
bounded by sum|a| over its K-group, so per element
    |out - exact| <= 2 * gamma_d * (2**bits - 1) * sum_g |s_g| * sum_{k in g} |a_k|
(the factor 2: the plane sums plus the (2**bits-1)*S_g and z*S_g corrections). That worst case is
loose (~0.2 of max|exact| for W4, K=256); roundings are independent, so the observed relative
error max|out - exact| / max|exact| is ~1e-3 for K <= 256 (random-walk growth, ~u*sqrt(d)*...).
We assert both: the per-element worst-case bound and relative error < 1e-2.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.functional import (dequant_counts, dequant_mpgemm, dequantize, lut_counts,
                                 lut_mpgemm, ternary_codes)

U16 = 2.0 ** -11
FP16_REL_TOL = 1e-2


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([20250601, *key])


def _n_groups(K: int, gs: int | None) -> int:
    return 1 if gs is None else -(-K // gs)


def _problem(rng, M, N, K, bits, gs, *, int_act=True, float_scales=False):
    """Random activations, codes, (float) scales and integer zero points for one case."""
    if int_act:
        A = rng.integers(-128, 128, (M, K))
    else:
        A = rng.standard_normal((M, K)).astype(np.float16)
    W = rng.integers(0, 2 ** bits, (N, K)).astype(np.uint8)
    G = _n_groups(K, gs)
    z = rng.integers(0, 2 ** bits, (N, G))
    s = rng.uniform(0.25, 2.0, (N, G)) if float_scales else None
    return A, W, s, z


# --------------------------------------------------------------------------- LUT: correctness
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
@pytest.mark.parametrize("gs", [None, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("K", [13, 16])
def test_lut_exact_integer_matches_and_counts(bits, gs, symmetric, K):
    M, N = 3, 5
    A, W, _, z = _problem(_rng(bits, K, gs or 0), M, N, K, bits, gs)
    r = lut_mpgemm(A, W, bits, symmetric=symmetric, table_dtype="exact", zeros=z, group_size=gs)
    assert r.out.dtype == np.int64
    np.testing.assert_array_equal(r.out, A @ dequantize(W, None, z, gs).T)
    assert r.counts == lut_counts(M, N, K, bits, symmetric=symmetric, group_size=gs)
    assert r.table_quant_error is None


def test_lut_float_scales_exact_mode():
    M, N, K, bits, gs = 4, 6, 24, 3, 8
    A, W, s, z = _problem(_rng(1), M, N, K, bits, gs, float_scales=True)
    r = lut_mpgemm(A, W, bits, table_dtype="exact", scales=s, zeros=z, group_size=gs)
    np.testing.assert_allclose(r.out, A @ dequantize(W, s, z, gs).T, rtol=1e-12, atol=1e-9)


def test_lut_symmetric_equals_conventional():
    M, N, K, bits = 4, 7, 21, 4
    A, W, s, z = _problem(_rng(2), M, N, K, bits, None, int_act=False, float_scales=True)
    a, b = (lut_mpgemm(A, W, bits, symmetric=sym, table_dtype="exact", scales=s, zeros=z)
            for sym in (True, False))
    np.testing.assert_allclose(a.out, b.out, rtol=1e-12, atol=1e-12)
    Ai = _rng(3).integers(-128, 128, (M, K))
    a, b = (lut_mpgemm(Ai, W, bits, symmetric=sym, table_dtype="exact", zeros=z)
            for sym in (True, False))
    np.testing.assert_array_equal(a.out, b.out)


def test_lut_ternary():
    M, N, K = 3, 8, 29
    rng = _rng(4)
    Wt = rng.integers(-1, 2, (N, K))
    codes, zeros = ternary_codes(Wt)
    assert set(np.unique(codes)) <= {0, 1, 2} and zeros.shape == (N, 1) and np.all(zeros == 1)
    np.testing.assert_array_equal(dequantize(codes, None, zeros), Wt)
    Ai = rng.integers(-128, 128, (M, K))
    r = lut_mpgemm(Ai, codes, 2, table_dtype="exact", zeros=zeros)
    np.testing.assert_array_equal(r.out, Ai @ Wt.T)
    assert r.counts == lut_counts(M, N, K, 2)
    Af = rng.standard_normal((M, K)).astype(np.float16)
    scale = np.full((N, 1), 0.7)
    r16 = lut_mpgemm(Af, codes, 2, scales=scale, zeros=zeros)
    exact = Af.astype(np.float64) @ (0.7 * Wt).T
    assert np.abs(r16.out - exact).max() / np.abs(exact).max() < FP16_REL_TOL
    gcodes, gzeros = ternary_codes(Wt, group_size=8)
    assert gzeros.shape == (N, 4)
    np.testing.assert_array_equal(
        lut_mpgemm(Ai, gcodes, 2, table_dtype="exact", zeros=gzeros, group_size=8).out, Ai @ Wt.T)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
@pytest.mark.parametrize("K", [13, 64, 256])
@pytest.mark.parametrize("symmetric", [True, False])
def test_lut_fp16_within_accumulation_tolerance(bits, K, symmetric):
    M, N, k, gs = 4, 8, 4, (None if K == 13 else 16)
    A, W, s, z = _problem(_rng(5, bits, K), M, N, K, bits, gs, int_act=False, float_scales=True)
    r = lut_mpgemm(A, W, bits, k=k, symmetric=symmetric, table_dtype="fp16", scales=s, zeros=z,
                   group_size=gs)
    assert r.out.dtype == np.float32
    A64 = A.astype(np.float64)
    exact = A64 @ dequantize(W, s, z, gs).T
    err = np.abs(r.out - exact)
    assert 0 < err.max() / np.abs(exact).max() < FP16_REL_TOL  # > 0: really fp16 arithmetic
    Gk = -(-K // k)
    d = k + math.ceil(math.log2(Gk)) + bits + 3
    gamma = d * U16 / (1 - d * U16)
    g_of_k = np.arange(K) // (gs or K)
    abs_a_g = np.stack([np.abs(A64[:, g_of_k == g]).sum(1) for g in range(s.shape[1])], 1)
    bound = 2 * gamma * (2 ** bits - 1) * (abs_a_g @ np.abs(s).T)
    assert np.all(err <= bound)


def test_lut_int8_table_quantisation_error():
    M, N, K, bits = 4, 8, 64, 4
    A, W, s, z = _problem(_rng(6), M, N, K, bits, 16, int_act=False, float_scales=True)
    for symmetric in (True, False):
        r = lut_mpgemm(A, W, bits, symmetric=symmetric, table_dtype="int8", scales=s, zeros=z,
                       group_size=16)
        exact = A.astype(np.float64) @ dequantize(W, s, z, 16).T
        assert r.table_quant_error == pytest.approx(
            np.abs(r.out - exact).max() / np.abs(exact).max())
        assert 0 < r.table_quant_error < 0.05
        assert r.counts == lut_counts(M, N, K, bits, symmetric=symmetric, group_size=16)
    assert lut_mpgemm(A, W, bits, table_dtype="fp16").table_quant_error is None


# --------------------------------------------------------------------------- LUT: counts
@pytest.mark.parametrize("M,N,K,bits,k,gs", [
    (1, 1, 1, 1, 4, None), (3, 5, 13, 2, 4, 4), (2, 7, 24, 3, 2, 6), (5, 3, 33, 4, 3, 9),
    (2, 2, 10, 8, 1, 3), (4, 6, 40, 5, 4, 12), (3, 4, 17, 6, 8, None)])
@pytest.mark.parametrize("symmetric", [True, False])
def test_lut_counts_equal_closed_form(M, N, K, bits, k, gs, symmetric):
    A, W, s, z = _problem(_rng(7, K, k), M, N, K, bits, gs, int_act=False, float_scales=True)
    exact = A.astype(np.float64) @ dequantize(W, s, z, gs).T
    for dt, rel in (("exact", 1e-12), ("fp16", FP16_REL_TOL), ("int8", 0.05)):
        r = lut_mpgemm(A, W, bits, k=k, symmetric=symmetric, table_dtype=dt, scales=s, zeros=z,
                       group_size=gs)
        assert r.counts == lut_counts(M, N, K, bits, k=k, symmetric=symmetric, group_size=gs)
        assert np.abs(r.out - exact).max() <= rel * np.abs(exact).max()


def test_lut_table_sizes_and_closed_form_values():
    M, N, K, bits = 2, 3, 13, 4
    Gk, Gq = 4, 2
    sym, conv = (lut_counts(M, N, K, bits, symmetric=v, group_size=8) for v in (True, False))
    assert sym.table_builds == conv.table_builds == M * Gk
    assert conv.table_entries_written == M * Gk * 2 ** 4
    assert sym.table_entries_written == M * Gk * 2 ** 3
    assert sym.precompute_adds == M * Gk * 8 * 3 + M * (Gk - Gq)
    assert sym.lookups == conv.lookups == bits * M * N * Gk
    assert sym.negations == sym.lookups and conv.negations == 0
    assert sym.accumulate_adds == bits * M * N * (Gk - Gq)
    assert sym.shift_adds == (bits - 1) * M * N * Gq
    assert sym.sum_corrections == M * Gq + M * N * Gq and conv.sum_corrections == 0
    assert sym.scale_macs == 2 * M * N * Gq
    assert set(sym.as_dict()) == {"table_builds", "table_entries_written", "precompute_adds",
                                  "lookups", "negations", "accumulate_adds", "shift_adds",
                                  "sum_corrections", "scale_macs"}


# --------------------------------------------------------------------------- dequant baseline
@pytest.mark.parametrize("gs", [None, 4, 8])
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_dequant_int8_exact_and_counts(gs, bits):
    M, N, K = 3, 5, 13
    A, W, _, z = _problem(_rng(8, bits), M, N, K, bits, gs)
    r = dequant_mpgemm(A, W, bits, compute_dtype="int8", zeros=z, group_size=gs)
    np.testing.assert_array_equal(r.out, A @ dequantize(W, None, z, gs).T)
    assert r.counts == dequant_counts(M, N, K, compute_dtype="int8", group_size=gs)
    assert r.counts.scale_macs == M * N * _n_groups(K, gs) and r.counts.macs == M * N * K
    A, W, s, z = _problem(_rng(9, bits), M, N, K, bits, gs, float_scales=True)
    r = dequant_mpgemm(A, W, bits, compute_dtype="int8", scales=s, zeros=z, group_size=gs)
    np.testing.assert_allclose(r.out, A @ dequantize(W, s, z, gs).T, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("gs", [None, 8])
def test_dequant_fp16_close_and_counts(gs):
    M, N, K, bits = 4, 6, 40, 4
    A, W, s, z = _problem(_rng(10), M, N, K, bits, gs, int_act=False, float_scales=True)
    r = dequant_mpgemm(A, W, bits, scales=s, zeros=z, group_size=gs)
    exact = A.astype(np.float64) @ dequantize(W, s, z, gs).T
    assert np.abs(r.out - exact).max() / np.abs(exact).max() < 2e-3  # fp16 weights, fp32 acc
    assert r.counts == dequant_counts(M, N, K, group_size=gs)
    assert r.counts.as_dict() == {"dequant_ops": N * K, "macs": M * N * K, "scale_macs": 0}


def test_dequant_int8_rejects_wide_weights():
    A = _rng(11).integers(-128, 128, (2, 8))
    W = _rng(12).integers(0, 2 ** 9, (3, 8))
    dequant_mpgemm(A, W, 9)  # fp16 holds 9-bit codes exactly
    with pytest.raises(ValueError, match=r"bits .*int8.* 1\.\.8"):
        dequant_mpgemm(A, W, 9, compute_dtype="int8")
    with pytest.raises(ValueError, match="integer activations"):
        dequant_mpgemm(A.astype(np.float32), W % 16, 4, compute_dtype="int8")


# --------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors():
    A = _rng(13).integers(-8, 8, (2, 8))
    W = _rng(14).integers(0, 4, (3, 8))
    with pytest.raises(ValueError, match=r"bits must be an integer in 1\.\.8, got 0"):
        lut_mpgemm(A, W, 0)
    with pytest.raises(ValueError, match=r"bits must be an integer in 1\.\.8, got 9"):
        lut_mpgemm(A, W, 9)
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 2\*\*1\)"):
        lut_mpgemm(A, W, 1)
    with pytest.raises(ValueError, match="codes must lie"):
        lut_mpgemm(A, W - 1, 2)
    with pytest.raises(ValueError, match="integer codes"):
        lut_mpgemm(A, W.astype(float), 2)
    with pytest.raises(ValueError, match="shape mismatch"):
        lut_mpgemm(A[:, :7], W, 2)
    with pytest.raises(ValueError, match="shape mismatch"):
        dequant_mpgemm(A[:, :7], W, 2)
    with pytest.raises(ValueError, match="multiple of the LUT group width k = 4"):
        lut_mpgemm(A, W, 2, group_size=6)
    with pytest.raises(ValueError, match="multiple of the LUT group width"):
        lut_counts(2, 3, 8, 2, k=4, group_size=2)
    with pytest.raises(ValueError, match=r"scales must have shape \(N, G\) = \(3, 2\)"):
        lut_mpgemm(A, W, 2, group_size=4, scales=np.ones((3, 1)))
    with pytest.raises(ValueError, match="table_dtype"):
        lut_mpgemm(A, W, 2, table_dtype="bf16")
    with pytest.raises(ValueError, match="compute_dtype"):
        dequant_mpgemm(A, W, 2, compute_dtype="fp8")
    with pytest.raises(ValueError, match="-1, 0 or \\+1"):
        ternary_codes(np.array([[0, 2]]))
