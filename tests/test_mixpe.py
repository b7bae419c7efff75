"""MixPE (arXiv 2411.16158): the numpy reference equals A @ dequantize(W).T (exactly for integer
activations, within accumulation tolerance for FP16), the actions it counts equal the closed
forms ``mixpe_counts``, and the ``mixpe`` unit reports those counts, the systolic array's
timing and traffic, its dequantiser cycles, and prices through ``accelsim.simulate`` and the CLI.

fp16 tolerance. With unit roundoff u of the partial-sum format and gamma_d = d*u / (1 - d*u),
each value on the path passes at most d = (bits - 1) shift-adds + ceil(log2 gs) tree levels of
the group sum + the zero correction, scale and G - 1 accumulation roundings, so per element
    |out - exact| <= gamma_d * sum_k |a_k| * |s_g| * (q_k + z_g)      (d = bits + log2 gs + G + 3)
(the group sums S_g are bounded the same way). We assert that bound and a relative error.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import accelsim
from accelsim.cli import main
from accelsim.functional import dequantize, mixpe_counts, mixpe_mpgemm
from accelsim.functional.dequant import expand_groups
from accelsim.workload import Gemm, Trace

from conftest import ROOT

W4A8 = ROOT / "configs" / "mixpe" / "mixpe_w4a8.yaml"
W4A16 = ROOT / "configs" / "mixpe" / "mixpe_w4a16.yaml"
U = {"fp32": 2.0 ** -24, "fp16": 2.0 ** -11}


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([20250611, *key])


def _G(K: int, gs: int | None) -> int:
    return 1 if gs is None else -(-K // gs)


def _problem(rng, M, N, K, bits, gs, *, int_act=True, float_scales=False, signed=False):
    """Activations, weights, scales and (unsigned only) integer zero points for one case."""
    A = (rng.integers(-128, 128, (M, K)) if int_act
         else rng.standard_normal((M, K)).astype(np.float16))
    G = _G(K, gs)
    if signed:
        W = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), (N, K))
        z = None
    else:
        W = rng.integers(0, 2 ** bits, (N, K)).astype(np.uint8)
        z = rng.integers(0, 2 ** bits, (N, G))
    s = rng.uniform(0.25, 2.0, (N, G)) if float_scales else rng.integers(1, 4, (N, G))
    return A, W, s, z


def _dequant(W, s, z, gs, bits, signed):
    """The exact dequantised weights, through the shared helper (signed: offset codes)."""
    if signed:
        off = 2 ** (bits - 1)
        return dequantize(W + off, s, np.full(s.shape, off), gs)
    return dequantize(W, s, z, gs)


# --------------------------------------------------------------------------- reference: exact
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("gs", [None, 4, 8])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("K", [13, 16])
def test_integer_activations_exact_and_counts(bits, gs, signed, K):
    M, N = 3, 5
    A, W, s, z = _problem(_rng(bits, K, gs or 0, signed), M, N, K, bits, gs, signed=signed)
    exact = A @ _dequant(W, s, z, gs, bits, signed).T
    r = mixpe_mpgemm(A, W, s, z, gs, bits, signed=signed, precision="exact")
    assert r.out.dtype == np.int64
    np.testing.assert_array_equal(r.out, exact)
    assert r.counts == mixpe_counts(M, N, K, bits, gs, zero_point=not signed)
    hw = mixpe_mpgemm(A, W, s, z, gs, bits, signed=signed)       # fp32 dequant + accumulation
    assert hw.out.dtype == np.float32 and hw.counts == r.counts
    np.testing.assert_array_equal(hw.out, exact.astype(np.float32))  # |values| < 2**24: exact


def test_float_scales_and_no_zero_points():
    M, N, K, bits, gs = 4, 6, 24, 4, 8
    A, W, s, z = _problem(_rng(1), M, N, K, bits, gs, float_scales=True)
    r = mixpe_mpgemm(A, W, s, z, gs, bits, precision="exact")
    np.testing.assert_allclose(r.out, A @ dequantize(W, s, z, gs).T, rtol=1e-12, atol=1e-9)
    r = mixpe_mpgemm(A, W, s, None, gs, bits, precision="exact")   # unsigned, no zero point
    np.testing.assert_allclose(r.out, A @ dequantize(W, s, None, gs).T, rtol=1e-12, atol=1e-9)
    assert r.counts == mixpe_counts(M, N, K, bits, gs, zero_point=False)
    assert r.counts.zero_corrections == r.counts.group_sum_adds == 0


@pytest.mark.parametrize("partial_dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("bits, K, gs", [(2, 13, None), (4, 64, 16), (4, 256, 128),
                                         (8, 96, 32)])
def test_fp16_activations_within_accumulation_tolerance(partial_dtype, bits, K, gs):
    M, N = 4, 8
    A, W, s, z = _problem(_rng(5, bits, K), M, N, K, bits, gs, int_act=False, float_scales=True)
    A64 = A.astype(np.float64)
    exact = A64 @ dequantize(W, s, z, gs).T
    ref = mixpe_mpgemm(A, W, s, z, gs, bits, precision="exact")
    np.testing.assert_allclose(ref.out, exact, rtol=1e-12, atol=1e-12)
    r = mixpe_mpgemm(A, W, s, z, gs, bits, partial_dtype=partial_dtype)
    assert r.out.dtype == np.float32 and r.counts == mixpe_counts(M, N, K, bits, gs)
    err = np.abs(r.out - exact)
    rel = err.max() / np.abs(exact).max()
    assert 0 < rel < (1e-5 if partial_dtype == "fp32" else 1e-2)   # > 0: really rounded
    G, g = _G(K, gs), math.ceil(math.log2(gs or K))
    d = bits + g + G + 3
    gamma = d * U[partial_dtype] / (1 - d * U[partial_dtype])
    mag = expand_groups(np.abs(s), gs or K, K) * (W + expand_groups(z, gs or K, K))
    assert np.all(err <= gamma * (np.abs(A64) @ mag.T) + 1e-30)


# --------------------------------------------------------------------------- reference: counts
@pytest.mark.parametrize("M,N,K,bits,gs", [
    (1, 1, 1, 2, None), (3, 5, 13, 2, 4), (2, 7, 24, 3, 6), (5, 3, 33, 4, 9),
    (2, 2, 10, 8, 3), (4, 6, 40, 4, 40), (3, 4, 17, 8, None), (2, 3, 7, 1, 1)])
@pytest.mark.parametrize("mode", ["int", "int_signed", "fp16", "fp16_partials"])
def test_counted_actions_equal_closed_form(M, N, K, bits, gs, mode):
    signed = mode == "int_signed" and bits >= 2
    A, W, s, z = _problem(_rng(7, K, bits), M, N, K, bits, gs, int_act=mode.startswith("int"),
                          float_scales=True, signed=signed)
    kw = {"partial_dtype": "fp16"} if mode == "fp16_partials" else {}
    r = mixpe_mpgemm(A, W, s, z, gs, bits, signed=signed, **kw)
    assert r.counts == mixpe_counts(M, N, K, bits, gs, zero_point=z is not None)
    exact = A.astype(np.float64) @ _dequant(W, s, z, gs, bits, signed).T
    assert np.abs(r.out - exact).max() <= 1e-2 * np.abs(exact).max() + 1e-12


def test_closed_form_values():
    M, N, K, bits, gs = 2, 3, 13, 4, 8
    G = 2
    c = mixpe_counts(M, N, K, bits, gs)
    assert c.as_dict() == {
        "products": M * N * K, "bit_selects": bits * M * N * K,
        "shift_adds": (bits - 1) * M * N * K, "partial_adds": M * N * (K - G),
        "group_sum_adds": M * (K - G), "zero_corrections": M * N * G, "scale_muls": M * N * G,
        "accumulate_adds": M * N * (G - 1)}
    assert c.dequant_ops == M * N * G
    sym = mixpe_counts(M, N, K, bits, gs, zero_point=False)
    assert sym.zero_corrections == sym.group_sum_adds == 0 and sym.scale_muls == c.scale_muls
    assert mixpe_counts(M, N, K, bits).accumulate_adds == 0   # per channel: one group


def test_reference_rejects_bad_inputs():
    A = _rng(13).integers(-8, 8, (2, 8))
    W = _rng(14).integers(0, 4, (3, 8))
    with pytest.raises(ValueError, match=r"bits must be an integer in 1\.\.8, got 9"):
        mixpe_mpgemm(A, W, bits=9)
    with pytest.raises(ValueError, match=r"bits must be an integer in 2\.\.8"):
        mixpe_mpgemm(A, W - 2, bits=1, signed=True)
    with pytest.raises(ValueError, match=r"signed 2-bit weights must lie in \[-2, 1\]"):
        mixpe_mpgemm(A, W, bits=2, signed=True)
    with pytest.raises(ValueError, match="no zero point"):
        mixpe_mpgemm(A, W - 2, zeros=np.zeros((3, 1), int), bits=2, signed=True)
    with pytest.raises(ValueError, match="codes must lie"):
        mixpe_mpgemm(A, W, bits=1)
    with pytest.raises(ValueError, match=r"int8 activations must lie in \[-128, 127\]"):
        mixpe_mpgemm(A * 100, W, bits=2)
    with pytest.raises(ValueError, match="integer activations"):
        mixpe_mpgemm(A.astype(np.float32), W, bits=2, act_dtype="int8")
    with pytest.raises(ValueError, match="integer zero points"):
        mixpe_mpgemm(A, W, zeros=np.full((3, 1), 0.5), bits=2)
    with pytest.raises(ValueError, match=r"scales must have shape \(N, G\) = \(3, 2\)"):
        mixpe_mpgemm(A, W, np.ones((3, 1)), None, 4, 2)
    with pytest.raises(ValueError, match="precision"):
        mixpe_mpgemm(A, W, bits=2, precision="fp64")
    with pytest.raises(ValueError, match="shape mismatch"):
        mixpe_mpgemm(A[:, :7], W, bits=2)
    big = np.full((1, 70_000), 127)
    with pytest.raises(ValueError, match="overflows the int32"):
        mixpe_mpgemm(big, np.full((1, 70_000), 255, np.uint8), bits=8)
    assert mixpe_mpgemm(big, np.full((1, 70_000), 255, np.uint8), bits=8,
                        precision="exact").out[0, 0] == 127 * 255 * 70_000


# --------------------------------------------------------------------------- the unit
def _dev(cfg=W4A8, *overrides: str):
    return accelsim.load_arch(cfg, overrides=list(overrides))


def _gemm(m=6, n=130, k=256, w="int4", a="int8", gs=128, **kw) -> Gemm:
    return Gemm("g", m=m, n=n, k=k, dtype=a, w_dtype=w, out_dtype="bf16", group_size=gs,
                b_shared=True, **kw)


@pytest.mark.parametrize("cfg, a, w, gs, zp, df", [
    (W4A8, "int8", "int4", 128, True, "os"), (W4A8, "int8", "int2", None, False, "ws"),
    (W4A8, "int8", "int3", 64, True, "is"), (W4A16, "fp16", "int4", 64, True, "ws"),
    (W4A16, "fp16", "int2", 32, False, "os")])
def test_unit_actions_equal_the_reference_algorithm(cfg, a, w, gs, zp, df):
    """The unit's arithmetic actions for a GEMM are what mixpe_mpgemm counts doing it."""
    M, N, K = 6, 70, 192
    bits = int(w[3:])
    dev = _dev(cfg, "units.mixpe.group_size=32", f"units.mixpe.dataflow={df}",
               f"units.mixpe.zero_point={str(zp).lower()}")
    act = dev.units["mixpe"].cost(_gemm(M, N, K, w, a, gs)).actions
    A, W, s, z = _problem(_rng(21, bits), M, N, K, bits, gs, int_act=a == "int8",
                          float_scales=True)
    ref = mixpe_mpgemm(A, W, s, z if zp else None, gs, bits)
    c = ref.counts
    assert c == mixpe_counts(M, N, K, bits, gs, zero_point=zp)
    assert act["mixpe_products"] == c.products
    assert act["mixpe_bit_selects"] == c.bit_selects
    assert act["mixpe_shift_adds"] == c.shift_adds
    assert act["mixpe_partial_adds"] == c.partial_adds
    assert act["mixpe_scale_muls"] == c.scale_muls
    assert act["mixpe_accumulate_adds"] == c.accumulate_adds
    assert act.get("mixpe_zero_corrections", 0) == c.zero_corrections
    assert act.get("mixpe_group_sum_adds", 0) == c.group_sum_adds


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("m", [16, 300])
def test_timing_and_traffic_are_the_systolic_arrays(df, m):
    """Same folds, cycles and DRAM bytes as a systolic array of that shape and those SRAMs."""
    dev = _dev(W4A8, f"units.mixpe.dataflow={df}", "units.mixpe.dequant_pipeline=0")
    unit = dev.units["mixpe"]
    sa = accelsim.arch_from_dict({
        "name": "sa", "clock_ghz": 0.5, "tech_node_nm": 28, "units": {"sa": {
            "type": "systolic_array", "rows": 64, "cols": 64, "dataflow": df, "pe_dtype": "int8",
            "sram": {"ifmap_kb": 256, "filter_kb": 128, "ofmap_kb": 128}}},
        "memory": {"dram": {"bandwidth_bytes_per_cycle": 128}}}).units["sa"]
    op = _gemm(m, 1024, 4096)
    mine, ref = unit.cost(op), sa.cost(op)
    assert mine.detail["dequant_exposed_cycles"] == 0
    assert mine.compute_cycles == ref.compute_cycles
    assert mine.detail["folds"] == ref.detail["folds"]
    for t, u in zip(mine.tiles.traffic, ref.tiles.traffic):
        assert t.operand == u.operand and t.totals == u.totals
    b = next(t for t in mine.tiles.traffic if t.operand == "B").totals[0]
    assert b >= 1024 * 4096 * (0.5 + 2 / 128)            # int4 weights + fp16 group scales
    assert mine.peak.macs == 64 * 64 and mine.macs == m * 1024 * 4096


def test_dequantiser_cycles_hidden_exposed_or_serialised():
    """D = M N G ops on C dequantisers (os): hidden while <= the array's cycles."""
    op = _gemm(64, 64, 1024, gs=16)
    base = _dev(W4A8, "units.mixpe.group_size=16", "units.mixpe.dequant_pipeline=0")
    c = base.units["mixpe"].cost(op)
    array = c.compute_cycles - c.detail["dequant_exposed_cycles"]
    dq = 64 * 64 * (1024 // 16) / 64
    assert c.detail["dequant_cycles"] == dq and c.detail["dequantizers"] == 64
    assert dq > array and c.detail["dequant_exposed_cycles"] == dq - array   # gs < rows
    ser = _dev(W4A8, "units.mixpe.group_size=16", "units.mixpe.dequant_pipeline=0",
               "units.mixpe.dequant_overlap=false").units["mixpe"].cost(op)
    assert ser.compute_cycles == pytest.approx(array + dq)
    hid = _dev(W4A8).units["mixpe"].cost(_gemm(64, 64, 1024, gs=128))
    assert hid.detail["dequant_exposed_cycles"] == 0 and "hidden" in hid.kernel
    ws = _dev(W4A8, "units.mixpe.dataflow=ws", "units.mixpe.group_size=16").units["mixpe"]
    assert ws.dequantizers() == 64 * 4                   # a tap every 16 of the 64 rows


def test_unsupported_ops_and_configs_are_clear_errors():
    unit = _dev().units["mixpe"]
    v = unit.accepts(_gemm(w="fp16", gs=None))
    assert not v and "floating point" in v.reason
    v = unit.accepts(_gemm(w="int8"))
    assert not v and "wider than this unit's weight_dtype int4" in v.reason
    v = unit.accepts(_gemm(a="bf16"))
    assert not v and "act_dtype int8" in v.reason
    v = unit.accepts(_gemm(gs=96))
    assert not v and "not a multiple of the unit's group_size 128" in v.reason
    assert unit.accepts(_gemm(w="ternary", gs=None))
    v = _dev(W4A16).units["mixpe"].accepts(_gemm(a="bf16"))
    assert not v and "act_dtype fp16" in v.reason                    # bf16's exponent
    with pytest.raises(accelsim.ConfigError, match="weight_dtype must be one of int2, int4"):
        _dev(W4A8, "units.mixpe.weight_dtype=fp16")
    with pytest.raises(accelsim.ConfigError, match="act_dtype must be one of int8, fp16"):
        _dev(W4A8, "units.mixpe.act_dtype=int4")


def test_simulate_prices_the_unit():
    ops = [Gemm("qkv_proj", m=16, n=1536, k=512, dtype="int8", w_dtype="int4",
                out_dtype="bf16", group_size=128, b_shared=True),
           Gemm("attn", m=16, n=512, k=128, dtype="bf16", batch=4),
           Gemm("o_proj", m=16, n=512, k=512, dtype="int8", w_dtype="int4", out_dtype="bf16",
                group_size=128, b_shared=True)]
    res = accelsim.simulate(_dev(), Trace.from_ops("t", ops))
    units = dict(zip(res.per_op["op"], res.per_op["unit"]))
    assert units == {"qkv_proj": "mixpe", "attn": "sa", "o_proj": "mixpe"}
    s = res.summary()
    assert s["energy_j"] > 0 and s["area_mm2"] > 0
    keys = set(res.cost.energy_by_component)
    for comp in ("pe_shift_add", "pe_group_acc", "dq_scale_mul", "dq_zero_correct",
                 "weights_sram"):
        assert f"mixpe.{comp}" in keys
    assert all(res.per_op["energy_j"] > 0)
    assert "dequant" in res.per_op[res.per_op["op"] == "qkv_proj"]["kernel"].iloc[0]


@pytest.mark.parametrize("cfg, act", [(W4A8, "int8"), (W4A16, "fp16")])
def test_cli_runs_a_zoo_model(cfg, act, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", str(cfg), "opt-6.7b", "--phase", "decode", "--batch", "4", "--ctx",
                 "128", "--weight-bits", "4", "--act-dtype", act, "--group-size", "128",
                 "--json", str(out)]) == 0
    assert "mixpe" in capsys.readouterr().out
    d = json.loads(out.read_text())
    rows = [r for r in d["per_op"] if r["unit"] == "mixpe"]
    assert {r["op"] for r in rows} >= {"qkv_proj", "o_proj", "fc1", "fc2"}
    assert d["energy_j"] > 0 and all("dequant" in r["kernel"] for r in rows)
