"""LUT Tensor Core arrays inside the GPU unit (A100-LUT-4X / 8X, H100-LUT): Table 1's peak
formula, which ops run on them, their tables (separate or fused), area, and clear errors."""
from __future__ import annotations

import pytest

import accelsim
from accelsim.errors import AccelsimError
from accelsim.workload import Gemm
from accelsim.workload.zoo import build_trace

from conftest import ROOT

GPU = ROOT / "configs" / "gpu"
AT_141 = ["units.gpu.clock_ghz=1.41"]


def _dev(name: str, *overrides: str):
    return accelsim.load_arch(GPU / name, overrides=[*AT_141, *overrides])


@pytest.mark.parametrize("cfg, act, sms, x", [("a100_lut_4x.yaml", "int8", 108, 4),
                                              ("a100_lut_8x.yaml", "int8", 108, 8),
                                              ("h100_lut_8x.yaml", "fp8_e4m3", 132, 8)])
@pytest.mark.parametrize("w, planes", [("int1", 1), ("int2", 2), ("ternary", 2), ("int4", 4)])
def test_peak_is_table_1_formula(cfg, act, sms, x, w, planes):
    """peak = SMs x 4 TCs x 512 X / W_BIT MACs per cycle; MAC rates unchanged otherwise."""
    gpu = _dev(cfg).units["gpu"]
    assert gpu.peak((act, w)).macs == sms * 4 * 512 * x / planes
    plain = accelsim.load_arch(GPU / cfg.replace(f"_lut_{x}x", "_80gb" if "a100" in cfg
                                                 else "_sxm"), overrides=AT_141).units["gpu"]
    assert gpu.peak(("bf16",)) == plain.peak(("bf16",))


def test_table_1_peak_in_tops():
    gpu = _dev("a100_lut_4x.yaml").units["gpu"]
    assert gpu.peak(("int8", "ternary")).flops * 1.41e9 / 1e12 == pytest.approx(1248, rel=1e-3)


def _decode(model="bitnet-b1.58-3b", **kw):
    return build_trace(model, phase="decode", batch=1024, ctx=1, weight_bits=1.58,
                       act_dtype="int8", **kw)


def test_low_bit_gemms_run_on_the_lut_arrays_with_their_tables():
    r = accelsim.simulate(_dev("a100_lut_4x.yaml"), _decode())
    df = r.per_op
    gemms = df[df.kind == "gemm"]
    lut = gemms[gemms.kernel.str.contains("LUT")]
    assert set(lut.op) == {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}
    assert "lm_head" in set(gemms.op) - set(lut.op)          # bf16 head: MAC tensor cores
    tables = df[df.kind == "lut_tables"]
    assert set(tables.op) == {f"{g}.tables" for g in set(lut.op)}


def test_more_lut_units_are_faster_and_fusion_removes_most_table_kernels():
    tr = _decode()
    t4 = accelsim.simulate(_dev("a100_lut_4x.yaml"), tr)
    t8 = accelsim.simulate(_dev("a100_lut_8x.yaml"), tr)
    fused = accelsim.simulate(_dev("a100_lut_8x.yaml",
                                   "mapping.fusion.lut_precompute_fusion=true"), tr)
    assert t8.latency_s < t4.latency_s
    assert fused.latency_s < t8.latency_s
    standalone = lambda r: set(r.per_op[r.per_op.kind == "lut_tables"].op)  # noqa: E731
    # o_proj's tables follow attention (not element-wise): the one table kernel left
    assert {o for o in standalone(fused) if o.endswith(".tables")} == {"o_proj.tables"}
    assert "attn_norm" in standalone(fused)                  # RMSNorm now builds the tables


def test_lut_gemm_beats_the_int8_tensor_core_on_bitnet_weights():
    """W_INT2 on 4X LUT arrays (1248 TOPs peak) against int8 weights on the INT8 TC (624)."""
    g_lut = Gemm("g", m=2048, n=8640, k=3200, dtype="int8", w_dtype="ternary", b_shared=True)
    g_mac = Gemm("g", m=2048, n=8640, k=3200, dtype="int8", w_dtype="int8", b_shared=True)
    lut = _dev("a100_lut_4x.yaml").units["gpu"].cost(g_lut)
    mac = accelsim.load_arch(GPU / "a100_80gb.yaml", overrides=AT_141).units["gpu"].cost(g_mac)
    assert lut.compute_cycles < mac.compute_cycles
    assert "LUT" in lut.kernel and "LUT" not in mac.kernel


def test_activations_the_lut_does_not_take_stay_on_the_mac_path():
    gpu = _dev("a100_lut_4x.yaml").units["gpu"]     # built for int8 activations
    w4a16 = Gemm("g", m=16, n=4096, k=4096, dtype="bf16", w_dtype="int4", b_shared=True)
    assert "LUT" not in gpu.cost(w4a16).kernel and gpu.tables_for(w4a16) is None


def test_area_is_the_die_plus_the_lut_arrays():
    from accelsim.cost.estimator import ArchCost
    die = ArchCost(accelsim.load_arch(GPU / "a100_80gb.yaml")).area_mm2
    a4 = ArchCost(accelsim.load_arch(GPU / "a100_lut_4x.yaml")).area_mm2
    a8 = ArchCost(accelsim.load_arch(GPU / "a100_lut_8x.yaml")).area_mm2
    assert die < a4 < a8
    assert a8 - die == pytest.approx(2 * (a4 - die), rel=1e-6)


def test_bad_lut_act_dtype_is_a_located_error():
    with pytest.raises(AccelsimError, match=r"lut_tensor_core.*act_dtype|act_dtype must be"):
        _dev("a100_80gb.yaml", "units.gpu.lut_tensor_core={act_dtype: int4}")
    with pytest.raises(AccelsimError, match="units_per_tensor_core"):
        _dev("a100_80gb.yaml", "units.gpu.lut_tensor_core={units_per_tensor_core: 0}")
