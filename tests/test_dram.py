"""Bank-level DRAM (type: dram): standards as data, first-principles checks of the closed forms,
the memory in a device, and the micro-benchmark's report."""
from __future__ import annotations

import math

import pytest

import accelsim
from accelsim.errors import AccelsimError
from accelsim.memory.dram import (LATENCY_CASES, PATTERNS, idle_latency, load_standard,
                                  standard_names, sustained)
from accelsim.memory.dram.cli import report


@pytest.mark.parametrize("name", standard_names())
def test_every_standard_loads_and_cites_its_source(name):
    s = load_standard(name)
    assert s.source and "@" in s.source          # repository@commit:path
    for p in PATTERNS:
        v = sustained(s, p)
        assert 0 < v.gb_s <= v.peak_gb_s and v.bound
    for c in LATENCY_CASES:
        assert idle_latency(s, c) > 0


def test_peak_is_bus_times_rate():
    """HBM2: 128 bit x 2 Gb/s = 32 GB/s per channel, 256 GB/s per 8-channel stack; HBM3:
    32 pseudo-channels x 32 bit x 6.4 Gb/s = 819.2 GB/s; DDR4-3200 at tCK 0.63 ns: 25.40."""
    assert load_standard("hbm2").peak_gb_s == pytest.approx(32.0)
    h3 = load_standard("hbm3")
    assert h3.peak_gb_s * h3.organisation.channels_per_stack == pytest.approx(819.2)
    assert load_standard("ddr4").peak_gb_s == pytest.approx(64 / 8 * 2 / 0.63)


def test_random_reads_are_bounded_by_four_activations_per_tfaw():
    s = load_standard("hbm2")
    t = s.timing
    bound = 4 * s.organisation.burst_bytes / (t.tFAW * t.tCK_ns)
    v = sustained(s, "random", refresh=False)
    assert v.gb_s == pytest.approx(bound) and "tFAW" in v.bound


def test_one_bank_is_bounded_by_trc():
    s = load_standard("ddr4")
    t = s.timing
    v = sustained(s, "one_bank", refresh=False)
    assert v.gb_s == pytest.approx(s.organisation.burst_bytes / ((t.tRAS + t.tRP) * t.tCK_ns))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_refresh_costs_trfc_over_trefi(pattern):
    s = load_standard("lpddr4")
    on, off = sustained(s, pattern, True).gb_s, sustained(s, pattern, False).gb_s
    assert on / off == pytest.approx(1 - s.timing.tRFC / s.timing.tREFI)


def test_a_stream_beats_mixed_and_any_pattern_beats_one_bank():
    """(Random reads may beat a stream on multi-rank DDR4: DRAMsim3 shows 91% vs 80%.)"""
    for name in standard_names():
        s = load_standard(name)
        seq, rw, rnd, one = (sustained(s, p).gb_s for p in PATTERNS)
        assert seq >= rw and min(seq, rnd) > one, name


def test_idle_latencies_add_activation_and_precharge():
    s = load_standard("hbm2")
    t = s.timing
    hit, closed, conflict = (idle_latency(s, c) for c in LATENCY_CASES)
    assert hit == t.CL + s.burst_ck
    assert closed - hit == t.tRCD and conflict - closed == t.tRP


def test_bank_group_interleaving_hides_tccd_l():
    """HBM3 (tCCD_L = 2 bursts) streams near the bus peak because its mapping alternates bank
    groups per burst. With rows kept in one bank group and a 16-request queue, only a row's
    first and last 15 bursts overlap its neighbours'; the other 2 of its 32 wait tCCD_L (and
    the next row's activation, issued 15 bursts ahead, stays hidden)."""
    from accelsim.memory.dram.standard import with_overrides
    h3 = load_standard("hbm3")
    one_bg = with_overrides(h3, organisation={"address_mapping": "rorabgbachco"})
    assert sustained(h3, "seq", False).efficiency > 0.85
    tb, ccdl = h3.burst_ck, h3.timing.tCCD_L
    expect = 32 * tb / (30 * tb + 2 * ccdl)
    assert sustained(one_bg, "seq", False, queue_depth=16).efficiency == pytest.approx(expect)
    assert "exposed" in sustained(one_bg, "seq", False, queue_depth=4).bound


def _dev(**mem):
    return accelsim.arch_from_dict({
        "name": "t", "clock_ghz": 1.0, "tech_node_nm": 7,
        "units": {"sa": {"type": "systolic_array", "rows": 32, "cols": 32, "dataflow": "os",
                         "pe_dtype": "bf16"}},
        "memory": {"hbm": {"type": "dram", "standard": "hbm2", **mem}}})


def test_the_memory_streams_at_channels_times_the_sustained_rate():
    dev = _dev(stacks=2)
    m = dev.memories["hbm"]
    assert m.channels == 16
    assert m.bandwidth_gb_s == pytest.approx(16 * sustained(load_standard("hbm2"), "seq").gb_s)
    assert "sustained" in m.describe()
    over = _dev(bandwidth_gb_s=100).memories["hbm"]
    assert over.bandwidth_gb_s == pytest.approx(100) and "override" in over.describe()
    tfaw = _dev(timing={"tFAW": 16}).memories["hbm"]
    assert tfaw.sustained("random").gb_s > m.sustained("random").gb_s


def test_simulation_prices_the_standard_and_reports_unknown_energy_without_a_source():
    from accelsim.workload import Gemm, Trace
    tr = Trace.from_ops("g", [Gemm("g", m=64, n=4096, k=4096, dtype="bf16")])
    r = accelsim.simulate(_dev(), tr)
    assert r.cost.dram_kind == "hbm2" and r.cost.energy_j > 0
    r5 = accelsim.simulate(_dev(standard="lpddr5"), tr)
    assert math.isnan(r5.cost.energy_j) and r5.cost.unmodelled == ("hbm",)


@pytest.mark.parametrize("mem, match", [
    ({"standard": "hbm2e"}, "no sourced timing"),
    ({"timing": {"tRFC": 99999}}, "tRFC"),
    ({"timing": {"tFOO": 1}}, "tFOO"),
    ({"organisation": {"bankgroups": 0}}, "bankgroups"),
])
def test_bad_dram_configs_are_located_errors(mem, match):
    with pytest.raises(AccelsimError, match=match) as e:
        _dev(**mem)
    assert "memory.hbm" in str(e.value)


def test_report_has_every_pattern_and_latency():
    r = report("hbm2", channels=8)
    assert r["peak_gb_s"] == pytest.approx(256)
    assert set(r["patterns"]) == set(PATTERNS) and set(r["idle_latency"]) == set(LATENCY_CASES)
    with pytest.raises(AccelsimError, match="unknown DRAM standard"):
        report("hbm9")


def test_closed_forms_match_dramsim3_on_its_own_parameters():
    """experiments/validation/dram: DRAMsim3 (built from source, run_dramsim3.py) on HBM2, DDR4
    and LPDDR4 single channels, four patterns, refresh on and off: our sustained bandwidth
    within 10% and idle latency within 2 cycles of it on every case."""
    from accelsim.memory.dram.validate import compare
    bw, lat = compare()
    assert len(bw) == 24 and len(lat) == 9
    assert all(r["within"] for r in bw), [r for r in bw if not r["within"]]
    assert all(r["within"] for r in lat), [r for r in lat if not r["within"]]


def test_cli_prints_patterns_and_writes_json(tmp_path, capsys):
    import json
    from accelsim.cli import main
    out = tmp_path / "d.json"
    assert main(["dram", "hbm2", "--channels", "8", "--refresh", "off", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["patterns"]["seq"]["gb_s"] == pytest.approx(256.0)
    assert main(["dram", "hbm2", "--pattern", "random", "-t", "tFAW=15"]) == 0
    assert "tFAW" in capsys.readouterr().out
    assert main(["dram", "hbm9"]) == 2
    assert "did you mean" in capsys.readouterr().err
    assert main(["dram", "--list"]) == 0


# -- DRAM actions counted by the memory (actions.py) ------------------------------------------

def test_a_stream_opens_one_row_per_row_of_bytes():
    """1 MiB streamed through HBM2 (2 KiB rows, 64 B bursts): 512 activations, the other
    16384 - 512 bursts hit the open row; random traffic opens a row per burst."""
    m = _dev().memories["hbm"]
    a = m.actions(1 << 20, 0)
    assert a["activations"] == (1 << 20) / 2048 == 512
    assert a["row_hits"] == (1 << 20) / 64 - 512
    assert a["read_bits"] == 8 * (1 << 20) and a["write_bits"] == 0
    r = m.actions(1 << 20, 0, "random")
    assert r["activations"] == (1 << 20) / 64 and r["row_hits"] == 0
    ddr4 = _dev(standard="ddr4").memories["hbm"]
    assert ddr4.actions(0, 1 << 20)["activations"] == (1 << 20) / 8192


def test_refresh_count_is_elapsed_over_trefi_times_channels_and_ranks():
    hbm = _dev(stacks=2).memories["hbm"]            # 16 channels, 1 rank, tREFI 3900 x 1 ns
    assert hbm.background_actions(1e-3)["refreshes"] == pytest.approx(1e-3 / 3.9e-6 * 16)
    ddr4 = _dev(standard="ddr4").memories["hbm"]      # 2 ranks, tREFI 12480 x 0.63 ns
    assert ddr4.background_actions(1e-3)["refreshes"] == pytest.approx(
        1e-3 / (12480 * 0.63e-9) * ddr4.channels * 2)
    assert _dev(refresh=False).memories["hbm"].background_actions(1.0) == {}


def test_dram_energy_is_the_sum_of_counts_times_the_cited_constants():
    """HBM2: bits at 6.25 pJ/bit less the 828 pJ / 8 KiBit activation share (the cited figure
    contains it), every counted activation at 828 pJ, every refresh at
    1.2 V x (250 - 55) mA x 260 ns = 60.84 nJ (DRAMsim3 HBM2_8Gb_x128.ini IDDs)."""
    from accelsim.cost import techlib
    from accelsim.workload import Gemm, Trace
    tr = Trace.from_ops("g", [Gemm("g", m=64, n=4096, k=4096, dtype="bf16")])
    r = accelsim.simulate(_dev(), tr)
    acts = {k.split(".", 1)[1]: v for k, v in r.actions.items() if k.startswith("hbm.")}
    e_bit = techlib.get("dram", "access_bit", kind="hbm2").value
    e_act = techlib.get("dram", "activate", kind="hbm2").value
    e_ref = techlib.get("dram", "refresh", kind="hbm2").value
    assert (e_bit, e_act, e_ref) == (6.25, 828.0, 60840.0)
    assert e_ref == pytest.approx(1.2 * (250 - 55) * 260 * 1.0)
    core = e_bit - e_act / (8 * 1024)
    by = r.cost.energy_by_component
    bits = acts["read_bits"] + acts["write_bits"]
    assert by["hbm"] == pytest.approx(bits * core * 1e-12)
    assert by["hbm.activate"] == pytest.approx(acts["activations"] * e_act * 1e-12)
    assert acts["activations"] == pytest.approx(bits / 8 / 2048)
    assert by["hbm.refresh"] == pytest.approx(acts["refreshes"] * e_ref * 1e-12)
    assert acts["refreshes"] == pytest.approx(r.latency_s / 3.9e-6 * 8)
    assert r.cost.dram_activations == pytest.approx(acts["activations"])


def test_kinds_without_sourced_activation_or_refresh_count_them_without_energy():
    """HBM3 (hwcomponents-cacti per-bit figure only): activations and refreshes are reported
    but priced only through the per-bit figure; LPDDR5 has no energy at all."""
    from accelsim.workload import Gemm, Trace
    tr = Trace.from_ops("g", [Gemm("g", m=64, n=4096, k=4096, dtype="bf16")])
    r = accelsim.simulate(_dev(standard="hbm3"), tr)
    assert r.actions["hbm.activations"] > 0 and r.actions["hbm.refreshes"] > 0
    assert set(k for k in r.cost.energy_by_component if k.startswith("hbm")) == {"hbm"}
    assert math.isnan(accelsim.simulate(_dev(standard="lpddr5"), tr).cost.energy_j)


def test_per_op_results_show_the_rows_each_op_opens():
    from accelsim.workload import Gemm, Trace
    tr = Trace.from_ops("g", [Gemm("g", m=64, n=4096, k=4096, dtype="bf16")])
    r = accelsim.simulate(_dev(), tr)
    row = r.per_op.iloc[0]
    assert row.dram_activations == pytest.approx(
        (row.dram_read_bytes + row.dram_write_bytes) / 2048)
    assert row.dram_activations == pytest.approx(r.actions["hbm.activations"])
    bw = accelsim.arch_from_dict({
        "name": "t", "clock_ghz": 1.0, "tech_node_nm": 7,
        "units": {"sa": {"type": "systolic_array", "rows": 32, "cols": 32, "dataflow": "os",
                         "pe_dtype": "bf16"}},
        "memory": {"dram": {"bandwidth_gb_s": 100}}})
    assert math.isnan(accelsim.simulate(bw, tr).per_op.iloc[0].dram_activations)
