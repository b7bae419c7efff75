"""Duplex hardware (issue 15, part 1): the bank-bundle read mode (4x from the standard's timing),
Logic-PIM / BankGroup-PIM / Bank-PIM peaks and Op/B, what they accept, their costs, the Duplex
configs and systems, the area breakdown and the first reproduction rows."""
from __future__ import annotations

import math

import pytest

import accelsim
from accelsim.arch.device import load_arch
from accelsim.errors import AccelsimError
from accelsim.memory.dram.bank_bundle import bundle_read, bundle_read_ck
from accelsim.memory.dram.standard import load_standard, with_overrides
from accelsim.workload.ops import Gemm, Vector

from conftest import ROOT

DUPLEX = ROOT / "configs" / "duplex"


def _unit(name: str):
    return load_arch(DUPLEX / f"{name}.yaml").units["lpim"]


def _dev(unit: dict, mem: dict | None = None):
    return accelsim.arch_from_dict({
        "name": "lpim-test", "clock_ghz": 1.0, "tech_node_nm": 7,
        "units": {"lpim": {"type": "logic_pim", "clock_ghz": 0.65, **unit}},
        "memory": {"hbm": mem or {"type": "dram", "standard": "duplex_hbm3", "stacks": 1}}})


# -- bank bundles ------------------------------------------------------------------------------

def test_bank_bundle_is_4x_a_pseudo_channel():
    """8 banks x 32 B per tCCD_L (4 tCK) = 64 B/tCK against the 32-bit bus at 4 beats per tCK
    (16 B/tCK): 4x, column-bound (128 tCK per row-set against 78 for eight activations)."""
    std = load_standard("duplex_hbm3")
    b = bundle_read(std)
    assert b.banks_per_bundle == 8 and b.bundles == 4
    assert b.row_ck == 32 * std.timing.tCCD_L == 128
    assert b.ratio == pytest.approx(4.0, rel=1e-12)
    assert "column reads" in b.bound
    # per stack: 32 pseudo-channels x 64 B / 0.769 ns = 2.66 TB/s, the paper's 21.3 TFLOPS / 8
    assert 32 * b.peak_gb_s == pytest.approx(2663.2, abs=0.1)
    assert b.gb_s == pytest.approx(b.peak_gb_s * (1 - 455 / 5070))


def test_bank_bundle_rank_constraints_bind_when_tfaw_is_long():
    """With tFAW = 80 tCK eight activations take 160 tCK > 128 of reads: 3.2x, tFAW-bound;
    without the four-activate rule (the authors' ALL-ACT) it is 4x again."""
    std = with_overrides(load_standard("duplex_hbm3"), timing={"tFAW": 80})
    b = bundle_read(std)
    assert "tFAW" in b.bound and b.ratio == pytest.approx(4.0 * 128 / 160)
    assert bundle_read(std, faw=False).ratio == pytest.approx(4.0)


def test_all_bank_bundle_exposes_its_row_turnaround():
    """One bundle of all 32 banks (Bank-PIM): 16x at the column rate, but the PRE/ACT turnaround
    (tRTP + tRP + tRCD = 8 + 19 + 19) is exposed: 16 x 128 / 174."""
    std = load_standard("duplex_hbm3")
    b = bundle_read(std, banks_per_group=8, faw=False)
    assert b.bundles == 1 and b.banks_per_bundle == 32
    assert b.row_ck == 128 + 8 + 19 + 19
    assert b.ratio == pytest.approx(16 * 128 / 174)
    assert b.peak_gb_s / (std.peak_gb_s) == pytest.approx(16.0)


def test_bank_bundle_refuses_a_split_that_does_not_divide():
    with pytest.raises(AccelsimError, match="does not divide"):
        bundle_read(load_standard("duplex_hbm3"), banks_per_group=3)
    with pytest.raises(AccelsimError, match="pseudo-channel"):
        bundle_read_ck(load_standard("duplex_hbm3"), 1e6, 0)


# -- the units ---------------------------------------------------------------------------------

def test_logic_pim_peak_and_opb():
    u = _unit("duplex")
    assert u.stacks == 5 and u.channels == 160
    assert u.peak().macs == 5 * 32 * 512
    tflops_per_stack = 2 * u.peak().macs * u.clock_ghz / 1e3 / u.stacks
    assert tflops_per_stack == pytest.approx(21.2992)
    assert u.opb() == pytest.approx(8.0, rel=1e-3)
    assert _unit("bankgroup_pim").opb() == pytest.approx(u.opb())
    assert _unit("bank_pim").opb() == pytest.approx(1.0, rel=1e-4)


def test_logic_pim_roofline_gemv_is_bundle_bound_and_gemm_mac_bound():
    """m = 1: every weight byte once at the bundle rate; m = 64 (Op/B 64 > 8): the MACs bound."""
    u = _dev({})
    lp = u.units["lpim"]
    k, n = 4096, 14336
    gemv = lp.cost(Gemm("v", m=1, n=n, k=k, dtype="fp16"))
    bpc = lp.bundle_bytes_per_cycle()
    assert gemv.compute_cycles == pytest.approx(2 * k * n / bpc)
    assert gemv.actions["bundle_read_bits"] == 8 * 2 * k * n
    gemm = lp.cost(Gemm("g", m=64, n=n, k=k, dtype="fp16"))
    assert gemm.compute_cycles == pytest.approx(64 * k * n / (32 * 512))
    assert "MAC-bound" in gemm.kernel and "bundle-bound" in gemv.kernel
    # A (inputs) and C (results) move through the memory; B through the bundles only
    assert {t.operand for t in gemv.tiles.traffic} == {"A", "C"}


def test_logic_pim_restreams_weights_when_inputs_exceed_the_buffer():
    lp = _dev({"buffer_kb": 64}).units["lpim"]
    op = Gemm("g", m=64, n=1024, k=1024, dtype="fp16")   # A = 128 KB: two passes
    assert lp.cost(op).detail["passes"] == 2


def test_logic_pim_accepts_gemms_softmax_and_activations_only():
    lp = _dev({}).units["lpim"]
    assert lp.accepts(Gemm("g", m=8, n=64, k=64, dtype="fp16"))
    assert lp.accepts(Vector("s", op="softmax", rows=4, cols=256, dtype="fp16"))
    assert lp.accepts(Vector("a", op="silu", rows=4, cols=256, dtype="fp16"))
    v = lp.accepts(Vector("n", op="rmsnorm", rows=4, cols=256, dtype="fp16"))
    assert not v and "softmax or activation" in v.reason
    v = lp.accepts(Gemm("g", m=8, n=64, k=64, dtype="bf16"))
    assert not v and "fp16" in v.reason
    v = lp.accepts(Gemm("g", m=8, n=64, k=64, dtype="int8"))
    assert not v


def test_logic_pim_needs_a_dram_memory():
    d = accelsim.arch_from_dict({
        "name": "x", "clock_ghz": 1.0, "tech_node_nm": 7,
        "units": {"lpim": {"type": "logic_pim"}},
        "memory": {"hbm": {"type": "bandwidth", "bandwidth_gb_s": 100}}})
    v = d.units["lpim"].accepts(Gemm("g", m=1, n=64, k=64, dtype="fp16"))
    assert not v and "type: dram" in v.reason


def test_bad_logic_pim_key_is_one_clear_error():
    with pytest.raises(AccelsimError, match="modules_per_stack"):
        _dev({"modules_per_stack": 0})


def test_energy_uses_the_path_constants():
    """B's bundle reads are priced at the path's pJ/bit (+ the 909 pJ per 1 KB row), per kind."""
    from accelsim.cost.memory import dram_costs
    lp = {c.name: c for c in _unit("duplex").components()}
    bp = {c.name: c for c in _unit("bank_pim").components()}
    assert lp["bundle_reads"].params["kind"] == "hbm3_duplex_logic_pim"
    assert bp["bundle_reads"].params["kind"] == "hbm3_duplex_bank_pim"
    act = 909 / 8192
    assert dram_costs("hbm3_duplex_logic_pim")["read_bit"] == pytest.approx(1.81 + act)
    assert dram_costs("hbm3_duplex_bankgroup_pim")["read_bit"] == pytest.approx(2.68 + act)
    assert dram_costs("hbm3_duplex_bank_pim")["read_bit"] == pytest.approx(0.73 + act)
    assert dram_costs("hbm3_duplex_xpu")["read_bit"] == pytest.approx(3.48 + act)
    assert load_standard("duplex_hbm3").energy_kind == "hbm3_duplex_xpu"


def test_area_breakdown_at_7nm():
    """GEMM modules from the library land near the paper's 3.02 mm2; TSVs are the paper's
    10.89 mm2 on the logic die only; on the DRAM die logic and SRAM cost 10x."""
    a = _unit("duplex").area_breakdown_mm2(7)
    assert a["tsv"] == 10.89
    assert a["gemm"] == pytest.approx(3.02, rel=0.1)
    assert a["total"] == pytest.approx(sum(v for k, v in a.items() if k != "total"))
    g = _unit("bankgroup_pim").area_breakdown_mm2(7)
    assert g["tsv"] == 0 and g["gemm"] == pytest.approx(10 * a["gemm"])


# -- configs and systems -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["xpu", "duplex", "bankgroup_pim", "bank_pim"])
def test_duplex_devices_load(name):
    d = load_arch(DUPLEX / f"{name}.yaml")
    hbm = d.memories["hbm"]
    assert hbm.channels == 160 and hbm.capacity_bytes == 80e9
    assert hbm.bandwidth_gb_s == pytest.approx(3352)
    assert d.units["gpu"].peak(("fp16", "fp16")).macs * 2 * 1.83 / 1e3 == pytest.approx(989.4, rel=1e-3)
    assert ("lpim" in d.units) == (name != "xpu")


@pytest.mark.parametrize("name,count", [("gpu_4x", 4), ("duplex_4x", 4), ("bank_pim_4x", 4),
                                        ("gpu_8x", 8), ("duplex_8x", 8), ("gpu_2x8", 16),
                                        ("duplex_2x8", 16), ("duplex_pe_4x", 4),
                                        ("duplex_pe_et_4x", 4), ("duplex_pe_8x", 8),
                                        ("duplex_pe_et_8x", 8), ("duplex_pe_2x8", 16),
                                        ("duplex_pe_et_2x8", 16), ("gpu_2x8_tp16", 16), ("gpu_2x8_dp2", 16),
                                        ("gpu_4x8", 32)])
def test_duplex_systems_load(name, count):
    from accelsim.system import load_system
    s = load_system(DUPLEX / "systems" / f"{name}.yaml")
    assert s.config.devices.count == count


@pytest.mark.parametrize("name,pe,et", [("duplex", False, False), ("bank_pim", False, False),
                                         ("bankgroup_pim", False, False),
                                         ("duplex_pe", True, False), ("duplex_pe_et", True, True)])
def test_duplex_devices_dispatch_with_the_stage_policy(name, pe, et):
    """Every PIM device schedules with duplex_stage, Logic-PIM / the PIM as the low-Op/B unit
    (named, and the Op/B inference agrees); +PE and +PE+ET switch the co-processing on, and
    +PE turns the GPU's grouped-experts fusion off (it would merge the experts it splits)."""
    from accelsim.engine.policies.opb_roles import opb_roles
    d = load_arch(DUPLEX / f"{name}.yaml")
    c = d.policy_config
    assert c.type == "duplex_stage" and (c.low_opb_unit, c.high_opb_unit) == ("lpim", "gpu")
    assert (c.expert_coprocessing, c.attention_coprocessing) == (pe, et)
    inferred = opb_roles(d, None)
    assert (inferred.low, inferred.high) == ("lpim", "gpu")
    assert inferred.balances["lpim"].opb < 10 < 400 < inferred.balances["gpu"].opb
    assert (c.expert_memory_spaces == 4) == pe


def test_duplex_stage_dispatch_on_decode_and_mixed_iterations():
    """Mixtral on one Duplex device. Decode-only: the MoE layer (router, experts, combine) and
    attention on Logic-PIM, projections, norms and the LM head on the xPU; faster than the xPU
    alone. Mixed: the MoE layer and the prefill attention on the xPU, the decoding sequences'
    attention still on Logic-PIM (the paper's stage rule, Sec 4)."""
    from accelsim.workload.zoo import build_iteration, build_trace
    tr = build_trace("mixtral-8x7b", phase="decode", batch=32, ctx=1024, act_dtype="fp16")
    dev = load_arch(DUPLEX / "duplex.yaml")
    r_d = accelsim.simulate(dev, tr)
    r_x = accelsim.simulate(load_arch(DUPLEX / "xpu.yaml"), tr)
    units = dict(zip(r_d.columns["op"], r_d.columns["unit"]))
    assert units["experts.gate_up_proj"] == "lpim" and units["attn.qk"] == "lpim"
    assert units["router"] == units["moe_combine"] == "lpim"
    assert units["qkv_proj"] == units["lm_head"] == "gpu"
    assert units["attn.softmax"] == units["experts.act"] == "lpim"
    assert r_d.latency_s < r_x.latency_s
    mixed = build_iteration("mixtral-8x7b", prefill=(64,), decode=((256, 8),), act_dtype="fp16")
    units = dict(zip(*(accelsim.simulate(dev, mixed).columns[k] for k in ("op", "unit"))))
    decode_attn = {u for op, u in units.items() if op.startswith("attn.d")}
    prefill_attn = {u for op, u in units.items() if op.startswith("attn.p")}
    assert decode_attn == {"lpim"} and prefill_attn == {"gpu"}
    assert units["router"] == "gpu" and {u for op, u in units.items()
                                         if op.startswith("expert")} == {"gpu"}


@pytest.mark.slow
def test_reproduce_duplex_rows():
    """The whole reproduction (about a minute: the 27-point grid of 5 designs)."""
    from accelsim.reproduce import reproduce
    rows = {r.id: r for r in reproduce("duplex")}
    assert rows["DX-bundle-4x"].verdict == "within" and rows["DX-bundle-4x"].ours == 4.0
    assert rows["DX-peak"].verdict == "within"
    assert rows["DX-opb-bank"].verdict == "within"
    assert rows["DX-19-gemm"].verdict == "within"
    assert rows["DX-19"].ours == pytest.approx(_unit("duplex").area_breakdown_mm2(7)["total"])
    assert 0 < rows["DX-15-mixtral"].ours < 100 and rows["DX-16"].ours > 0
    assert sum(k.startswith("DX-23-") for k in rows) == 27 * 13
    assert sum(k.startswith("DX-24-") for k in rows) == 60
    assert not any(r.verdict == "pending" for r in rows.values())
    assert rows["DX-1"].ours >= rows["DX-3"].ours > 1
    assert sum(k.startswith("DX-22-") for k in rows) == 108
    assert all(math.isfinite(r.ours) for r in rows.values() if r.verdict != "pending")


def test_cited_activation_rows_name_their_source():
    """The per-path rows' 909 pJ is FGDRAM's (via the authors' power.h), not an IDD derivation."""
    from accelsim.cost import techlib
    rows = [e for e in techlib.find("dram", "activate") if "duplex" in e.param("kind")]
    assert len(rows) == 4
    for e in rows:
        assert e.value == 909 and "power.h" in e.source and e.param("in_access_bit") == "no"


def test_edap_crossover_between_bank_pim_and_logic_pim():
    """Bank-PIM (16x bandwidth, Op/B 1) has the best EDAP at Op/B 1; Logic-PIM beats it from
    Op/B 8, as in the paper's figure; BankGroup-PIM (Logic-PIM on the DRAM die) is never better
    than Logic-PIM."""
    from accelsim.reproduce.duplex import edap
    low, high = edap(1), edap(8)
    assert low["bank_pim"] < low["logic_pim"] < low["bankgroup_pim"] == 1.0
    assert high["logic_pim"] < high["bank_pim"]
    assert all(edap(o)["logic_pim"] < edap(o)["bankgroup_pim"] for o in (1, 4, 32))


def test_bundle_that_does_not_fit_the_memory_is_a_verdict():
    d = _dev({"bundle_banks_per_group": 3})
    v = d.units["lpim"].accepts(Gemm("g", m=1, n=64, k=64, dtype="fp16"))
    assert not v and "does not divide" in v.reason


def test_more_stacks_than_the_memory_has_is_refused():
    lp = _dev({"stacks": 2}).units["lpim"]      # the memory has one stack
    v = lp.accepts(Gemm("g", m=1, n=64, k=64, dtype="fp16"))
    assert not v and "exceeds the 1 stack" in v.reason
    assert _dev({"stacks": 1}).units["lpim"].stacks == 1


@pytest.mark.parametrize("model,systems", [("glam-143b", "8x"), ("grok-1", "2x8")])
def test_glam_and_grok1_run_on_the_papers_systems(model, systems):
    """GLaM on 8 devices, Grok1 on 2 x 8: a decode iteration runs, Duplex ahead of the xPUs."""
    from accelsim.system import load_system, simulate_system
    from accelsim.workload.zoo import build_trace
    tr = build_trace(model, phase="decode", batch=64, ctx=1536, act_dtype="fp16")
    lat = {d: simulate_system(load_system(DUPLEX / "systems" / f"{d}_{systems}.yaml"), tr).latency_s
           for d in ("gpu", "duplex")}
    assert all(math.isfinite(v) and v > 0 for v in lat.values())
    assert lat["duplex"] < lat["gpu"]


# -- continuous batching (duplex_serving.py) ---------------------------------------------------

def _serve(system: str, seed: int = 0):
    """16 Gaussian (64, 96)-token Mixtral requests, Poisson arrivals at 400/s, batch 8."""
    from accelsim.system import load_system
    from accelsim.workload.requests import synth_requests
    from accelsim.workload.serving import simulate_serving
    reqs = synth_requests(16, "normal:64,8,96,12", rate=400.0, seed=seed)
    return simulate_serving(load_system(DUPLEX / "systems" / f"{system}.yaml"), "mixtral-8x7b",
                            reqs, max_batch=8, act_dtype="fp16", ctx_bucket=32,
                            prompt_bucket=32, progress=False).summary()


def test_continuous_batching_on_duplex_beats_the_gpu_system_and_is_deterministic():
    """A decode-heavy MoE trace (outputs longer than prompts) through continuous batching with
    mixed prefill/decode iterations: Duplex makes tokens faster than the GPU system and cuts
    the median time between tokens; the TBT / TTFT / E2E percentiles are there and ordered;
    the same inputs give the same summary bit for bit."""
    gpu, dup = _serve("gpu_4x"), _serve("duplex_4x")
    assert dup["output_tokens"] == gpu["output_tokens"]
    assert dup["throughput_tok_s"] > gpu["throughput_tok_s"]
    assert dup["tbt_p50_s"] < gpu["tbt_p50_s"]
    for s in (gpu, dup):
        for k in ("tbt", "ttft", "e2e"):
            p = [s[f"{k}_p{q}_s"] for q in (50, 90, 99)]
            assert all(math.isfinite(v) and v > 0 for v in p) and p == sorted(p)
    assert _serve("duplex_4x") == dup


def test_window_arithmetic():
    """One request lifetime of L_out iterations: B / 2 mixed (2 prompts each), the rest
    decode-only; throughput B L_out / T; the median gap is the decode-only iteration."""
    from accelsim.reproduce.duplex_serving import Window
    w = Window(batch=32, l_in=256, l_out=256, t_decode_s=0.01, t_mixed_s=0.05)
    assert w.mixed == 16
    assert w.time_s == pytest.approx(16 * 0.05 + 240 * 0.01)
    assert w.throughput_tok_s == pytest.approx(32 * 256 / w.time_s)
    assert w.requests_s == pytest.approx(32 / w.time_s) and w.tbt_p50_s == 0.01
    short = Window(batch=128, l_in=64, l_out=32, t_decode_s=0.01, t_mixed_s=0.05)
    assert short.mixed == 32 and short.tbt_p50_s == 0.05   # every iteration mixed


def test_window_matches_a_full_serving_run():
    """The steady-state window against simulate_serving on the same design (ramp-up and drain
    included, which the window leaves out): throughput within 15%, the Duplex / GPU ratio
    within 5%, the median TBT within 1%."""
    from accelsim.reproduce.duplex_serving import check_window
    c = {d: check_window(design=d, batch=16, length=128) for d in ("GPU", "Duplex")}
    for v in c.values():
        assert v["serving_tok_s"] == pytest.approx(v["window_tok_s"], rel=0.15)
        assert v["serving_tbt_p50_s"] == pytest.approx(v["window_tbt_p50_s"], rel=0.01)
    ratio = lambda k: c["Duplex"][k] / c["GPU"][k]  # noqa: E731
    assert ratio("serving_tok_s") == pytest.approx(ratio("window_tok_s"), rel=0.05)


# -- energy: the paper's model on the xPU and Logic-PIM (Fig energy_breakdown, DX-15/16) --------

def _one_gemm():
    from accelsim.workload.trace import Segment, Trace
    g = Gemm("w", m=64, n=4096, k=4096, dtype="fp16", b_shared=True, deps=())
    return Trace("gemm", (Segment("layers", (g,)),))


def test_xpu_energy_of_a_gemm_by_hand():
    """64 x 4096 x 4096 FP16 weight GEMM on the xPU: 2^31 FLOPs x 0.23 pJ (= 2^30 MACs x 0.46 pJ)
    + (A 0.5 MiB + B 32 MiB read, C 0.5 MiB written) x 8 bits x 3.48 pJ/b + 33,792 activations
    of 1 KB rows x 909 pJ."""
    r = accelsim.simulate(load_arch(DUPLEX / "xpu.yaml"), _one_gemm())
    op = r.per_op.iloc[0]
    assert op.macs == 64 * 4096 * 4096
    moved = 64 * 4096 * 2 + 4096 * 4096 * 2 + 64 * 4096 * 2
    assert op.dram_read_bytes + op.dram_write_bytes == moved
    assert op.dram_activations == moved / 1024
    dram = moved * 8 * 3.48e-12 + moved / 1024 * 909e-12
    assert op.energy_dram_j == pytest.approx(dram, rel=1e-12)
    assert op.energy_j == pytest.approx(2 * 2**30 * 0.23e-12 + dram, rel=1e-12)
    assert r.cost.energy_j == pytest.approx(op.energy_j, rel=1e-12)    # no static power


def _gpu(extra: dict):
    return accelsim.arch_from_dict({
        "name": "gpu-test", "clock_ghz": 1.83, "tech_node_nm": 7,
        "units": {"gpu": {"type": "gpu", "sms": 132, "die_area_mm2": 814,
                          "mma_macs_per_sm_cycle": {"fp16": 2048, "bf16": 2048}, **extra}},
        "memory": {"hbm": {"type": "dram", "standard": "duplex_hbm3", "stacks": 5}}})


def test_gpu_energy_unknown_without_the_opt_in():
    """Without ``energy:`` the GPU's energy stays NaN (never a silent zero); with it, known."""
    plain = accelsim.simulate(_gpu({}), _one_gemm())
    assert math.isnan(plain.cost.energy_j) and not plain.cost.energy_known
    assert math.isnan(plain.per_op.energy_j.iloc[0])
    priced = accelsim.simulate(_gpu({"energy": {"mac_kind": "asap7_fp16_duplex"}}), _one_gemm())
    assert priced.cost.energy_known and priced.cost.energy_j > 0


@pytest.mark.parametrize("extra, match", [
    ({"energy": {"mac_kind": "horowitz"}}, "asap7_fp16_duplex"),
    ({"energy": {"mac_kind": "asap7_fp16_duplex"}, "die_area_mm2": None}, "die_area_mm2"),
    ({"energy": {"mac_pj": 0.46}}, "mac_pj")])
def test_gpu_energy_bad_input_is_one_clear_error(extra, match):
    with pytest.raises(AccelsimError, match=match):
        _gpu(extra)


def test_logic_pim_and_xpu_macs_share_the_cited_046_pj():
    """The authors' code charges FLOPs x 0.23 pJ on every processor: 0.46 pJ per MAC."""
    from accelsim.cost import techlib
    from accelsim.cost.estimator import arch_cost
    row = techlib.get("mac", "mac", kind="asap7_fp16_duplex")
    assert row.value == 0.46 and "power.h" in row.source and row.node_nm == 7
    cost = arch_cost(load_arch(DUPLEX / "duplex.yaml"))
    assert sum(e for _, e in cost.units["gpu"].parts("macs")) == 0.46
    assert sum(e for _, e in cost.units["lpim"].parts("pim_macs")) == 0.46


def test_window_tbt_quantiles_by_hand():
    """B64, L 512: 32 mixed gaps (3 s) and 480 decode gaps (1 s): p50 and p90 (rank 461) are a
    decode gap, p99 (rank 507) a mixed one."""
    from accelsim.reproduce.duplex_serving import Window
    w = Window(64, 512, 512, 1.0, 3.0)
    assert [w.tbt_quantile_s(q) for q in (0.5, 0.9, 0.99)] == [1.0, 1.0, 3.0]
    assert w.ttft_s == 3.0 and w.time_s == 32 * 3.0 + 480 * 1.0


def test_energy_stack_row_mixtral_b32_l256():
    """One config of Fig energy_breakdown through the steady-state windows: the GPU stack sums to
    1, FC runs on the xPU in both systems (same energy), Logic-PIM's MoE reads cost less than the
    xPU's (1.81 vs 3.48 pJ/b) at the same MAC energy, and the total is a row with a verdict."""
    from accelsim.reproduce import duplex_serving as ds
    from accelsim.reproduce import load_claims, row
    st = ds.energy_stack("Mixtral", 32, 256)
    assert sum(st["GPU"].values()) == pytest.approx(1.0)
    for kind in ds.KINDS:
        assert st["Duplex"][("FC", kind)] == pytest.approx(st["GPU"][("FC", kind)], rel=0.02)
    assert st["Duplex"][("MoE", "Comp")] == pytest.approx(st["GPU"][("MoE", "Comp")], rel=0.05)
    assert 0.45 < st["Duplex"][("MoE", "DRAM")] / st["GPU"][("MoE", "DRAM")] < 0.7
    spec = next(c for c in load_claims("duplex")["claims"]
                if c["id"] == "DX-23-Mixtral-B32-L256-duplex-total")
    r = row(spec, sum(st["Duplex"].values()))
    assert spec["value"] == 0.714 and r.verdict == "within"
