"""Component models: arithmetic vs Horowitz, FP model, SRAM fit vs CACTI, other kinds, errors."""
from __future__ import annotations

import csv
import math

import pytest

from accelsim.cost import arith, memory, scaling
from accelsim.cost.components import build, mux2_bit
from accelsim.cost.scaling import DATA
from accelsim.errors import AccelsimError
from accelsim.workload.dtypes import dtype

CACTI_28NM_READ64 = {1: 0.69, 4: 2.06, 16: 4.99, 32: 6.47, 64: 9.99, 256: 20.8, 512: 27.0,
                     1024: 40.6}
CACTI_28NM_AREA = {1: 0.0014, 32: 0.0446, 256: 0.377, 1024: 1.30}


def test_integer_arithmetic_reproduces_horowitz_points():
    assert arith.int_add(8) == pytest.approx(0.03) and arith.int_add(32) == pytest.approx(0.1)
    assert arith.int_add(8, "area") == pytest.approx(36)
    assert arith.int_mul(8, 8) == pytest.approx(0.2) and arith.int_mul(32, 32) == pytest.approx(3.1)
    assert arith.int_mul(32, 32, "area") == pytest.approx(3495)
    # in between: monotone, and the multiplier close to quadratic in width
    assert arith.int_mul(4, 4) < arith.int_mul(8, 4) < arith.int_mul(8, 8) < arith.int_mul(16, 16)
    assert 3.5 < arith.int_mul(16, 16) / arith.int_mul(8, 8) < 4.0
    assert arith.int_add(16) == pytest.approx(0.0533, abs=1e-3)


@pytest.mark.parametrize("fmt,mul,add,mul_a,add_a", [("fp16", 1.1, 0.4, 1640, 1360),
                                                     ("fp32", 3.7, 0.9, 7700, 4184)])
def test_fp_model_is_anchored_on_horowitz(fmt, mul, add, mul_a, add_a):
    d = dtype(fmt)
    assert arith.fp_op("mul", d) == pytest.approx(mul)
    assert arith.fp_op("add", d) == pytest.approx(add)
    assert arith.fp_op("mul", d, "area") == pytest.approx(mul_a)
    assert arith.fp_op("add", d, "area") == pytest.approx(add_a)


def test_fp_formats_between_the_anchors_follow_their_significands():
    m = {f: arith.fp_op("mul", dtype(f)) for f in ("fp8_e4m3", "bf16", "fp16", "tf32", "fp32")}
    assert m["fp8_e4m3"] < m["bf16"] < m["fp16"] <= m["tf32"] < m["fp32"]
    # tf32 has fp16's significand and fp32's exponent: slightly more than fp16
    assert m["tf32"] - m["fp16"] == pytest.approx(arith.int_add(9) - arith.int_add(6))
    betas = arith.fit_summary()
    assert 1.8 < betas["fp_mul_beta_area"] < 2.2      # significand multiplier ~ w^2
    assert 1.0 < betas["fp_add_beta_energy"] < 1.6    # shifters and adders ~ w log w
    with pytest.raises(AccelsimError, match="no floating-point cost model"):
        arith.fp_op("mul", dtype("int8"))


def test_mac_is_multiplier_plus_accumulator_and_scales_with_node():
    assert arith.mac("int8") == pytest.approx(0.2 + 0.1)
    assert arith.mac("bf16") == pytest.approx(arith.fp_op("mul", dtype("bf16")) + 0.9)
    m7 = build("mac", {"dtype": "bf16"}, 7)
    assert m7.energy("mac") == pytest.approx(arith.mac("bf16") * scaling.energy_factor(45, 7))
    assert m7.area_um2 == pytest.approx(arith.mac("bf16", what="area") * 0.059)
    # TPUv4's bf16 MAC at 7 nm is quoted as 0.084 pJ (reference constants.csv, secondary)
    assert m7.energy("mac") == pytest.approx(0.084, rel=0.10)
    assert build("mac", {"dtype": "int8", "acc": "int16"}, 45).energy("mac") < arith.mac("int8")


def test_sram_fit_matches_cacti_within_8_percent():
    fit = memory.sram_fit()
    assert fit.max_rel_error < 0.08
    for kb, pj in CACTI_28NM_READ64.items():
        ours = build("sram", {"capacity_bytes": kb * 1024}, 28).energy("read_bit") * 64
        assert ours == pytest.approx(pj, rel=0.08), kb
    for kb, mm2 in CACTI_28NM_AREA.items():
        ours = build("sram", {"capacity_bytes": kb * 1024}, 28).area_um2 * 1e-6
        assert ours == pytest.approx(mm2, rel=0.10), kb
    assert 0.75 < fit.write_ratio < 0.9


def test_sram_against_cacti_and_horowitz_at_other_nodes():
    """The comparison documented in docs/energy_area.md (data/reference_points.csv)."""
    documented = {("sram_read_64b", 45, 8, "CACTI"): 0.19, ("sram_read_64b", 7, 32, "CACTI"): -0.58,
                  ("sram_read_64b", 45, 8, "Horowitz"): -0.27,
                  ("sram_read_64b", 45, 32, "Horowitz"): -0.20,
                  ("sram_read_64b", 45, 1024, "Horowitz"): -0.02,
                  ("sram_area", 7, 32, "CACTI"): -0.16, ("sram_area", 45, 8, "CACTI"): 0.17}
    with open(DATA / "reference_points.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(documented)
    for r in rows:
        node, kb = float(r["node_nm"]), int(r["capacity_kb"])
        m = build("sram", {"capacity_bytes": kb << 10}, node)
        ours = m.energy("read_bit") * 64 if r["quantity"] == "sram_read_64b" else m.area_um2 * 1e-6
        key = (r["quantity"], int(node), kb, r["source"].split()[0].rstrip(","))
        assert ours / float(r["value"]) - 1 == pytest.approx(documented[key], abs=0.03), key


def test_sram_width_banks_and_size():
    def e(cap, **kw):
        return build("sram", {"capacity_bytes": cap, **kw}, 28)
    small, big = e(8 << 10), e(1 << 20)
    assert small.energy("read_bit") < big.energy("read_bit")
    assert small.energy("write_bit") < small.energy("read_bit")
    # a 2048-bit access reads 32 sub-arrays of 1/32 the capacity in parallel
    wide = e(24 << 20, width_bits=2048)
    assert wide.energy("read_bit") == pytest.approx(e(768 << 10).energy("read_bit"))
    # banking: cheaper accesses, more area (periphery per bank)
    b1, b32 = e(128 << 10), e(128 << 10, banks=32)
    assert b32.energy("read_bit") < b1.energy("read_bit") and b32.area_um2 > b1.area_um2
    # continuous across the 1 MB bank cap; above it a global wire is added
    below, above = e((1 << 20) - 1024), e((1 << 20) + 1024)
    assert above.energy("read_bit") == pytest.approx(below.energy("read_bit"), rel=0.01)
    assert e(64 << 20).energy("read_bit") > big.energy("read_bit")
    assert e(2 << 20).leak_w == pytest.approx(2 * big.leak_w)
    assert e(512).energy("read_bit") > 0  # below the smallest fit point


def test_other_kinds():
    reg = build("register", {"bits": 16}, 40)
    assert reg.energy("write_bit") == pytest.approx(0.009) and reg.area_um2 == pytest.approx(
        16 * 5.98)
    assert mux2_bit(45) == pytest.approx(0.1 / 32 * 12 / 28)
    mux = build("mux", {"inputs": 16, "width_bits": 8}, 45)
    assert mux.energy("select") == pytest.approx(8 * 4 * mux2_bit(45))
    assert mux.area_um2 == pytest.approx(8 * 15 * mux2_bit(45, "area"))
    lut = build("lut", {"entries": 16, "width_bits": 8}, 45)
    assert lut.energy("read") == pytest.approx(mux.energy("select"))
    assert lut.energy("write_entry") == pytest.approx(8 * build("register", {"bits": 1}, 45)
                                                      .energy("write_bit"))
    sa = build("shift_add", {"bits": 16, "max_shift": 7}, 45)
    assert sa.energy("op") == pytest.approx(arith.int_add(16) + 16 * 3 * mux2_bit(45))
    w = build("wire", {"length_mm": 2.0}, 45)
    assert w.energy("bit") == pytest.approx(2.0 * 0.25 * 0.2 * 1.0 ** 2) and w.area_um2 == 0
    assert build("wire", {"length_mm": 1.0}, 7).energy("bit") == pytest.approx(0.25 * 0.2 * 0.49)
    alu = build("vector_alu", {}, 45)
    assert alu.energy("flop", "fp32") == pytest.approx((3.7 + 0.9) / 2)
    assert alu.energy("flop", "bf16") < alu.energy("flop", "fp32")
    assert alu.energy("flop", "int8") == pytest.approx((0.2 + 0.03) / 2)
    d = build("dram", {"kind": "hbm2"}, 7)
    assert d.energy("read_bit") == 6.25 and d.area_um2 == 0 and d.leak_w == 0
    assert build("adder", {"dtype": "int8"}, 45).energy("add") == pytest.approx(0.03)
    assert build("multiplier", {"dtype": "fp16"}, 45).energy("mul") == pytest.approx(1.1)


def test_leakage_is_area_times_a_scaled_density():
    m28, m7 = build("mac", {"dtype": "int8"}, 28), build("mac", {"dtype": "int8"}, 7)
    assert m28.leak_w > 0 and m7.leak_w < m28.leak_w
    dens40 = (2.4 + 80) * 1e-6 / (278 + 6350)
    m40 = build("mac", {"dtype": "int8"}, 40)
    assert m40.leak_w / m40.area_um2 == pytest.approx(dens40)


def test_bad_kinds_params_and_actions_raise():
    with pytest.raises(AccelsimError, match="unknown component kind 'rom'.*models: adder"):
        build("rom", {}, 28)
    with pytest.raises(AccelsimError, match="kind 'sram' needs parameter 'capacity_bytes'"):
        build("sram", {"width_bits": 64}, 28)
    with pytest.raises(AccelsimError, match="unsupported technology node 12"):
        build("register", {"bits": 1}, 12)
    with pytest.raises(KeyError):
        build("register", {"bits": 1}, 28).energy("read_bit")
    assert math.isfinite(build("mac", {"dtype": "ternary"}, 7).energy("mac"))
