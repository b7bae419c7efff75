"""MixPE's baselines (issue 11): the BitFusion-, ANT- and OLAccel-like units and the INT8 / FP16
dequantise-then-MAC configs. Each unit costs GEMMs through ``accelsim.simulate`` with the
throughput relations of its paper, and times them as the systolic array it is built on (a
virtual (R pf_a) x (C pf_w) array for the fused PEs). Its action counts follow the documented
formulas, and unsupported formats are clear errors."""
from __future__ import annotations

import math

import pytest

import accelsim
from accelsim.arch.units.bitfusion import lane_bits
from accelsim.workload import Gemm, Trace

from conftest import ROOT

CFG = ROOT / "configs" / "mixpe"


def _dev(name: str, *overrides: str):
    return accelsim.load_arch(CFG / name, overrides=list(overrides))


def _gemm(m=64, n=1024, k=2048, a="int8", w="int4", gs=128, name="g") -> Gemm:
    return Gemm(name, m=m, n=n, k=k, dtype=a, w_dtype=w, out_dtype=a, group_size=gs,
                b_shared=True)


def _sa(rows, cols, pe="int8", sram=(256, 128, 128)):
    return accelsim.arch_from_dict({
        "name": "ref", "clock_ghz": 0.5, "tech_node_nm": 28, "units": {"sa": {
            "type": "systolic_array", "rows": rows, "cols": cols, "dataflow": "os",
            "pe_dtype": pe, "sram": dict(zip(("ifmap_kb", "filter_kb", "ofmap_kb"), sram))}},
        "memory": {"dram": {"bandwidth_bytes_per_cycle": 128}}}).units["sa"]


# ----------------------------------------------------------------------------- BitFusion
def test_bitfusion_throughput_scales_with_the_operand_widths():
    """(8/a)(8/w) products per fusion unit: 4x4 four times, 8x4 twice as fast as 8x8."""
    unit = _dev("bitfusion_w4a8.yaml", "units.bitfusion.min_bits=2").units["bitfusion"]
    c88 = unit.cost(_gemm(a="int8", w="int8", gs=None))
    c84 = unit.cost(_gemm(a="int8", w="int4", gs=None))
    c44 = unit.cost(_gemm(a="int4", w="int4", gs=None))
    c22 = unit.cost(_gemm(m=256, a="int2", w="int2", gs=None))
    assert c44.compute_cycles < c84.compute_cycles < c88.compute_cycles
    assert c88.compute_cycles / c84.compute_cycles == pytest.approx(2, rel=0.05)
    assert c88.compute_cycles / c44.compute_cycles == pytest.approx(4, rel=0.05)
    assert c44.peak.macs == 4 * 32 * 40 and c22.peak.macs == 16 * 32 * 40
    assert unit.peak(("int4", "int4")).macs == 4 * unit.peak().macs
    # group-wise int4 weights are dequantised to 8 bits: the 8x8 rate, dequantisers charged
    g = unit.cost(_gemm(a="int8", w="int4", gs=128))
    assert g.compute_cycles == c88.compute_cycles and g.actions["dequant_ops"] > 0
    assert "weights dequantised" in g.kernel and "dequant_ops" not in c84.actions


@pytest.mark.parametrize("a, w, pa, pw", [("int8", "int8", 1, 1), ("int4", "int4", 2, 2),
                                          ("int8", "int4", 1, 2), ("int3", "int2", 2, 2)])
def test_bitfusion_timing_is_the_virtual_systolic_array(a, w, pa, pw):
    """Folds, cycles and DRAM bytes of a (R pa) x (C pw) systolic array with the same SRAMs;
    bricks and tree adds per product as documented."""
    unit = _dev("bitfusion_w4a8.yaml").units["bitfusion"]
    op = _gemm(m=100, n=700, k=1536, a=a, w=w, gs=None)
    mine, ref = unit.cost(op), _sa(32 * pa, 40 * pw).cost(op)
    assert mine.compute_cycles == ref.compute_cycles
    assert mine.detail["folds"] == ref.detail["folds"]
    for t, u in zip(mine.tiles.traffic, ref.tiles.traffic):
        assert t.operand == u.operand and t.totals == u.totals
    P = 100 * 700 * 1536
    la, lw = lane_bits(int(a[3:]), 4, 8), lane_bits(int(w[3:]), 4, 8)
    beta = (la // 2) * (lw // 2)
    act = mine.actions
    assert act["bitfusion_brick_muls"] == beta * P and act["bitfusion_accumulates"] == P
    tree = sum(v for k, v in act.items() if k.startswith("bitfusion_tree_l"))
    assert tree == pytest.approx((beta - 1) * P)


def test_bitfusion_prices_through_simulate_and_rejects_what_it_cannot_run():
    dev = _dev("bitfusion_w4a8.yaml")
    ops = [_gemm(name="qkv_proj"), Gemm("attn", m=64, n=128, k=128, dtype="bf16", batch=4),
           _gemm(name="o_proj", n=512, k=1024)]
    res = accelsim.simulate(dev, Trace.from_ops("t", ops))
    assert dict(zip(res.per_op.op, res.per_op.unit)) == {"qkv_proj": "bitfusion",
                                                         "attn": "sa", "o_proj": "bitfusion"}
    keys = set(res.cost.energy_by_component)
    assert {"bitfusion.pe_bricks", "bitfusion.pe_tree_l4", "bitfusion.pe_acc",
            "bitfusion.dequant", "bitfusion.weights_sram"} <= keys
    assert res.summary()["energy_j"] > 0 and res.summary()["area_mm2"] > 0
    unit = dev.units["bitfusion"]
    v = unit.accepts(_gemm(a="bf16"))
    assert not v and "floating point" in v.reason and "act_dtype int8" in v.reason
    v = unit.accepts(_gemm(w="fp16", gs=None))
    assert not v and "weights fp16 are floating point" in v.reason
    v = unit.accepts(_gemm(a="int16", gs=None))
    assert not v and "wider than max_bits 8" in v.reason
    v = _dev("bitfusion_w4a8.yaml", "units.bitfusion.weight_dequant=false").units[
        "bitfusion"].accepts(_gemm())
    assert not v and "need weight_dequant: true" in v.reason
    with pytest.raises(accelsim.ConfigError, match="min_bits must be a power of two"):
        _dev("bitfusion_w4a8.yaml", "units.bitfusion.min_bits=3")


# ----------------------------------------------------------------------------- ANT
def test_ant_runs_its_own_formats_blended_by_the_int8_fraction():
    op = _gemm(m=256, n=2048, k=2048)
    cyc = {}
    for f in (0.0, 0.2, 1.0):
        c = _dev("ant_w4a8.yaml", f"units.ant.int8_fraction={f}").units["ant"].cost(op)
        cyc[f] = c
    c4, c8, mix = cyc[0.0], cyc[1.0], cyc[0.2]
    assert c8.compute_cycles / c4.compute_cycles == pytest.approx(4, rel=0.05)
    assert mix.compute_cycles == pytest.approx(0.8 * c4.compute_cycles + 0.2 * c8.compute_cycles)
    for k in ("ant_muls", "ant_shift_adds", "weights_sram_read_bits"):
        assert mix.actions[k] == pytest.approx(0.8 * c4.actions[k] + 0.2 * c8.actions[k])
    P = op.macs()
    assert c4.actions["ant_muls"] == P and c8.actions["ant_muls"] == 4 * P
    assert "ant_decodes" in c4.actions and "ant_decodes" not in c8.actions
    b4 = next(t for t in c4.tiles.traffic if t.operand == "B").totals[0]
    assert b4 == pytest.approx(2048 * 2048 / 2)      # per-channel W4: no group scales
    assert "80% W4A4 + 20% W8A8" in mix.kernel
    # 8-bit weights stay at 8 bits; fp16 activations are quantised by ANT; fp weights refused
    unit = _dev("ant_w4a8.yaml").units["ant"]
    assert unit.cost(_gemm(w="int8", gs=None)).compute_cycles == \
        _dev("ant_w4a8.yaml", "units.ant.int8_fraction=1").units["ant"].cost(
            _gemm(w="int8", gs=None)).compute_cycles
    assert unit.accepts(_gemm(a="fp16"))
    v = unit.accepts(_gemm(a="bf16", w="bf16", gs=None))
    assert not v and "floating point" in v.reason
    v = unit.accepts(_gemm(a="int16"))
    assert not v and "integers of up to 8 bits" in v.reason


# ----------------------------------------------------------------------------- OLAccel
def test_olaccel_dense_array_and_outlier_path():
    dev = _dev("olaccel_w4a8.yaml")
    unit = dev.units["olaccel"]
    op = _gemm(m=128, n=1024, k=1024)
    c = unit.cost(op)
    q = Gemm("g", m=128, n=1024, k=1024, dtype="int4", w_dtype="int4", out_dtype="int8",
             b_shared=True)
    ref = _sa(64, 64, "int4").cost(q)
    assert c.tiles.compute.sum() == ref.tiles.compute.sum()     # dense: the systolic array's
    f, P = 0.03, op.macs()
    share = 1 - (1 - f) ** 2
    assert c.actions["olaccel_outlier_macs"] == pytest.approx(share * P)
    assert c.actions["olaccel_dense_macs"] == pytest.approx((1 - share) * P)
    assert c.detail["outlier_exposed_cycles"] == 0 and "hidden" in c.kernel
    assert unit.outlier_units() == math.ceil(64 * 64 * share)
    grow = 1 + f * (16 + 10) / 4                                  # value + log2(K) position
    for t, u in zip(c.tiles.traffic, ref.tiles.traffic):
        scale = grow if t.operand in ("A", "B") else 1.0
        assert t.totals[0] == pytest.approx(u.totals[0] * scale)
    # too few outlier MACs: their cycles show at the end
    few = _dev("olaccel_w4a8.yaml", "units.olaccel.outlier_macs=16").units["olaccel"].cost(op)
    assert few.detail["outlier_exposed_cycles"] == pytest.approx(
        math.ceil(share * P / 16) - ref.compute_cycles)
    assert few.compute_cycles > c.compute_cycles
    none = _dev("olaccel_w4a8.yaml", "units.olaccel.outlier_fraction=0").units[
        "olaccel"].cost(op)
    assert none.actions["olaccel_outlier_macs"] == 0
    v = unit.accepts(_gemm(w="int8", gs=None))
    assert not v and "wider than OLAccel's 4-bit dense MACs" in v.reason
    v = unit.accepts(_gemm(a="bf16", w="bf16", gs=None))
    assert not v and "floating point" in v.reason


# ----------------------------------------------------------------------------- all baselines
@pytest.mark.parametrize("cfg, main, act", [
    ("int8_w4a8.yaml", "int8", "int8"), ("fp16_w4a16.yaml", "fp16", "fp16"),
    ("bitfusion_w4a8.yaml", "bitfusion", "int8"), ("ant_w4a8.yaml", "ant", "int8"),
    ("olaccel_w4a8.yaml", "olaccel", "int8")])
def test_baseline_configs_run_a_decoder_block(cfg, main, act):
    """Linear layers on the main unit (pins), attention on the helper array, energy per op."""
    ops = [_gemm(name="qkv_proj", a=act, n=1536, k=512),
           Gemm("attn", m=16, n=128, k=64, dtype=act if act == "fp16" else "bf16", batch=8),
           _gemm(name="fc1", a=act, n=2048, k=512), _gemm(name="fc2", a=act, n=512, k=2048)]
    res = accelsim.simulate(_dev(cfg), Trace.from_ops("block", ops))
    units = dict(zip(res.per_op.op, res.per_op.unit))
    assert units["qkv_proj"] == units["fc1"] == units["fc2"] == main
    assert all(res.per_op.energy_j > 0) and res.summary()["area_mm2"] > 0
    if main in ("int8", "fp16"):      # dequantise-then-MAC: one MAC per weight element
        assert res.actions[f"{main}.dequant_ops"] > 0


def test_iso_area_orders_and_artifact_rates():
    """The artifact's shapes at M = 64: INT8 32x32 vs FP16 32x28 is 28/32 of the time, and
    BitFusion 32x40 at 8 bits 28/40, each equal to the fold count (os, K cycles per fold)."""
    op = _gemm(m=64, n=4096, k=4096, a="int8")
    fp = _dev("fp16_w4a16.yaml").units["fp16"].cost(_gemm(m=64, n=4096, k=4096, a="fp16"))
    i8 = _dev("int8_w4a8.yaml").units["int8"].cost(op)
    bf = _dev("bitfusion_w4a8.yaml").units["bitfusion"].cost(op)
    assert i8.detail["folds"] == 2 * 128 and fp.detail["folds"] == 2 * math.ceil(4096 / 28)
    assert bf.detail["folds"] == 2 * math.ceil(4096 / 40)
    assert i8.compute_cycles / fp.compute_cycles == pytest.approx(
        128 / math.ceil(4096 / 28), rel=1e-3)
