"""LUT Tensor Core unit: peak, timing formula, action counts equal to the numpy reference's,
the table precompute pass (placement, pinning, fusion) and clear rejections."""
from __future__ import annotations

import math

import numpy as np
import pytest

import accelsim
from accelsim.functional import lut_mpgemm
from accelsim.workload import Gemm, LutTables, Trace, Vector

from conftest import ROOT

CFG = ROOT / "configs" / "lut" / "lut_tc_int8.yaml"


def _dev(*overrides: str):
    return accelsim.load_arch(CFG, overrides=list(overrides))


def _gemm(m=4, n=128, k=64, w="int2", a="int8", **kw) -> Gemm:
    return Gemm("g", m=m, n=n, k=k, dtype=a, w_dtype=w, out_dtype="bf16", b_shared=True, **kw)


def test_peak_is_mnk_over_weight_bits_per_tile():
    lut = _dev().units["lut"]
    assert lut.peak(("int8", "int1")).macs == 16 * 2 * 64 * 4
    assert lut.peak(("int8", "int2")).macs == 16 * 512 / 2
    assert lut.peak(("int8", "ternary")).macs == 16 * 512 / 2   # ternary runs as W_INT2
    assert lut.peak(("int8", "int4")).macs == 16 * 512 / 4


@pytest.mark.parametrize("m, n, k, w", [(1, 4096, 4096, "int1"), (2048, 1024, 512, "int2"),
                                        (7, 100, 13, "int3"), (64, 64, 256, "ternary")])
def test_gemm_cycles_follow_the_tile_formula(m, n, k, w):
    """compute = ceil(ceil(M/2) ceil(N/64) / tiles) x ceil(K/4) x W_BIT + pipeline depth."""
    lut = _dev().units["lut"]
    c = lut.cost(_gemm(m, n, k, w))
    planes = {"int1": 1, "int2": 2, "int3": 3, "ternary": 2}[w]
    waves = math.ceil(math.ceil(m / 2) * math.ceil(n / 64) / 16)
    assert c.compute_cycles == waves * math.ceil(k / 4) * planes + 2
    assert c.macs == m * n * k


@pytest.mark.parametrize("bits, symmetric, negation, group_size", [
    (1, True, "eliminated", None), (2, True, "circuit", 8), (3, False, "circuit", None),
    (4, True, "eliminated", 4)])
def test_action_counts_equal_the_reference_algorithm(bits, symmetric, negation, group_size):
    """The unit's actions for a GEMM and its tables are what lut_mpgemm counts doing it."""
    rng = np.random.default_rng(bits)
    M, N, K = 6, 130, 13 if group_size is None else 16
    A = rng.integers(-128, 128, size=(M, K))
    W = rng.integers(0, 2 ** bits, size=(N, K))
    G = 1 if group_size is None else K // group_size
    ref = lut_mpgemm(A, W, bits, k=4, symmetric=symmetric, table_dtype="exact",
                     scales=np.ones((N, G)), zeros=np.zeros((N, G), dtype=int),
                     group_size=group_size)
    assert np.array_equal(ref.out, A @ W.T)           # the algorithm is right
    dev = _dev(f"units.lut.symmetric={str(symmetric).lower()}", f"units.lut.negation={negation}")
    lut = dev.units["lut"]
    op = _gemm(M, N, K, f"int{bits}", group_size=group_size)
    act = lut.cost(op).actions
    c = ref.counts
    assert act["lut_lookups"] == c.lookups
    assert act["lut_accumulate_adds"] == c.accumulate_adds
    assert act["lut_shift_adds"] == c.shift_adds
    assert act["lut_sum_corrections"] == c.sum_corrections
    assert act["lut_scale_macs"] == c.scale_macs
    assert act.get("lut_negations", 0) == (c.negations if negation == "circuit" else 0)
    tables = lut.tables_for(op)
    assert tables.tables() == c.table_builds
    assert tables.tables() * tables.entries == c.table_entries_written
    assert tables.table_adds() + act["lut_group_sum_adds"] == c.precompute_adds
    # each table is written into the tile registers once per 64-column N tile
    assert act["lut_entry_writes"] == c.table_entries_written * math.ceil(N / 64)


def _llama_layer_ops():
    return [Vector("attn_norm", op="rmsnorm", rows=8, cols=512, dtype="int8"),
            Gemm("qkv", m=8, n=1536, k=512, dtype="int8", w_dtype="ternary", out_dtype="bf16",
                 b_shared=True),
            Gemm("attn", m=8, n=512, k=512, dtype="bf16", b_shared=False),
            Gemm("o_proj", m=8, n=512, k=512, dtype="int8", w_dtype="ternary",
                 out_dtype="bf16", b_shared=True)]


def test_precompute_pass_inserts_tables_and_pins_the_gemm(tmp_path):
    res = accelsim.simulate(_dev(), Trace.from_ops("t", _llama_layer_ops()))
    ops = list(res.per_op["op"])
    assert ops == ["attn_norm", "qkv.tables", "qkv", "attn", "o_proj.tables", "o_proj"]
    units = dict(zip(res.per_op["op"], res.per_op["unit"]))
    assert units["qkv"] == units["o_proj"] == "lut" and units["attn"] == "sa"
    kinds = dict(zip(res.per_op["op"], res.per_op["kind"]))
    assert kinds["qkv.tables"] == "lut_tables"
    # pinned elsewhere by the mapping: the tables go to the vector unit
    cfg = tmp_path / "d.yaml"
    cfg.write_text(f"extends: {CFG}\nmapping:\n  pins: {{'*.tables': vec}}\n")
    res = accelsim.simulate(accelsim.load_arch(cfg), Trace.from_ops("t", _llama_layer_ops()))
    units = dict(zip(res.per_op["op"], res.per_op["unit"]))
    assert units["qkv.tables"] == units["o_proj.tables"] == "vec"


def test_fusion_builds_tables_in_the_preceding_elementwise_op():
    dev = _dev("mapping.fusion.lut_precompute_fusion=true")
    res = accelsim.simulate(dev, Trace.from_ops("t", _llama_layer_ops()))
    ops = list(res.per_op["op"])
    # the norm builds qkv's tables; o_proj's input comes from a GEMM: its tables stay separate
    assert ops == ["attn_norm", "qkv", "attn", "o_proj.tables", "o_proj"]
    row = res.per_op[res.per_op["op"] == "attn_norm"].iloc[0]
    assert row["kind"] == "lut_tables" and row["unit"] == "vec"
    fused = LutTables("x", rows=8, cols=512, dtype="int8", fused="rmsnorm", entry_bits=10)
    plain = Vector("x", op="rmsnorm", rows=8, cols=512, dtype="int8")
    assert fused.flops() == plain.flops() + 8 * 128 * 8 * 3
    assert fused.operand_bytes()["out"] == 8 * 128 * 8 * 10 / 8


def test_unsupported_ops_are_rejected_with_reasons():
    lut = _dev().units["lut"]
    v = lut.accepts(Gemm("g", m=1, n=64, k=64, dtype="int8", w_dtype="bf16"))
    assert not v and "not low-bit" in v.reason
    v = lut.accepts(_gemm(a="fp16"))
    assert not v and "act_dtype int8" in v.reason
    v = lut.accepts(LutTables("t", rows=1, cols=8, fused="rmsnorm", entry_bits=10))
    assert not v and "vector unit" in v.reason
    with pytest.raises(accelsim.ConfigError, match="act_dtype"):
        _dev("units.lut.act_dtype=fp64")


def test_dequant_mac_baseline_keeps_low_bit_bytes_and_charges_each_weight():
    """The conventional mpGEMM path: a systolic array with weight_dequant."""
    sa = ROOT / "configs" / "sa128_bf16_hbm.yaml"
    op = Gemm("g", m=16, n=1024, k=512, dtype="bf16", w_dtype="int4", b_shared=True)
    plain = accelsim.load_arch(sa).units["sa"]   # int4 values are exact on bf16 PEs: no charge
    assert "dequant_ops" not in plain.cost(op).actions
    dq = accelsim.load_arch(sa, overrides=["units.sa.weight_dequant=true"]).units["sa"]
    c = dq.cost(op)
    assert c.actions["dequant_ops"] == 1024 * 512      # ws, weights enter once
    b = next(t for t in c.tiles.traffic if t.operand == "B")
    assert b.totals[0] == 1024 * 512 * 0.5             # 4-bit bytes from DRAM
    ref = accelsim.load_arch(sa).units["sa"].cost(
        Gemm("g", m=16, n=1024, k=512, dtype="bf16", b_shared=True))
    assert c.compute_cycles == ref.compute_cycles
    assert "dequant" in {comp.name for comp in dq.components()}


def test_bit_serial_add_array_is_the_k1_lut_without_a_table_generator():
    """configs/lut/bitserial_add.yaml: one add per weight bit and activation, no table to
    build (no lut_tables op, no generator adders), cycles = waves x K x W_BIT."""
    dev = accelsim.load_arch(ROOT / "configs" / "lut" / "bitserial_add.yaml")
    lut = dev.units["lut"]
    assert "table_gen" not in {c.name for c in lut.components()}
    c = lut.cost(_gemm(m=4, n=128, k=64, w="int2"))
    waves = math.ceil(math.ceil(4 / 2) * math.ceil(128 / 64) / 64)
    assert c.compute_cycles == waves * 64 * 2 + 2
    # one add per weight bit and activation (the first of each output initialises it)
    assert c.actions["lut_accumulate_adds"] + c.actions["lut_shift_adds"] == 4 * 128 * (64 * 2 - 1)
    assert "lut_table_gen_adds" not in c.actions and lut.tables_for(_gemm()) is None
