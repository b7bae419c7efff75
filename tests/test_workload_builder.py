"""Trace builder: FLOPs and bytes against closed forms, quantisation, GQA, MoE, repeats."""
from __future__ import annotations

import pytest

import accelsim
from accelsim.errors import AccelsimError
from accelsim.workload import Attention, Gemm, build_trace, load_trace, save_trace
from accelsim.workload.dtypes import dtype
from accelsim.workload.models import load_model
from accelsim.workload.moe import expert_counts
from accelsim.workload.zoo import _cached, build_iteration

from conftest import ROOT

HBM = str(ROOT / "configs" / "sa128_bf16_hbm.yaml")


def linear_weights(name: str, active: bool = True) -> tuple[int, int]:
    """(per-layer linear weights, LM head weights) written from the config, independently of
    accelsim.workload.models: d(H + 2KV)hd + H hd d + FFN matrices (+ router)."""
    c = load_model(name)
    d, hd, H, KV, f = c.hidden, c.head_dim, c.heads, c.kv_heads, c.ffn
    attn = d * (H + 2 * KV) * hd + H * hd * d
    ffn = (3 if c.gated else 2) * d * f
    if c.is_moe:
        ffn = (c.top_k if active else c.experts) * ffn + c.experts * d
    return attn + ffn, c.vocab * c.d_embed


def split_flops(trace) -> dict[str, float]:
    """FLOPs per category: weight GEMMs (incl. head), attention (QK^T, PV), vector ops."""
    out = {"gemm": 0.0, "attn": 0.0, "vector": 0.0}
    for seg, op in trace.iter_ops():
        key = {"gemm": "gemm", "attention": "attn", "vector": "vector"}[op.kind]
        if isinstance(op, Attention):
            out["attn"] += sum(p.flops() for p in op.lower() if isinstance(p, Gemm)) * seg.repeat
            out["vector"] += sum(p.flops() for p in op.lower() if not isinstance(p, Gemm)) * seg.repeat
        else:
            out[key] += op.flops() * seg.repeat
    return out


@pytest.mark.parametrize("name", ["llama2-70b", "opt-6.7b", "gpt3-7b", "mixtral-8x7b",
                                  "bitnet-b1.58-700m"])
@pytest.mark.parametrize("batch, ctx", [(1, 2048), (16, 1000)])
def test_decode_flops_closed_form(name, batch, ctx):
    c = load_model(name)
    t = build_trace(name, phase="decode", batch=batch, ctx=ctx)
    per_layer, head = linear_weights(name)
    f = split_flops(t)
    # weight GEMMs: 2 x (active) linear parameters per token; MoE uniform routing is exact
    assert f["gemm"] == 2 * batch * (c.layers * per_layer + head)
    # attention: QK^T and PV, 2 * H * hd * ctx FLOPs each per token and layer
    assert f["attn"] == 4 * batch * c.layers * c.heads * c.head_dim * ctx
    closed = 2 * (c.layers * per_layer + head) + 4 * c.layers * c.heads * c.head_dim * ctx
    assert abs(t.flops() / batch - closed) / closed < 0.005  # the rest: norms, softmax, ...


@pytest.mark.parametrize("name", ["llama2-7b", "llama3-8b", "opt-13b"])
def test_prefill_flops_closed_form(name):
    c = load_model(name)
    B, P = 3, 200
    t = build_trace(name, phase="prefill", batch=B, prompt=P)
    per_layer, head = linear_weights(name)
    f = split_flops(t)
    assert f["gemm"] == 2 * B * P * c.layers * per_layer + 2 * B * head  # logits: last token only
    assert f["attn"] == 4 * B * c.layers * c.heads * c.head_dim * P * P  # dense, causal not skipped


def _bytes(trace, pred) -> float:
    return sum(sum(v for k, v in op.operand_bytes().items() if pred(op, k)) * s.repeat
               for s, op in trace.iter_ops())


@pytest.mark.parametrize("wbits, group, per_weight", [
    (16, None, 2.0), (8, None, 1.0), (4, 128, 0.5 + 2 / 128), (1.58, None, 1.58 / 8),
    (3, 64, 3 / 8 + 2 / 64)])
def test_decode_bytes_closed_form(wbits, group, per_weight):
    """Weights are read once per step (b_shared); the KV cache once per request."""
    c = load_model("llama2-70b")
    B, ctx = 8, 1024
    t = build_trace("llama2-70b", batch=B, ctx=ctx, weight_bits=wbits, group_size=group, kv_bits=8)
    per_layer, head = linear_weights("llama2-70b")
    w = _bytes(t, lambda op, k: isinstance(op, Gemm) and op.name != "lm_head" and k.startswith("B"))
    assert w == pytest.approx(c.layers * per_layer * per_weight, rel=1e-12)
    kv = _bytes(t, lambda op, k: isinstance(op, Attention) and k in ("K", "V"))
    assert kv == 2 * c.layers * B * c.kv_heads * c.head_dim * ctx * 1  # int8 KV cache
    # bytes per token: weights / B + KV cache; the rest (activations) is a few percent
    closed = (c.layers * per_layer * per_weight + head * 2) / B + kv / B
    assert 0 < t.total_bytes() / B - closed < 0.05 * closed


def test_quantisation_dtypes():
    t = build_trace("llama2-7b", weight_bits=4, act_dtype="int8", kv_bits=8, group_size=128)
    ops = {op.name: op for _, op in t.iter_ops()}
    q = ops["qkv_proj"]
    assert (q.dtype, q.w_dtype, q.out_dtype, q.group_size) == ("int8", "int4", "bf16", 128)
    assert ops["lm_head"].w_dtype == "bf16" and ops["lm_head"].group_size is None
    assert ops["attn"].kv_dtype == "int8" and ops["attn"].dtype == "bf16"
    assert ops["attn_norm"].dtype == "bf16"
    for bits, name in ((1, "int1"), (1.58, "ternary"), (2, "int2"), (3, "int3"), (8, "int8"),
                       (16, "fp16"), ("fp8_e4m3", "fp8_e4m3")):
        t = build_trace("llama2-7b", weight_bits=bits, act_dtype="fp16")
        assert next(op for _, op in t.iter_ops() if op.name == "o_proj").w_dtype == name
    fp8 = build_trace("llama2-7b", act_dtype="fp8")
    o = next(op for _, op in fp8.iter_ops() if op.name == "o_proj")
    assert (o.dtype, o.w_dtype, o.out_dtype) == ("fp8_e4m3", "bf16", "bf16")
    # group size only scales integer weights
    t16 = build_trace("llama2-7b", group_size=128)
    assert all(getattr(op, "group_size", None) is None for _, op in t16.iter_ops())
    assert dtype("ternary").bits == 1.58


@pytest.mark.parametrize("kwargs, text", [
    ({"weight_bits": 5}, "weight_bits must be one of 1, 1.58, 2, 3, 4, 8, 16, 32"),
    ({"kv_bits": "int9"}, "kv_bits 'int9' is neither a number of bits nor a dtype name"),
    ({"act_dtype": "bf17"}, "unknown dtype 'bf17'"),
    ({"group_size": 0, "weight_bits": 4}, "group_size must be a positive integer"),
    ({"phase": "train"}, "unknown phase 'train'"),
    ({"batch": 0}, "batch must be a positive integer"),
    ({"ctx": 8192}, "ctx 8192 exceeds the model's max_position_embeddings 4096"),
    ({"moe_dist": "zipf"}, None),  # dense model: routing is not used
])
def test_bad_arguments(kwargs, text):
    if text is None:
        build_trace("llama2-7b", **kwargs)
        return
    with pytest.raises(AccelsimError, match=text.replace("(", r"\(").replace(")", r"\)")):
        build_trace("llama2-7b", **kwargs)


def test_ctx_check_can_be_turned_off():
    t = build_trace("llama2-7b", ctx=8192, check_ctx=False)
    assert next(op for _, op in t.iter_ops() if op.kind == "attention").kv_len == 8192


def test_structure_repeats_tags_and_gqa():
    t = build_trace("llama2-70b", batch=4, ctx=512)
    assert [(s.name, s.repeat) for s in t.segments] == [("embed", 1), ("layers", 80), ("head", 1)]
    attn = next(op for _, op in t.iter_ops() if op.kind == "attention")
    assert (attn.heads, attn.kv_heads, attn.q_len, attn.kv_len, attn.batch) == (64, 8, 1, 512, 4)
    assert all(dict(op.tags)["phase"] == "decode" for _, op in t.iter_ops())
    assert dict(t.segments[1].ops[0].tags)["layer"] == "0-79"
    meta = dict(t.meta)
    assert (meta["model"], meta["phase"], meta["tokens"], meta["ctx"]) == ("llama2-70b", "decode",
                                                                           "4", "512")
    assert t.num_ops() == 1 + 80 * len(t.segments[1].ops) + 2


def test_moe_routing_distributions():
    assert expert_counts(3, 8, 2) == (1, 1, 1, 1, 1, 1, 0, 0)
    assert sum(expert_counts(1000, 8, 2, "random", seed=1)) == 2000
    a = expert_counts(100, 8, 2, "random", seed=1, layer=0)
    assert a == expert_counts(100, 8, 2, "random", seed=1, layer=0)
    assert a != expert_counts(100, 8, 2, "random", seed=1, layer=1)
    assert max(expert_counts(10, 8, 2, "random", seed=5)) <= 10
    w = expert_counts(10, 4, 2, [8, 1, 1, 0])  # 20 assignments; expert 0 capped at 10 tokens
    assert w == (10, 5, 5, 0)
    with pytest.raises(AccelsimError, match="must be 8 non-negative numbers"):
        expert_counts(10, 8, 2, [1, 2])
    with pytest.raises(AccelsimError, match="top_k \\(9\\) must be between 1"):
        expert_counts(10, 8, 9)


def test_moe_trace_uniform_and_random():
    u = build_trace("mixtral-8x7b", batch=3, ctx=256)
    ops = [op.name for op in u.segments[1].ops]
    assert "router" in ops and "moe_combine" in ops
    assert [n for n in ops if n.endswith("gate_up_proj")] == [f"expert{e}.gate_up_proj"
                                                               for e in range(6)]
    r = build_trace("mixtral-8x7b", batch=64, ctx=256, moe_dist="random", seed=3)
    assert sum(s.repeat for s in r.segments[1:-1]) == 32 and len(r.segments) > 3
    per_seg = [sum(op.m for op in s.ops if op.name.endswith("gate_up_proj")) for s in r.segments[1:-1]]
    assert all(c == 128 for c in per_seg)  # every layer routes 64 tokens x top-2


def test_mixed_iteration():
    t = build_iteration("llama2-7b", prefill=(100, 100, 37), decode=((500, 3), (900, 2)))
    meta = dict(t.meta)
    assert meta["phase"] == "mixed" and meta["tokens"] == str(237 + 5)
    layer = t.segments[1]
    attn = {op.name: op for op in layer.ops if op.kind == "attention"}
    assert set(attn) == {"attn.p37", "attn.p100", "attn.d500", "attn.d900"}
    assert (attn["attn.p100"].batch, attn["attn.p100"].q_len) == (2, 100)
    assert dict(attn["attn.p37"].tags)["phase"] == "prefill"
    assert dict(attn["attn.d900"].tags)["phase"] == "decode"
    o_proj = next(op for op in layer.ops if op.name == "o_proj")
    assert set(o_proj.deps) == set(attn) and o_proj.m == 242
    assert next(op for _, op in t.iter_ops() if op.name == "lm_head").m == 8
    with pytest.raises(AccelsimError, match="at least one request"):
        build_iteration("llama2-7b")


def test_deterministic_and_round_trips(tmp_path):
    a = build_trace("mixtral-8x7b", batch=5, ctx=300, weight_bits=4, group_size=64,
                    moe_dist="random", seed=7)
    _cached.cache_clear()
    b = build_trace("mixtral-8x7b", batch=5, ctx=300, weight_bits=4, group_size=64,
                    moe_dist="random", seed=7)
    assert a is not b and a.to_dict() == b.to_dict()
    u = build_trace("mixtral-8x7b", batch=5, ctx=300, weight_bits=4, group_size=64, kv_bits=8)
    p = tmp_path / "t.yaml"
    save_trace(u, p)
    back = load_trace(p)
    assert back.to_dict() == u.to_dict() and back.flops() == u.flops()


def test_zoo_trace_simulates():
    arch = accelsim.load_arch(HBM)
    t = build_trace("llama2-7b", batch=16, ctx=2048)
    r1 = accelsim.simulate(arch, t, fidelity="op")
    r2 = accelsim.simulate(accelsim.load_arch(HBM), t, fidelity="op")
    assert r1.cycles == r2.cycles > 0
    # the hand-written example of the foundation issue is this trace minus the kv_write copies
    ex = accelsim.simulate(arch, accelsim.load_trace(ROOT / "workloads/examples/llama2_7b_decode_b16.yaml"))
    assert abs(r1.cycles - ex.cycles) / ex.cycles < 0.002
