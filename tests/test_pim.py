"""In-bank PIM (type: pim_bank): command timing from the DRAM standard, GEMV work split over
channels and banks, what it accepts, and that it takes decode attention from the NPU."""
from __future__ import annotations

import math

import pytest

import accelsim
from accelsim.errors import AccelsimError
from accelsim.workload import Gemm, Trace

from conftest import ROOT


def _dev(mem=None, pim=None, pins=None):
    return accelsim.arch_from_dict({
        "name": "npu-pim", "clock_ghz": 1.0, "tech_node_nm": 22,
        "units": {"sa": {"type": "systolic_array", "rows": 128, "cols": 128, "dataflow": "ws",
                         "pe_dtype": "bf16"},
                  "vec": {"type": "vector", "lanes": 128},
                  "pim": {"type": "pim_bank", "dtype": "bf16", **(pim or {})}},
        "memory": {"hbm": mem or {"type": "dram", "standard": "neupims_hbm2"}},
        **({"mapping": {"pins": pins}} if pins else {})})


def _gemv(batch=1, m=1, n=4096, k=1024):
    return Gemm("g", batch=batch, m=m, n=n, k=k, dtype="bf16")


def test_command_timing_matches_newtonsim_on_hbm2():
    """GWRITE = 32 x (tCCD_S + tCCD_L) = 96 (NewtonSim); a full-row tile
    tRP + tFAW (4/2 - 1) + tRCD + 2 x 64 COMPs = 186 tCK (NeuPIMs' scheduler assumes 184)."""
    pim = _dev().units["pim"]
    assert pim.gwrite_ck() == 96
    assert pim.tile_ck() == 14 + 30 * (4 / 2 - 1) + 14 + 2 * 64
    assert abs(pim.tile_ck() - 184) <= 2


def test_gemv_time_follows_chunks_and_tiles():
    pim = _dev(pim={"channels": 1}).units["pim"]
    base = pim.cost(_gemv(n=16 * 4, k=1024))             # 4 tiles, 1 chunk of 1024
    assert base.detail["tiles"] == 4 and base.detail["chunks"] == 1
    assert base.compute_cycles == pytest.approx(pim.gwrite_ck() + 4 * pim.tile_ck())
    twice_n = pim.cost(_gemv(n=16 * 8, k=1024))
    assert twice_n.detail["tiles"] == 8
    long_k = pim.cost(_gemv(n=64, k=4096))               # 4 chunks of a row each
    assert long_k.compute_cycles == pytest.approx(4 * base.compute_cycles)
    two_vectors = pim.cost(_gemv(m=2, n=64, k=1024))
    assert two_vectors.compute_cycles == pytest.approx(2 * base.compute_cycles)


def test_batch_elements_spread_over_channels_and_short_k_packs():
    pim = _dev().units["pim"]                            # 32 channels x 16 banks
    c = pim.cost(_gemv(batch=64, n=512, k=128))         # decode K^T q, 64 heads
    assert c.detail["elements_per_channel"] == 2
    assert c.detail["packed"] == 2                       # two heads' 128-long K share a row
    one = pim.cost(_gemv(batch=32, n=512, k=128))
    assert one.compute_cycles < c.compute_cycles


@pytest.mark.parametrize("op, why", [
    (Gemm("g", m=64, n=1024, k=1024, dtype="bf16"), "not GEMV-shaped"),
    (Gemm("g", m=1, n=1024, k=1024, dtype="int8"), "does not fit"),
    (Gemm("g", m=1, n=1024, k=1024, dtype="fp16"), "does not fit"),
])
def test_it_rejects_what_it_cannot_run_with_the_reason(op, why):
    v = _dev().units["pim"].accepts(op)
    assert not v and why in v.reason


def test_it_needs_a_dram_memory():
    dev = _dev(mem={"type": "bandwidth", "bandwidth_gb_s": 1000})
    v = dev.units["pim"].accepts(_gemv())
    assert not v and "type: dram" in v.reason


def test_decode_attention_goes_to_pim_and_is_faster_there():
    from accelsim.workload.zoo import build_trace
    tr = build_trace("gpt3-7b", phase="decode", batch=64, ctx=512)
    with_pim = accelsim.simulate(_dev(), tr).per_op
    npu = accelsim.simulate(_dev(pins={"attn.qk": "sa", "attn.pv": "sa"}), tr).per_op
    qk = lambda df: df[df.op == "attn.qk"].iloc[0]  # noqa: E731
    assert qk(with_pim).unit == "pim" and qk(npu).unit == "sa"
    assert qk(with_pim).cycles < qk(npu).cycles
    # the FC layers stay on the systolic array (m = batch 64 > max_rows)
    assert with_pim[with_pim.op == "qkv_proj"].iloc[0].unit == "sa"
    assert math.isfinite(accelsim.simulate(_dev(), tr).cost.energy_j)


def test_blocked_policy_keeps_pim_and_npu_traffic_apart():
    """Two independent ops (no dependency): a GEMV on the PIM banks and a weight GEMM on the
    systolic array. The default policy overlaps them (NeuPIMs' dual row buffer); ``blocked``
    (one row buffer: naive NPU+PIM) runs them one after the other."""
    gemv = Gemm("gemv", batch=64, m=1, n=512, k=128, dtype="bf16", deps=())
    fc = Gemm("fc", m=64, n=4096, k=4096, dtype="bf16", deps=())
    tr = Trace.from_ops("two", [gemv, fc])
    over = accelsim.simulate(_dev(pins={"gemv": "pim", "fc": "sa"}), tr)
    dev = _dev(pins={"gemv": "pim", "fc": "sa"})
    blocked = accelsim.simulate(accelsim.arch_from_dict(
        dev.resolved() | {"scheduling": {"type": "blocked"}}), tr)
    t = {r.op: r.cycles for r in over.per_op.itertuples()}
    assert over.cycles == pytest.approx(max(t.values()), rel=0.05)
    assert blocked.cycles == pytest.approx(sum(t.values()), rel=0.05)


def test_subbatch_interleave_rewrites_layers_into_overlapping_halves():
    """Two half-batch copies of every layer op; the layer cut after attention; prologue,
    L - 1 steady repeats and an epilogue; the work is unchanged; small batches untouched."""
    from accelsim.engine.policies.subbatch import interleave
    from accelsim.workload.zoo import build_trace
    tr = build_trace("gpt3-7b", phase="decode", batch=256, ctx=256, act_dtype="fp16")
    sbi = interleave(tr)
    names = [s.name for s in sbi.segments]
    assert names == ["embed", "layers.sbi_prologue", "layers", "layers.sbi_epilogue", "head"]
    body = sbi.segments[2]
    assert body.repeat == 31
    first = [o.name for o in body.ops][:2]
    assert first[0].startswith("a.") and any(o.name == "b.attn" for o in body.ops)
    assert sbi.flops() == pytest.approx(tr.flops())
    assert interleave(build_trace("gpt3-7b", phase="decode", batch=64, ctx=256)) is not None
    small = build_trace("gpt3-7b", phase="decode", batch=64, ctx=256)
    assert interleave(small) is small


def test_subbatch_interleaving_pays_at_large_batch_and_needs_the_dual_row_buffer():
    """On the NeuPIMs device at batch 512: interleaved sub-batches beat one batch (PIM
    attention of one overlaps the NPU layers of the other), and gating them as a single row
    buffer would (blocked) loses most of it."""
    from accelsim.workload.zoo import build_trace
    tr = build_trace("gpt3-7b", phase="decode", batch=512, ctx=512, act_dtype="fp16")
    cfg = ROOT / "configs" / "neupims" / "neupims.yaml"
    t = {s: accelsim.simulate(accelsim.load_arch(cfg, overrides=[f"scheduling={s}"]),
                              tr).latency_s
         for s in ("{type: greedy}", "{type: subbatch_interleave}",
                   "{type: subbatch_interleave, blocked: true}")}
    one, sbi, blocked = t.values()
    assert sbi < 0.8 * one and blocked > sbi


def test_hbm_pim_block_per_bank_pair_paced_by_tccd_l():
    """Samsung HBM-PIM on its pseudo-channel timing (PIMSimulator): 8 blocks x 16 lanes per
    pseudo-channel every tCCD_L = 4 tCK; a 1 KiB-row tile = tRP + tRCD + 4 x 64 COMPs."""
    dev = accelsim.arch_from_dict({
        "name": "hbm-pim", "clock_ghz": 1.0, "tech_node_nm": 20,
        "units": {"sa": {"type": "systolic_array", "rows": 32, "cols": 32, "dataflow": "os",
                         "pe_dtype": "fp16"},
                  "pim": {"type": "hbm_pim"}},
        "memory": {"hbm": {"type": "dram", "standard": "samsung_hbm_pim"}}})
    pim = dev.units["pim"]
    assert pim.peak().macs == 16 * 8 * 16 / 4
    assert pim.tile_ck() == 14 + 14 + 4 * (2 * 1024 // 32)
    assert pim.accepts(Gemm("g", m=1, n=4096, k=4096, dtype="fp16"))
    assert not pim.accepts(Gemm("g", m=64, n=4096, k=4096, dtype="fp16"))


def test_in_bank_reads_are_priced_in_bank_with_every_banks_activation():
    """The matrix a PIM GEMV reads never leaves the bank: its column reads cost Duplex's
    Bank-PIM path (187 pJ per 32 B, FGDRAM per-path HBM energy) and each bank's row opening
    the HBM2 ACT energy (828 pJ), not the 6.25 pJ/bit of an external read."""
    from accelsim.cost import techlib
    op = _gemv(batch=64, n=512, k=128)
    dev = _dev(pins={"g": "pim"})
    c = dev.units["pim"].cost(op)
    bits, acts = c.actions["pim_column_read_bits"], c.actions["pim_activations"]
    assert bits == 8 * 64 * 512 * 128 * 2                 # the K matrix, once
    tiles = c.detail["tiles"] * c.detail["elements_per_channel"] / c.detail["packed"]
    assert acts == tiles * 16 * 32                        # every bank of every channel
    e_bank = techlib.get("dram", "bank_read_bit", kind="hbm2").value
    assert e_bank == pytest.approx(187 / 256, rel=1e-3)
    by = accelsim.simulate(dev, Trace.from_ops("t", [op])).cost.energy_by_component
    assert by["pim.bank_access"] == pytest.approx((bits * e_bank + acts * 828.0) * 1e-12)
    assert by["pim.bank_access"] < bits * 6.25 * 1e-12 / 4


# -- channel placement and NeuPIMs' greedy balancing (pim_placement.py, pim_channels.py) ------

def test_greedy_balancing_and_round_robin_on_a_hand_checked_case():
    """3 channels, requests of lengths [100, 50, 50, 40] in arrival order (load = length).
    Greedy (decreasing load to the least-loaded channel): 100 -> 0, 50 -> 1, 50 -> 2,
    40 -> 1 (channels 1 and 2 tie at 50, lowest index): {100}, {50, 40}, {50}, makespan 100.
    Round robin: 100 -> 0, 50 -> 1, 50 -> 2, 40 -> 0: {100, 40}, {50}, {50}, makespan 140."""
    from accelsim.arch.units.pim_placement import assign_channels, channel_loads, makespan
    loads = [100, 50, 50, 40]
    assert assign_channels(loads, 3, "greedy") == [0, 1, 2, 1]
    assert channel_loads(loads, [0, 1, 2, 1], 3) == [100, 90, 50]
    assert makespan(loads, 3, "greedy") == 100
    assert assign_channels(loads, 3, "round_robin") == [0, 1, 2, 0]
    assert makespan(loads, 3, "round_robin") == 140
    assert makespan(loads, 1, "greedy") == makespan(loads, 1, "round_robin") == 240


def _ragged(lengths, pins=True, place=None, channels=3):
    """The 3-channel NPU+PIM device and a GPT-3 7B decode iteration of requests of
    ``lengths`` (arrival order = list order, given as the attention ops' request ids)."""
    from collections import defaultdict
    from dataclasses import replace
    from accelsim.workload.ops import Attention
    from accelsim.workload.zoo import build_iteration
    ids = defaultdict(list)
    for i, n in enumerate(lengths):
        ids[n].append(i)
    tr = build_iteration("gpt3-7b", decode=sorted((n, len(v)) for n, v in ids.items()),
                         act_dtype="bf16")
    segs = tuple(replace(s, ops=tuple(
        replace(o, tags=(*o.tags, ("requests", ",".join(map(str, ids[o.kv_len])))))
        if isinstance(o, Attention) else o for o in s.ops)) for s in tr.segments)
    dev = _dev(pim={"channels": channels, **({"placement": place} if place else {})},
               pins={"*attn*.qk": "pim", "*attn*.pv": "pim"})
    return dev, Trace(tr.name, segs, tr.meta)


def _pim_layer_cycles(r) -> float:
    df = r.per_op
    return float(df[(df.unit == "pim") & (df.segment == "layers") & (df.repeat == 0)]
                 .compute_cycles.sum())


@pytest.mark.parametrize("balance, channels_of", [
    ("greedy", [[100], [50, 40], [50]]), ("round_robin", [[100, 40], [50], [50]])])
def test_by_request_attention_takes_the_busiest_channels_time(balance, channels_of):
    """kv: by_request: one layer's PIM attention = the busiest channel's sum of its requests'
    one-channel GEMV times (the unit's own request_ck at each context), here the placement
    of the hand-checked case; interleaved KV spreads every op over all channels instead."""
    lengths = [100, 50, 50, 40]
    dev, tr = _ragged(lengths, place={"kv": "by_request", "balance": balance})
    pim = dev.units["pim"]
    from accelsim.workload.ops import Attention
    att = {o.kv_len: o for o in tr.segments[1].ops if isinstance(o, Attention)}

    def t(n):    # one request's K^T q + logits x V on one channel, tCK = device cycles here
        qk, _, pv = att[n].lower()
        return pim.request_ck(qk, att[n].n_kv) + pim.request_ck(pv, att[n].n_kv)

    want = max(sum(t(n) for n in ch) for ch in channels_of)
    r = accelsim.simulate(dev, tr)
    assert _pim_layer_cycles(r) == pytest.approx(want, rel=1e-9)
    spread = accelsim.simulate(*_ragged(lengths))
    assert _pim_layer_cycles(spread) != pytest.approx(want, rel=1e-3)


def test_greedy_beats_round_robin_when_arrival_order_puts_long_requests_together():
    """Six requests on 3 channels, the long ones arriving 0 and 3 (so round robin stacks them
    on channel 0): greedy's makespan is the longest request's, round robin's both long ones."""
    lengths = [1000, 50, 50, 1000, 60, 60]
    g = accelsim.simulate(*_ragged(lengths, place={"kv": "by_request"}))
    rr = accelsim.simulate(*_ragged(lengths, place={"kv": "by_request",
                                                     "balance": "round_robin"}))
    assert _pim_layer_cycles(rr) > 1.6 * _pim_layer_cycles(g)
    assert g.latency_s < rr.latency_s


def test_bad_placement_and_request_tags_are_clear_errors():
    from dataclasses import replace
    with pytest.raises(AccelsimError, match="balance"):
        _dev(pim={"placement": {"kv": "by_request", "balance": "random"}})
    dev, tr = _ragged([100, 50], place={"kv": "by_request"})
    bad = replace(tr, segments=tuple(replace(s, ops=tuple(
        replace(o, tags=(("requests", "1,2"),)) if o.name == "attn.d50" else o
        for o in s.ops)) for s in tr.segments))     # two ids for one request
    with pytest.raises(AccelsimError, match="tag 'requests' must list 1 request ids"):
        accelsim.simulate(dev, bad)


def test_subbatches_split_ragged_attention_by_requests_and_keep_their_ids():
    """Requests of different lengths: each attention op's requests are halved, the odd
    ones' extra request alternating between the sub-batches, ids following their requests;
    the total work is unchanged."""
    from accelsim.engine.policies.subbatch import interleave
    from accelsim.workload.ops import Attention
    lengths = [300] * 3 + [200] * 1 + [100] * 4 + [50] * 248
    _, tr = _ragged(lengths)
    sbi = interleave(tr, min_batch=256)
    pro = sbi.segments[1]
    a = {o.name: o for o in pro.ops if isinstance(o, Attention)}
    body = {o.name: o for o in sbi.segments[2].ops if isinstance(o, Attention)}
    b = {k: v for k, v in body.items() if k.startswith("b.")}
    # in context order: 248 -> 124 / 124, 4 -> 2 / 2, 1 -> 1 / 0 (extra to a), 3 -> 1 / 2
    assert {k: v.batch for k, v in a.items()} == {"a.attn.d50": 124, "a.attn.d100": 2,
                                                   "a.attn.d200": 1, "a.attn.d300": 1}
    assert {k: v.batch for k, v in b.items()} == {"b.attn.d50": 124, "b.attn.d100": 2,
                                                   "b.attn.d300": 2}
    assert dict(a["a.attn.d300"].tags)["requests"] == "0"
    assert dict(b["b.attn.d300"].tags)["requests"] == "1,2"
    assert dict(a["a.attn.d50"].tags)["subbatch"] == "a"
    assert sbi.flops() == pytest.approx(tr.flops())
