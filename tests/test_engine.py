"""Engine: fidelity agreement, overlap and contention, repeats, determinism, results."""
from __future__ import annotations

import json

import pytest

import accelsim
from accelsim.workload import Attention, Gemm, Segment, Trace, Vector

from conftest import ROOT, gemm_trace, sa_arch


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("overlap", [False, True])
@pytest.mark.parametrize("shape", [(1, 4096, 4096), (300, 200, 100), (7, 9, 1000)])
def test_lone_gemm_all_fidelities_agree_with_ample_bandwidth(df, overlap, shape):
    arch = sa_arch(32, 32, df, overlap=overlap)
    cycles = {f: accelsim.simulate(arch, gemm_trace(*shape), f).cycles for f in accelsim.FIDELITIES}
    assert len(set(cycles.values())) == 1, cycles


def test_ample_finite_bandwidth_is_nearly_unlimited():
    tr = gemm_trace(256, 512, 512)
    base = accelsim.simulate(sa_arch(32, 32, "ws", overlap=True), tr, "analytical").cycles
    for f in accelsim.FIDELITIES:
        c = accelsim.simulate(sa_arch(32, 32, "ws", overlap=True, bw=1e6), tr, f).cycles
        assert c == pytest.approx(base, rel=1e-3)


def _parallel_trace():
    return accelsim.load_trace(ROOT / "workloads" / "examples" / "two_units_parallel.yaml")


def test_independent_ops_on_two_units_overlap():
    arch = sa_arch(32, 32, "os", overlap=True, pe="bf16", vector=True, n_arrays=2)
    res = accelsim.simulate(arch, _parallel_trace(), "op")
    left, right, join = (res.per_op.set_index("op").loc[n] for n in ("left", "right", "join"))
    assert {left.unit, right.unit} == {"sa0", "sa1"}
    assert left.start == right.start == 0
    assert join.start == max(left.end, right.end)
    assert res.cycles < left.cycles + right.cycles + join.cycles


def test_shared_dram_contention_slows_parallel_ops():
    arch = sa_arch(32, 32, "os", overlap=True, pe="bf16", vector=True, n_arrays=2, bw=8,
                   sram_kb=64)
    tr = _parallel_trace()
    ana = accelsim.simulate(arch, tr, "analytical")
    for f in ("op", "tile"):
        des = accelsim.simulate(arch, tr, f)
        assert des.cycles > ana.cycles * 1.2, f  # two ops share one DRAM; analytical ignores it
        dram_time = sum(des.bytes_by_level()[k] for k in ("dram_read", "dram_write")) / 8
        assert des.cycles >= dram_time


def test_repeated_segment_equals_unrolled():
    ops = (Gemm("a", m=64, n=256, k=128, dtype="bf16"), Vector("act", op="relu", rows=64, cols=256),
           Gemm("b", m=64, n=128, k=256, dtype="bf16"))
    arch = sa_arch(16, 16, "ws", overlap=True, pe="bf16", vector=True, bw=16, sram_kb=16)
    rep = Trace("rep", (Segment("layer", ops, repeat=5),))
    unrolled = Trace("unr", tuple(Segment(f"layer{i}", ops) for i in range(5)))
    for f in accelsim.FIDELITIES:
        r1, r2 = accelsim.simulate(arch, rep, f), accelsim.simulate(arch, unrolled, f)
        assert r1.cycles == r2.cycles
        assert len(r1.per_op) == 15
        assert list(r1.per_op["end"]) == list(r2.per_op["end"])
        assert r1.actions == r2.actions


def test_attention_lowers_to_batched_gemms_and_softmax():
    att = Attention("attn", batch=2, heads=8, kv_heads=2, q_len=1, kv_len=100, head_dim=64)
    parts = att.lower()
    assert [p.kind for p in parts] == ["gemm", "vector", "gemm"]
    qk = parts[0]
    assert (qk.batch, qk.m, qk.n, qk.k) == (4, 4, 100, 64)   # GQA: 4 query heads per KV head
    assert att.flops() == sum(p.flops() for p in parts)
    assert qk.flops() == 2 * 2 * 8 * 1 * 100 * 64
    arch = sa_arch(16, 16, "os", pe="bf16", vector=True)
    res = accelsim.simulate(arch, Trace.from_ops("t", [att]), "op")
    assert list(res.per_op["op"]) == ["attn.qk", "attn.softmax", "attn.pv"]
    assert list(res.per_op["unit"]) == ["sa", "vec", "sa"]


def test_same_inputs_same_outputs_bit_for_bit():
    arch = accelsim.load_arch(ROOT / "configs" / "sa128_bf16_hbm.yaml")
    tr = accelsim.load_trace(ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml")
    for f in accelsim.FIDELITIES:
        a = json.dumps(accelsim.simulate(arch, tr, f).to_dict(), sort_keys=True)
        b = json.dumps(accelsim.simulate(accelsim.load_arch(
            ROOT / "configs" / "sa128_bf16_hbm.yaml"), tr, f).to_dict(), sort_keys=True)
        assert a == b


def test_result_contract():
    arch = sa_arch(16, 16, "os", pe="bf16", vector=True, bw=32)
    res = accelsim.simulate(arch, _parallel_trace(), "tile")
    d = res.to_dict()
    for key in ("cycles", "compute_cycles", "stall_cycles", "utilization", "latency_s",
                "config_hash", "accelsim_version", "per_op", "actions", "bytes"):
        assert key in d
    assert res.latency_s == res.cycles / 1e9
    assert set(res.per_op["bound"]) <= {"compute", "memory"}
    assert d["actions"]["sa.mac_bf16"] == 2 * 256 * 1024 * 1024
    json.dumps(d)  # serialisable
    tr = res.chrome_trace()
    spans = [e for e in tr["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == 3 and all(e["dur"] > 0 for e in spans)


def test_unknown_fidelity_and_missing_unit_are_clear_errors():
    arch = sa_arch(8, 8)
    with pytest.raises(accelsim.AccelsimError, match="fidelity"):
        accelsim.simulate(arch, gemm_trace(8, 8, 8), "cycle")
    with pytest.raises(accelsim.AccelsimError, match="no unit .* can run op 'x'.*vector"):
        accelsim.simulate(arch, Trace.from_ops("t", [Vector("x", op="add", rows=2, cols=2)]))
