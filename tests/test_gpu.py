"""The GPU baseline: datasheet peaks, kernel choices, lowering, and the measured bounds on the
committed H200 measurements (held-out half) and the published A100 ones (no refit)."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import yaml

import accelsim
from accelsim.arch.units.gpu.calibration import DATA
from accelsim.measured import check, read_cases, summary
from accelsim.measured.fit import split
from accelsim.workload import Attention, Gemm, Trace, Vector, zoo

from conftest import ROOT

GPU = ROOT / "configs" / "gpu"
VAL = ROOT / "experiments" / "validation" / "gpu"


@pytest.fixture(scope="module")
def h200():
    return accelsim.load_arch(GPU / "h200.yaml")


@pytest.fixture(scope="module")
def h200_cases():
    return read_cases(VAL / "h200_measured.csv")


def _us(dev, ops):
    return accelsim.simulate(dev, Trace.from_ops("t", ops)).latency_s * 1e6


@pytest.mark.parametrize("cfg, dtype, tflops", [
    ("h200.yaml", "bf16", 989.4), ("h200.yaml", "fp8", 1978.9), ("h200.yaml", "tf32", 494.7),
    ("h100_sxm.yaml", "bf16", 989.4), ("a100_80gb.yaml", "bf16", 311.9),
    ("a100_40gb.yaml", "int8", 623.8)])
def test_tensor_core_peaks_are_the_datasheets(cfg, dtype, tflops):
    dev = accelsim.load_arch(GPU / cfg)
    peak = dev.units["gpu"].peak((dtype,)).macs * 2 * dev.unit_clock_hz("gpu") / 1e12
    assert peak == pytest.approx(tflops, rel=1e-3)


def test_configs_take_memory_from_the_datasheets():
    bw = {c: accelsim.load_arch(GPU / f"{c}.yaml").memories["hbm"].config.bandwidth_gb_s
          for c in ("h200", "h100_sxm", "a100_80gb", "a100_40gb")}
    assert bw == {"h200": 4800, "h100_sxm": 3350, "a100_80gb": 2039, "a100_40gb": 1555}


def test_gemv_is_memory_bound_and_large_gemm_compute_bound(h200):
    small = _us(h200, [Gemm("g", m=1, n=12288, k=4096, dtype="bf16", b_shared=True)])
    big = _us(h200, [Gemm("g", m=8192, n=12288, k=4096, dtype="bf16", b_shared=True)])
    eff = h200.units["gpu"].eff
    weights = 12288 * 4096 * 2
    assert small > weights / 4.8e12 * 1e6  # at least the weights at the memory's peak
    assert small == pytest.approx(weights / (4.8e12 * eff.gemm_stream_fraction["bf16"]) * 1e6
                                  + eff.gemm_overhead_us["bf16"], rel=0.05)
    flops = 2 * 8192 * 12288 * 4096
    assert big == pytest.approx(flops / (989.4e12 * eff.mma_efficiency["bf16"]) * 1e6, rel=0.05)


def test_the_chosen_kernel_is_in_the_per_op_table(h200):
    res = accelsim.simulate(h200, Trace.from_ops("t", [
        Gemm("a", m=4096, n=4096, k=4096, dtype="bf16", b_shared=True),
        Gemm("w4", m=1, n=4096, k=4096, dtype="bf16", w_dtype="int4", group_size=128,
             b_shared=True),
        Gemm("f8", m=256, n=4096, k=4096, dtype="fp8", b_shared=True),
        Vector("v", op="rmsnorm", rows=16, cols=4096)]))
    k = dict(zip(res.per_op["op"], res.per_op["kernel"]))
    assert k["a"].startswith("gemm bf16 ") and "stream-k" in k["a"]
    assert k["w4"].startswith("w4a16") and k["f8"].startswith("gemm fp8")
    assert k["v"] == "rmsnorm kernel"
    a100 = accelsim.load_arch(GPU / "a100_80gb.yaml")
    k = accelsim.simulate(a100, Trace.from_ops("t", [Gemm("s", m=16, n=4096, k=4096,
                                                          dtype="bf16")])).per_op["kernel"][0]
    assert "split-k" in k and "wave(s) of 108" in k  # Ampere: waves and split-K


def test_int4_weights_move_a_quarter_of_the_bytes_and_flatten_at_large_m(h200):
    w4 = dict(dtype="bf16", w_dtype="int4", group_size=128, b_shared=True)
    r = accelsim.simulate(h200, Trace.from_ops("t", [Gemm("g", m=1, n=4096, k=4096, **w4)]))
    assert r.bytes_by_level()["dram_read"] == pytest.approx(4096 * 4096 * (0.5 + 2 / 128) + 8192)
    tf = {m: 2 * m * 4096 * 4096 / _us(h200, [Gemm("g", m=m, n=4096, k=4096, **w4)]) / 1e6
          for m in (1024, 4096)}
    assert 20 < tf[1024] < 40 and tf[4096] == pytest.approx(tf[1024], rel=0.1)  # ~30 TFLOP/s


def test_attention_becomes_one_fused_kernel_without_the_score_round_trip(h200):
    att = Attention("attn", batch=1, heads=32, q_len=2048, kv_len=2048, head_dim=128)
    res = accelsim.simulate(h200, Trace.from_ops("t", [att]))
    assert list(res.per_op["op"]) == ["attn"] and res.per_op["kind"][0] == "flash_attention"
    qkvo = 4 * 32 * 2048 * 128 * 2
    assert res.bytes_by_level()["dram_read"] + res.bytes_by_level()["dram_write"] == qkvo
    assert res.flops < att.flops() * 0.6  # causal: about half the pairs
    dec = accelsim.simulate(h200, Trace.from_ops("t", [Attention(
        "d", batch=16, heads=64, kv_heads=8, q_len=1, kv_len=4096, head_dim=128)]))
    assert "split-KV decode" in dec.per_op["kernel"][0]
    sa = accelsim.load_arch(ROOT / "configs" / "sa128_bf16_hbm.yaml")  # others: QK^T, softmax, PV
    assert len(accelsim.simulate(sa, Trace.from_ops("t", [att])).per_op) == 3


def test_unsupported_operand_mix_is_a_clear_error(h200):
    with pytest.raises(accelsim.AccelsimError, match=r"no tensor-core kernel for A=int8, B=bf16"):
        accelsim.simulate(h200, Trace.from_ops("t", [Gemm("g", m=8, n=8, k=8, dtype="int8",
                                                          w_dtype="bf16")]))


# -- measured bounds ---------------------------------------------------------------------------

def _held_out(dev, cases):
    _, held = split(cases)
    return check(dev, held)


def test_h200_held_out_errors_meet_the_targets(h200, h200_cases):
    df = _held_out(h200, h200_cases)
    s = summary(df).set_index("kind")
    for kind in ("gemm", "attention", "moe_ffn"):
        assert s.loc[kind, "median_abs_error"] <= 0.08, kind
        assert s.loc[kind, "p90_abs_error"] <= 0.20, kind
    grouped = df[(df["kind"] == "moe_ffn") & df["case"].str.contains("grouped")]
    assert len(grouped) >= 15 and grouped["error"].abs().median() <= 0.08
    decode = df[(df["kind"] == "model") & df["case"].str.contains("phase=decode")]
    assert len(decode) == 24 and decode["error"].abs().max() <= 0.08


def test_shipped_calibration_records_what_check_gives_on_the_held_out_half(h200, h200_cases):
    recorded = yaml.safe_load(DATA.read_text())["h200"]["held_out_error"]
    now = summary(_held_out(h200, h200_cases)).set_index("kind")
    for kind, r in recorded.items():
        assert now.loc[kind, "cases"] == r["cases"]
        assert now.loc[kind, "median_abs_error"] == pytest.approx(r["median_abs_error"], abs=1e-3)


def test_a100_predicted_from_datasheet_and_h200_efficiencies():
    """No refit: Vidur's fp16 layer GEMMs (kernel time) and LLMCompass's large bf16 matmuls."""
    dev = accelsim.load_arch(GPU / "a100_80gb.yaml")
    df = check(dev, read_cases(VAL / "a100_measured.csv"))
    vidur = df[(df["kind"] == "gemm") & df["case"].str.contains("vidur")]["error"].abs()
    assert len(vidur) == 256
    assert vidur.median() <= 0.08
    assert np.quantile(vidur, 0.9) <= 0.25  # the issue asks 20%: a reported miss (docs/gpu.md)
    # large matmuls: over-predicted by the H200's MMA efficiency, which carries the H200's clock
    # throttling under its power limit (an A100 sustains 83% of its peak, the H200 77%):
    # a reported miss, not refitted (docs/gpu.md)
    big = df[df["case"].str.contains("llmcompass.matmul") & (df["measured_us"] > 500)]["error"]
    assert len(big) >= 10 and ((big > 0.05) & (big < 0.25)).all()


def test_h100_differs_from_the_h200_only_by_memory():
    h100 = accelsim.load_arch(GPU / "h100_sxm.yaml")
    h200 = accelsim.load_arch(GPU / "h200.yaml")
    tr = zoo.build_trace("llama2-7b", phase="decode", batch=1, ctx=512)
    r = accelsim.simulate(h100, tr).latency_s / accelsim.simulate(h200, tr).latency_s
    assert 1.2 < r < 4.8 / 3.35  # weight streaming slows with bandwidth; overheads do not
    big = [Gemm("g", m=8192, n=8192, k=8192, dtype="bf16", b_shared=True)]
    assert _us(h100, big) == pytest.approx(_us(h200, big), rel=0.01)  # compute-bound: same


def test_gpu_cost_follows_its_memory_in_a_bandwidth_only_change():
    """The unit reads its memory's bandwidth: its context key changes with it."""
    a = accelsim.load_arch(GPU / "h200.yaml")
    b = accelsim.load_arch(GPU / "h200.yaml", overrides=["memory.hbm.bandwidth_gb_s=2400"])
    assert a.units["gpu"].context_key() != b.units["gpu"].context_key()
    g = [Gemm("g", m=1, n=8192, k=8192, dtype="bf16", b_shared=True)]
    assert _us(b, g) > 1.8 * (_us(a, g) - 5)


_MOE = "kind,hidden,ffn,experts,tokens_per_expert,moe_kernel,measured_us\nmoe_ffn,64,128,"


def test_measured_csv_errors_are_located(tmp_path):
    p = tmp_path / "m.csv"
    cases = [("kind,m,n,k,measured_us\ngemm,8,8,8,1\ngem,1,1,1,1\n", r"m.csv:3 kind: unknown "
              r"kind 'gem'; did you mean 'gemm'"),
             ("kind,m,n,k,measured_us\ngemm,8,x,8,1\n", r"m.csv:2 n: not a number"),
             ("kind,m,n,k\ngemm,8,8,8\n", r"missing column 'measured_us'"),
             ("kind,m,n,k,measured_us\ngemm,8,8,8,-1\n", r"measured_us: must be a positive"),
             ("kind,name,m,n,measured_us\nvector,foo,8,8,1\n", r"name must be a vector op"),
             ("kind,measured_us\nattention,3\n", r"m.csv:2 batch: a attention row needs"),
             ("kind,m,n,k,measured_us\ngemm,0,8,8,1\n", r"m: must be a positive integer"),
             (_MOE + "8,x,grouped,1\n", r"m.csv:2 tokens_per_expert: must be an integer"),
             (_MOE + "8,1;2,grouped,1\n", r"tokens_per_expert: needs one count or 8"),
             (_MOE + "8,0,grouped,1\n", r"at least one above 0"),
             (_MOE + "8,4,fused,1\n", r"m.csv:2 moe_kernel: must be loop or grouped")]
    for text, msg in cases:
        p.write_text(text)
        with pytest.raises(accelsim.ConfigError, match=msg):
            read_cases(p)
    with pytest.raises(accelsim.ConfigError, match="file not found"):
        read_cases(tmp_path / "nope.csv")
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(accelsim.ConfigError, match="UTF-8"):
        read_cases(p)


def test_cli_check_and_fit_on_a_small_csv(tmp_path, capsys):
    from accelsim.cli import main
    rows = (VAL / "h200_measured.csv").read_text().splitlines()
    keep = [rows[0]] + [r for r in rows[1:] if r.startswith(("gemm,llama2-7b.", "vector,add"))]
    small = tmp_path / "small.csv"
    small.write_text("\n".join(keep) + "\n")
    assert main(["measured", "check", str(GPU / "h200.yaml"), str(small), "--json",
                 str(tmp_path / "c.json"), "--rows", "3"]) == 0
    out = capsys.readouterr().out
    assert "median |error|" in out and "gemm" in out
    fitted = tmp_path / "fit.yaml"
    assert main(["measured", "fit", str(GPU / "h200.yaml"), str(small), "--out", str(fitted)]) == 0
    doc = yaml.safe_load(fitted.read_text())["fitted"]
    assert "gemm_overhead_us.bf16 (28 rows)" in doc["fitted"]
    assert "w4a16_overhead_us" in doc["not_fitted"]  # no W4A16 rows in the small CSV
    dev = accelsim.load_arch(GPU / "h200.yaml", overrides=[f"units.gpu.calibration={fitted}"])
    assert dev.units["gpu"].eff.gemm_overhead_us["bf16"] == doc["values"]["gemm_overhead_us"]["bf16"]
    assert main(["measured", "check", str(GPU / "h200.yaml"), str(tmp_path / "x.csv")]) == 2


def test_gpu_area_is_the_datasheet_die_and_energy_is_unknown(h200):
    """Area: the die as built (no integration overhead); energy: NaN with a note, never 0."""
    res = accelsim.simulate(h200, Trace.from_ops("t", [Gemm("g", m=64, n=4096, k=4096,
                                                         dtype="bf16")]))
    cost = res.cost
    assert cost.area_mm2 == pytest.approx(814.0)
    assert math.isnan(cost.energy_j)
    assert any("no energy model" in n for n in cost.notes)
    a100 = accelsim.load_arch(GPU / "a100_80gb.yaml")
    assert accelsim.simulate(a100, Trace.from_ops("t", [Gemm("g", m=64, n=4096, k=4096,
                                         dtype="bf16")])).cost.area_mm2 == pytest.approx(826.0)


def _mixtral(dev, **kw):
    tr = zoo.build_trace("mixtral-8x7b", phase="decode", batch=16, ctx=512, **kw)
    return accelsim.simulate(dev, tr)


def test_moe_experts_become_grouped_kernels_with_the_same_work(h200):
    """grouped_experts merges each layer's experts per role; FLOPs and weight bytes are kept;
    moe_kernel: loop keeps one kernel per expert."""
    grouped = _mixtral(h200)
    loop = _mixtral(accelsim.load_arch(GPU / "h200.yaml", overrides=["units.gpu.moe_kernel=loop"]))
    g, lp = grouped.per_op, loop.per_op
    assert not g["op"].str.match(r"expert\d").any()
    assert lp["op"].str.match(r"expert\d").any()
    gu = g[g["op"] == "experts.gate_up_proj"]
    assert len(gu) and gu["kernel"].str.contains("grouped gemm bf16").all()
    assert grouped.flops == pytest.approx(loop.flops, rel=1e-12)
    assert g["dram_read_bytes"].sum() == pytest.approx(lp["dram_read_bytes"].sum(), rel=1e-9)
    # the decode step's MoE layers: grouped is slower on Mixtral's 8 wide experts at 16 tokens,
    # as measured (1,037 vs ~800 us for 16 tokens per expert)
    assert grouped.latency_s > loop.latency_s


def test_grouped_experts_keeps_dependencies_and_leaves_others_alone():
    from accelsim.engine.passes.grouped_experts import GroupedExperts
    from accelsim.workload.ops import GroupedGemm
    tag = lambda e: (("layer", "0"), ("expert", str(e)))  # noqa: E731
    ops = [Vector("router_softmax", op="softmax", rows=4, cols=8)]
    for e, m in enumerate((3, 1)):
        ops += [Gemm(f"expert{e}.up", m=m, n=64, k=32, tags=tag(e), deps=("router_softmax",)),
                Vector(f"expert{e}.act", op="silu", rows=m, cols=64, tags=tag(e)),
                Gemm(f"expert{e}.down", m=m, n=32, k=64, tags=tag(e))]
    ops += [Vector("combine", op="mul", rows=8, cols=32, deps=("expert0.down", "expert1.down")),
            Gemm("expert9.odd", m=2, n=8, k=8, tags=tag(9))]    # alone: not merged
    seg = GroupedExperts(None).run(Trace.from_ops("t", ops).segments[0])
    by = {op.name: op for op in seg.ops}
    assert [op.name for op in seg.ops] == ["router_softmax", "experts.up", "experts.act",
                                           "experts.down", "combine", "expert9.odd"]
    assert isinstance(by["experts.up"], GroupedGemm) and by["experts.up"].groups == (3, 1)
    assert by["experts.act"].rows == 4 and by["experts.act"].deps == ("experts.up",)
    assert by["experts.up"].deps == ("router_softmax",)
    assert by["combine"].deps == ("experts.down",)
    assert by["expert9.odd"].deps == ("combine",)


def test_grouped_gemm_counts_match_a_numpy_grouped_gemm():
    """The op's MACs and bytes are those of the algorithm: each group's rows against its own
    weights, which computes what the per-group loop computes."""
    from accelsim.workload.ops import GroupedGemm
    rng = np.random.default_rng(0)
    groups, n, k = (5, 1, 7), 6, 4
    a = rng.standard_normal((sum(groups), k))
    b = rng.standard_normal((len(groups), k, n))
    offs = np.cumsum((0,) + groups)
    out = np.concatenate([a[offs[g]:offs[g + 1]] @ b[g] for g in range(len(groups))])
    loop = np.vstack([a[offs[g]:offs[g + 1]] @ b[g] for g in range(len(groups))])
    assert np.allclose(out, loop)
    macs = sum(m * n * k for m in groups)      # one MAC per (row, column, k) of each group
    op = GroupedGemm("g", groups=groups, n=n, k=k, dtype="fp32")
    assert op.macs() == macs and op.m == sum(groups)
    b_ = op.operand_bytes()
    assert (b_["A"], b_["B"], b_["C"]) == (a.size * 4, b.size * 4, out.size * 4)
    with pytest.raises(accelsim.AccelsimError, match="groups must be"):
        GroupedGemm("g", groups=(2, 0), n=4, k=4)
    sa = accelsim.load_arch(ROOT / "configs" / "sa128_bf16_hbm.yaml")
    with pytest.raises(accelsim.AccelsimError, match="no unit of device"):
        accelsim.simulate(sa, Trace.from_ops("t", [GroupedGemm("g", groups=(2, 3), n=8, k=8)]))
