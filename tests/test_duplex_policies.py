"""Duplex's scheduling policies (issue 15): duplex_stage (stage rule, +PE, +ET), opb_threshold,
the low/high-Op/B roles, on an NPU + in-bank PIM device (a test bed without Logic-PIM)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.arch.device import load_arch
from accelsim.engine.policies.coprocessing import split_experts
from accelsim.engine.policies.opb_roles import opb_roles
from accelsim.errors import AccelsimError, ConfigError
from accelsim.pipeline import simulate
from accelsim.workload.llm import Batch, build_model_trace
from accelsim.workload.models import ModelConfig
from accelsim.workload.ops import Gemm
from accelsim.workload.quant import make_quant
from accelsim.workload.trace import Segment, Trace

UNITS = """
units:
  sa:
    type: systolic_array
    rows: 128
    cols: 1024
    dataflow: ws
    pe_dtype: fp16
    sram: {ifmap_kb: 8192, filter_kb: 8192, ofmap_kb: 8192, double_buffered: true}
  vec: {type: vector, lanes: 1024, buffer_kb: 1024}
"""
PIM = """
  pim: {type: pim_bank, dtype: fp16, max_rows: 64}
"""
MEMORY = """
memory:
  hbm: {type: dram, standard: neupims_hbm2, capacity_gb: 32}
"""

TINY = ModelConfig(name="tiny-moe", family="mixtral", hidden=512, layers=1, heads=8, kv_heads=2,
                   head_dim=64, ffn=1024, vocab=1000, max_pos=4096, gated=True, act="silu",
                   norm="rmsnorm", attn_bias=False, mlp_bias=False, rope=True, experts=4,
                   top_k=2)
FP16 = make_quant(16, "fp16", 16, None, None)


def device(tmp_path, scheduling: str, units: str = UNITS + PIM, name: str = "d"):
    p = tmp_path / f"{name}.yaml"
    p.write_text(f"name: {name}\nclock_ghz: 1.0\ntech_node_nm: 22\n{units}{MEMORY}"
                 f"scheduling: {scheduling}\n")
    return load_arch(p)


def placed(dev, trace) -> dict[str, tuple[str, float, float]]:
    """op -> (unit, start, end) in the (single) layer segment."""
    c = simulate(dev, trace).columns
    return {c["op"][i]: (c["unit"][i], c["start"][i], c["end"][i]) for i in range(len(c["op"]))
            if c["segment"][i].startswith("layers")}


def iteration(prefill=(), decode=()):
    return build_model_trace(TINY, FP16, Batch(prefill=tuple(prefill), decode=tuple(decode)))


def _overlap(a, b) -> bool:
    return a[1] < b[2] and b[1] < a[2]


# -- roles -------------------------------------------------------------------------------------
def test_roles_from_peak_over_weight_rate(tmp_path):
    dev = device(tmp_path, "{type: duplex_stage}")
    r = opb_roles(dev, dev.policy_config)
    assert (r.low, r.high) == ("pim", "sa")
    assert "vec" not in r.balances                      # runs no GEMMs: no role
    sa = r.balances["sa"]
    assert sa.peak_flops_s == pytest.approx(2 * 128 * 1024 * 1e9)
    assert r.balances["pim"].opb < 4 < 8 < sa.opb
    named = device(tmp_path, "{type: duplex_stage, low_opb_unit: sa, high_opb_unit: pim}", name="n")
    r2 = opb_roles(named, named.policy_config)
    assert (r2.low, r2.high) == ("sa", "pim")


def test_device_without_two_gemm_units_is_refused(tmp_path):
    dev = device(tmp_path, "{type: duplex_stage}", units=UNITS)
    with pytest.raises(AccelsimError, match="needs two units that run GEMMs") as e:
        simulate(dev, iteration(decode=((256, 4),)))
    assert "d.yaml" in str(e.value) and "scheduling" in str(e.value)
    same = UNITS + UNITS.split("units:")[1].replace("sa:", "sa2:").replace("  vec:", "  vec2:")
    twin = device(tmp_path, "{type: opb_threshold}", units=same, name="twin")
    with pytest.raises(AccelsimError, match="same Op/B"):
        simulate(twin, iteration(decode=((256, 4),)))


def test_unknown_unit_name_is_a_located_config_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        device(tmp_path, "{type: duplex_stage, low_opb_unit: logic}")
    msg = str(e.value)
    assert "scheduling.low_opb_unit" in msg and "no unit 'logic'" in msg and "d.yaml:" in msg


def test_stage_rule_table():
    from accelsim.engine.policies.stages import low_by_stage
    from accelsim.workload.ops import Vector

    def g(name, phase, **tags):
        return Gemm(name, m=2, n=8, k=8, tags=(("phase", phase), *tags.items()))
    assert low_by_stage(g("attn.d9.qk", "decode", attention="attn.d9"))
    assert not low_by_stage(g("attn.p9.qk", "prefill", attention="attn.p9"))
    assert low_by_stage(g("router", "decode")) and not low_by_stage(g("router", "mixed"))
    assert low_by_stage(g("expert3.down_proj", "decode", expert="3"))
    assert not low_by_stage(g("expert3.down_proj", "mixed", expert="3"))
    assert low_by_stage(g("experts.gate_up_proj", "decode"))          # grouped experts
    assert low_by_stage(Vector("moe_combine", tags=(("phase", "decode"),)))
    for name in ("qkv_proj", "o_proj", "gate_up_proj", "lm_head"):     # the rest
        assert not low_by_stage(g(name, "decode"))
    assert not low_by_stage(Gemm("attn.qk", m=1, n=8, k=8, tags=(("attention", "attn"),)))


@pytest.mark.parametrize("keys, message", [
    ("low_opb_unit: vec", "unit 'vec' runs no GEMM probe"),
    ("low_opb_unit: sa, high_opb_unit: sa", "names the same unit as low_opb_unit"),
])
def test_bad_unit_roles_are_refused(tmp_path, keys, message):
    dev = device(tmp_path, f"{{type: opb_threshold, {keys}}}")
    with pytest.raises(ConfigError, match=message) as e:
        simulate(dev, _gemms())
    assert "scheduling." in str(e.value)


# -- duplex_stage dispatch ---------------------------------------------------------------------
GEMMS = ("qkv_proj", "o_proj", "router")


def test_decode_only_iteration(tmp_path):
    at = placed(device(tmp_path, "{type: duplex_stage}"), iteration(decode=((256, 4),)))
    assert at["attn.qk"][0] == at["attn.pv"][0] == "pim"          # decode attention
    assert at["router"][0] == "pim"                               # MoE layer, decode-only
    for e in range(4):                                            # 2 tokens each (uniform)
        assert at[f"expert{e}.gate_up_proj"][0] == at[f"expert{e}.down_proj"][0] == "pim"
        assert at[f"expert{e}.act"][0] == "vec"                   # PIM runs no vector ops
    assert at["qkv_proj"][0] == at["o_proj"][0] == "sa"          # the rest
    assert at["attn.softmax"][0] == "vec"


def test_mixed_iteration(tmp_path):
    at = placed(device(tmp_path, "{type: duplex_stage}"),
                iteration(prefill=(32,), decode=((256, 4),)))
    assert at["attn.d256.qk"][0] == at["attn.d256.pv"][0] == "pim"   # decoding sequences
    assert at["attn.p32.qk"][0] == at["attn.p32.pv"][0] == "sa"      # prefilling sequences
    for name in GEMMS + tuple(f"expert{e}.gate_up_proj" for e in range(4)):
        assert at[name][0] == "sa", name                             # MoE in a mixed stage
    # plain Duplex: the two units never run at once (the naive flow, Sec 5.2)
    pim = [v for v in at.values() if v[0] == "pim"]
    sa = [v for v in at.values() if v[0] == "sa"]
    assert not any(_overlap(a, b) for a in pim for b in sa)


def test_prefill_only_iteration_stays_on_the_high_unit(tmp_path):
    at = placed(device(tmp_path, "{type: duplex_stage}"), iteration(prefill=(16, 16)))
    assert all(u != "pim" for u, _, _ in at.values())


def test_attention_coprocessing_overlaps_only_attention(tmp_path):
    plain = device(tmp_path, "{type: duplex_stage}", name="plain")
    et = device(tmp_path, "{type: duplex_stage, attention_coprocessing: true}", name="et")
    trace = iteration(prefill=(32,), decode=((256, 4),))
    a, b = placed(plain, trace), placed(et, trace)
    assert {k: v[0] for k, v in a.items()} == {k: v[0] for k, v in b.items()}   # same dispatch
    assert _overlap(b["attn.p32.qk"], b["attn.d256.qk"])
    pim = [(k, v) for k, v in b.items() if v[0] == "pim"]
    sa = [(k, v) for k, v in b.items() if v[0] == "sa"]
    for kp, vp in pim:
        for ks, vs in sa:
            if _overlap(vp, vs):
                assert kp.startswith("attn.") and ks.startswith("attn."), (kp, ks)
    assert simulate(et, trace).cycles < simulate(plain, trace).cycles


GPU = """
units:
  gpu:
    type: gpu
    sms: 132
    mma_macs_per_sm_cycle: {bf16: 2048, fp16: 2048, tf32: 1024, fp8: 4096, int8: 4096}
    fp32_flops_per_sm_cycle: 256
    l2_mb: 50
    smem_kb_per_sm: 228
    regs_kb_per_sm: 256
    moe_kernel: loop
"""


def gpu_pim(tmp_path, scheduling: str):
    p = tmp_path / "gpu_pim.yaml"
    p.write_text("name: gpu_pim\nclock_ghz: 1.83\ntech_node_nm: 5\n" + GPU + PIM +
                 "memory:\n  hbm: {type: dram, standard: duplex_hbm3, capacity_gb: 80}\n"
                 f"scheduling: {scheduling}\n")
    return load_arch(p)


def test_decode_attention_is_lowered_for_the_low_unit(tmp_path):
    """A GPU lowers attention to its fused kernel, which only it runs; duplex_stage lowers the
    decoding sequences' attention for the PIM instead (prefill stays fused on the GPU)."""
    dev = gpu_pim(tmp_path, "{type: duplex_stage}")
    r = opb_roles(dev, dev.policy_config)
    assert (r.low, r.high) == ("pim", "gpu")
    trace = iteration(prefill=(32,), decode=((256, 4),))
    at = placed(dev, trace)
    assert at["attn.p32"][0] == "gpu"                                # fused, on the xPU
    assert at["attn.d256.qk"][0] == at["attn.d256.pv"][0] == "pim"
    assert at["router"][0] == "gpu"                                  # mixed stage
    from accelsim.engine.policies import make_policy
    pol = make_policy(dev.policy_config, dev)
    assert pol.rewrite(trace) is pol.rewrite(trace)                  # memoised: plans once
    decode = iteration(decode=((256, 4),))
    assert placed(dev, decode)["attn.qk"][0] == "pim"


# -- expert co-processing -----------------------------------------------------------------------
def test_split_experts_hand_example():
    tokens = {"0": 5, "1": 1, "2": 3, "3": 8}
    t_high = {"0": 5.0, "1": 4.0, "2": 4.5, "3": 6.0}     # all on the xPU: 19.5
    t_low = {"0": 9.0, "1": 2.0, "2": 6.0, "3": 20.0}
    # fewest tokens first: 1 -> max(15.5, 2) = 15.5; 2 -> max(11, 8) = 11; 0 -> max(6, 17) = 17:
    # no better, stop
    assert split_experts(tokens, t_high, t_low) == (["1", "2"], 11.0)
    # moving the first does not help: nothing moves
    assert split_experts({"0": 1, "1": 2}, {"0": 1.0, "1": 1.0}, {"0": 3.0, "1": 3.0}) == ([], 2.0)
    # equal tokens: by expert index, numeric (2, 3, 10); expert 3 cannot run on the low unit
    # (inf), so the search stops there: 2 -> max(8, 1) = 8; 3 -> inf, stop (10 is not tried)
    moved, span = split_experts({"10": 2, "2": 2, "3": 2}, {"10": 4.0, "2": 4.0, "3": 4.0},
                                {"10": 1.0, "2": 1.0, "3": math.inf})
    assert (moved, span) == (["2"], 8.0)
    assert split_experts({"10": 2, "2": 2}, {"10": 4.0, "2": 4.0},
                         {"10": 1.0, "2": 1.0}) == (["2", "10"], 2.0)   # 8 -> 4 -> 2


def test_expert_coprocessing_splits_by_the_candidates_estimates(tmp_path):
    from accelsim.engine.fidelities import fidelity
    from accelsim.engine.plan import plan
    from accelsim.engine.policies.coprocessing import expert_split

    dev = device(tmp_path, "{type: duplex_stage, expert_coprocessing: true}")
    trace = build_model_trace(TINY, FP16, Batch(decode=((256, 4),)),
                              moe_dist=[1.0, 2.0, 3.0, 6.0])
    seg = next(sp for sp in plan(dev, trace, fidelity("op")) if sp.segment.name == "layers")
    low, info = expert_split(seg, "pim", "sa")
    assert info["tokens"] == {"0": 1, "1": 1, "2": 2, "3": 4}
    want, span = split_experts(info["tokens"], info["t_high"], info["t_low"])
    assert low == set(want) and info["makespan"] == span
    assert span < sum(info["t_high"].values())                    # co-processing helps here
    assert want and len(want) < 4                                 # a real split
    at = placed(dev, trace)
    for e in "0123":
        assert at[f"expert{e}.gate_up_proj"][0] == ("pim" if e in low else "sa")
    moved = [at[f"expert{e}.gate_up_proj"] for e in low]
    kept = [at[f"expert{e}.gate_up_proj"] for e in set("0123") - low]
    assert any(_overlap(a, b) for a in moved for b in kept)      # both units at once


def test_expert_coprocessing_refuses_grouped_experts(tmp_path):
    dev = device(tmp_path, "{type: duplex_stage, expert_coprocessing: true}\n"
                 "mapping: {fusion: {grouped_experts: true}}")
    with pytest.raises(ConfigError, match="moe_kernel: loop") as e:
        simulate(dev, iteration(decode=((256, 4),)))
    assert "scheduling.expert_coprocessing" in str(e.value)


def test_not_exclusive_lets_the_units_overlap(tmp_path):
    free = device(tmp_path, "{type: duplex_stage, exclusive: false}")
    at = placed(free, iteration(prefill=(32,), decode=((256, 4),)))
    assert _overlap(at["attn.p32.qk"], at["attn.d256.qk"])


def test_expert_memory_spaces_move_whole(tmp_path):
    """Sec 5.3: experts round-robin in the bank-bundle memory spaces, a space moved as a whole
    (here 2 spaces: experts 0 and 2, and 1 and 3)."""
    from accelsim.engine.fidelities import fidelity
    from accelsim.engine.plan import plan
    from accelsim.engine.policies.coprocessing import expert_split

    dev = device(tmp_path, "{type: duplex_stage, expert_coprocessing: true, "
                 "expert_memory_spaces: 2}")
    trace = build_model_trace(TINY, FP16, Batch(decode=((256, 4),)),
                              moe_dist=[1.0, 2.0, 3.0, 6.0])
    seg = next(sp for sp in plan(dev, trace, fidelity("op")) if sp.segment.name == "layers")
    _, per = expert_split(seg, "pim", "sa")
    low, info = expert_split(seg, "pim", "sa", spaces=2)
    assert info["spaces"] == {"0": ["0", "2"], "1": ["1", "3"]}
    assert info["tokens"] == {"0": 1 + 2, "1": 1 + 4}
    assert info["t_high"]["0"] == per["t_high"]["0"] + per["t_high"]["2"]
    want, span = split_experts(info["tokens"], info["t_high"], info["t_low"])
    assert low == {e for g in want for e in info["spaces"][g]} and span == info["makespan"]
    at = placed(dev, trace)
    for e in "0123":
        assert at[f"expert{e}.gate_up_proj"][0] == ("pim" if e in low else "sa")


# -- opb_threshold ------------------------------------------------------------------------------
def _gemms() -> Trace:
    """Three independent fp16 weight GEMMs, K = N = 1024: intensities 0.998 (m=1), 7.88 (m=8),
    56.9 (m=64) FLOP/byte (2mNK / (2mK + 2KN + 2mN))."""
    ops = tuple(Gemm(f"g{m}", m=m, n=1024, k=1024, dtype="fp16", b_shared=True, deps=())
                for m in (1, 8, 64))
    return Trace("gemms", (Segment("layers", ops),))


@pytest.mark.parametrize("threshold, low", [(4, {"g1"}), (10, {"g1", "g8"}), (0.5, set())])
def test_threshold_rule(tmp_path, threshold, low):
    t = _gemms()
    assert [round(o.intensity(), 2) for o in t.segments[0].ops] == [1.0, 7.88, 56.89]
    dev = device(tmp_path, f"{{type: opb_threshold, threshold: {threshold}}}")
    at = placed(dev, t)
    assert {k for k, v in at.items() if v[0] == "pim"} == low
    assert {k for k, v in at.items() if v[0] == "sa"} == {"g1", "g8", "g64"} - low


def test_threshold_on_a_model_iteration(tmp_path):
    dev = device(tmp_path, "{type: opb_threshold, threshold: 4}")
    trace = iteration(prefill=(32,), decode=((256, 4),))
    c = simulate(dev, trace).columns
    from accelsim.engine.plan import lower
    ops = {o.name: o for s in lower(dev, trace).segments for o in s.ops}
    checked = set()
    for i, name in enumerate(c["op"]):
        op, unit = ops[name], c["unit"][i]
        if op.category == "gemm" and dev.units["pim"].accepts(op):
            assert (unit == "pim") == (op.intensity() < 4), name
            checked.add(unit)
    assert checked == {"pim", "sa"}                               # both sides exercised


def test_threshold_lowers_low_intensity_attention_for_the_low_unit(tmp_path):
    """GQA decode attention sits at about 4 FLOP/byte (the paper: 4-8), prefill well above: at
    threshold 8 the decode attention is lowered for the PIM, the prefill one stays fused."""
    dev = gpu_pim(tmp_path, "{type: opb_threshold, threshold: 8}")
    trace = iteration(prefill=(32,), decode=((256, 4),))
    att = {o.name: o for o in trace.segments[1].ops if o.kind == "attention"}
    assert 4 < att["attn.d256"].intensity() < 8 < att["attn.p32"].intensity()
    at = placed(dev, trace)
    assert at["attn.p32"][0] == "gpu"                                # fused, above 8
    from accelsim.engine.plan import lower
    from accelsim.engine.policies import make_policy
    ops = {o.name: o for sg in lower(dev, make_policy(dev.policy_config, dev).rewrite(trace))
           .segments for o in sg.ops}
    for part in ("attn.d256.qk", "attn.d256.pv"):                    # lowered, below 8
        assert ops[part].intensity() < 8 and at[part][0] == "pim", part
    at4 = placed(gpu_pim(tmp_path, "{type: opb_threshold, threshold: 4}"), trace)
    assert at4["attn.d256"][0] == "gpu"                              # 4.02 is not below 4


# -- determinism ----------------------------------------------------------------------------
def test_deterministic(tmp_path):
    cfg = "{type: duplex_stage, expert_coprocessing: true, attention_coprocessing: true}"
    trace = build_model_trace(TINY, FP16, Batch(prefill=(32,), decode=((256, 4),)),
                              moe_dist=[1.0, 2.0, 3.0, 6.0])
    a = simulate(device(tmp_path, cfg, name="a"), trace)
    b = simulate(device(tmp_path, cfg, name="b"), trace)
    assert a.cycles == b.cycles
    for k in ("op", "unit", "start", "end"):
        assert np.array_equal(np.asarray(a.columns[k]), np.asarray(b.columns[k]))
