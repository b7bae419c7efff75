"""Build the op trace of one forward pass of a decoder-only LLM over a batch of requests.

A pass runs T tokens: every request in prefill contributes its prompt, every decoding request
one token. The weight GEMMs see all T tokens at once (M = T, iteration-level batching as in
Orca, Yu et al. OSDI'22); attention runs per group of requests with the same (q_len, kv_len),
with grouped-query heads stacked into M (``Attention``). Per decoder layer, d = hidden,
H / KV heads of hd, f = FFN width, E experts (top-k):

    attn_norm   rmsnorm|layernorm   T x d
    qkv_proj    GEMM  M=T  N=(H + 2 KV) hd  K=d          (weights: Quant.weight)
    rope        T x (H + KV) hd                          (RoPE families)
    kv_write    copy  T x 2 KV hd                        (into the KV cache, Quant.kv)
    attn.*      Attention(batch, H, KV, q_len, kv_len, hd)  one per length group
    o_proj      GEMM  M=T  N=d  K=H hd
    attn_residual, ffn_norm
    FFN gated:  gate_up_proj GEMM N=2f, act (silu), gate_mul, down_proj GEMM N=d K=f
        plain:  fc1 GEMM N=f, act (relu|gelu), fc2 GEMM N=d K=f
        MoE:    router GEMM N=E (unquantised), router_softmax, per expert e with c_e > 0
                tokens the gated FFN with M=c_e, then moe_combine (weighting, T*top_k rows)
    ffn_residual

The embedding (gather; OPT/GPT add learned positions) and the head (final norm over T rows,
LM head GEMM over one row per request: only sampled positions need logits) are their own
segments. Bias adds of OPT/GPT are taken as fused into the GEMM epilogues. Prefill attention
is dense (the causal mask is applied, not exploited), as in the aten ops of HF's SDPA path.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from ..config.bounds import MAX_BATCH, MAX_TOKENS
from ..errors import AccelsimError
from .moe import expert_counts
from .models import ModelConfig
from .ops import Attention, Gemm, Op, Vector
from .quant import Quant
from .trace import Segment, Trace


@dataclass(frozen=True)
class Batch:
    """One forward pass: prompt lengths of requests in prefill, (kv_len, count) of decoders."""

    prefill: tuple[int, ...] = ()
    decode: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.prefill and not self.decode:
            raise AccelsimError("an iteration needs at least one request")
        for p in self.prefill:
            check_positive_int("prompt length", p, MAX_TOKENS)
        for kv, n in self.decode:
            check_positive_int("decode context length", kv, MAX_TOKENS)
            check_positive_int("decode request count", n, MAX_BATCH)

    @property
    def n_decode(self) -> int:
        return sum(n for _, n in self.decode)

    @property
    def tokens(self) -> int:
        """Tokens processed by the pass (rows of every weight GEMM)."""
        return sum(self.prefill) + self.n_decode

    @property
    def requests(self) -> int:
        return len(self.prefill) + self.n_decode

    @property
    def phase(self) -> str:
        return "mixed" if self.prefill and self.decode else ("prefill" if self.prefill else "decode")


def check_positive_int(what: str, v: object, bound: int | None = None) -> None:
    """Raise ``<what> must be a positive integer, got <v>`` unless ``v`` is an int > 0 (and
    at most ``bound``, one of ``accelsim.config.bounds``)."""
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise AccelsimError(f"{what} must be a positive integer, got {v!r}")
    if bound is not None and v > bound:
        raise AccelsimError(f"{what} must be at most {bound:,}, got {v:,}")


def build_model_trace(cfg: ModelConfig, quant: Quant, batch: Batch, *,
                      moe_dist: "str | Sequence[float]" = "uniform", seed: int = 0,
                      name: str | None = None, meta: Sequence[tuple[str, str]] = ()) -> Trace:
    """The trace of one forward pass of ``cfg`` over ``batch`` with dtypes from ``quant``."""
    b = _Builder(cfg, quant, batch)
    segments = [Segment("embed", tuple(b.embed_ops()))]
    if cfg.is_moe:
        per_layer = [expert_counts(batch.tokens, cfg.experts, cfg.top_k, moe_dist, seed=seed,
                                   layer=i) if cfg.is_moe_layer(i) else ()
                     for i in range(cfg.layers)]
    else:
        per_layer = [()] * cfg.layers
    start = 0
    for i in range(1, cfg.layers + 1):  # consecutive layers with equal expert loads: one segment
        if i == cfg.layers or per_layer[i] != per_layer[start]:
            label = f"{start}-{i - 1}" if i - 1 > start else str(start)
            seg_name = "layers" if (start, i) == (0, cfg.layers) else f"layers{label}"
            segments.append(Segment(seg_name, tuple(b.layer_ops(label, per_layer[start])),
                                    repeat=i - start))
            start = i
    segments.append(Segment("head", tuple(b.head_ops())))
    full_meta = (("model", cfg.name), ("phase", batch.phase), ("batch", str(batch.requests)),
                 ("tokens", str(batch.tokens)), ("quant", quant.describe()), *meta)
    return Trace(name or f"{cfg.name}-{batch.phase}", tuple(segments), tuple(full_meta))


class _Builder:
    """Op factories for one (model, quant, batch); see the module docstring for the formulas."""

    def __init__(self, cfg: ModelConfig, q: Quant, batch: Batch) -> None:
        self.c, self.q, self.b = cfg, q, batch
        self.T = batch.tokens

    def _tags(self, layer: str, phase: str | None = None) -> tuple[tuple[str, str], ...]:
        return (("layer", layer), ("phase", phase or self.b.phase))

    def _wgemm(self, name: str, m: int, n: int, k: int, tags, *, head: bool = False,
               deps: tuple[str, ...] | None = None) -> Gemm:
        """A GEMM against a weight matrix: A = activations, B = (quantised) weights."""
        q = self.q
        if head:
            return Gemm(name, m=m, n=n, k=k, dtype=q.stream, w_dtype=q.head_dtype,
                        out_dtype=q.stream, b_shared=True, tags=tags, deps=deps)
        return Gemm(name, m=m, n=n, k=k, dtype=q.act, w_dtype=q.weight, out_dtype=q.stream,
                    group_size=q.group_size, b_shared=True, tags=tags, deps=deps)

    def _vec(self, name: str, op: str, rows: int, cols: int, tags, dt: str | None = None,
             deps: tuple[str, ...] | None = None) -> Vector:
        return Vector(name, op=op, rows=rows, cols=cols, dtype=dt or self.q.stream, tags=tags,
                      deps=deps)

    def embed_ops(self) -> list[Op]:
        c, T, tags = self.c, self.T, self._tags("embed")
        ops: list[Op] = [self._vec("embed", "copy", T, c.d_embed, tags)]
        if c.embed_dim and c.embed_dim != c.hidden:
            ops.append(self._wgemm("project_in", T, c.hidden, c.embed_dim, tags))
        if not c.rope:
            ops.append(self._vec("pos_embed_add", "add", T, c.hidden, tags))
        return ops

    def head_ops(self) -> list[Op]:
        c, T, tags = self.c, self.T, self._tags("head")
        ops: list[Op] = [self._vec("final_norm", c.norm, T, c.hidden, tags)]
        if c.embed_dim and c.embed_dim != c.hidden:
            ops.append(self._wgemm("project_out", T, c.embed_dim, c.hidden, tags))
        ops.append(self._wgemm("lm_head", self.b.requests, c.vocab, c.d_embed, tags, head=True))
        return ops

    def attention_ops(self, layer: str, deps: tuple[str, ...]) -> list[Op]:
        c, q = self.c, self.q
        groups: list[tuple[str, int, int, int, str]] = []  # name, batch, q_len, kv_len, phase
        for p, n in sorted(Counter(self.b.prefill).items()):
            groups.append((f"attn.p{p}", n, p, p, "prefill"))
        for kv, n in sorted(self.b.decode):
            groups.append((f"attn.d{kv}", n, 1, kv, "decode"))
        merged: dict[str, list] = {}
        for g in groups:  # equal decode lengths given twice: one op
            if g[0] in merged:
                merged[g[0]][1] += g[1]
            else:
                merged[g[0]] = list(g)
        if len(merged) == 1:
            next(iter(merged.values()))[0] = "attn"
        return [Attention(nm, batch=n, heads=c.heads, kv_heads=c.kv_heads, q_len=ql, kv_len=kl,
                          head_dim=c.head_dim, dtype=q.stream, kv_dtype=q.kv, deps=deps,
                          tags=self._tags(layer, ph))
                for nm, n, ql, kl, ph in merged.values()]

    def layer_ops(self, layer: str, counts: tuple[int, ...]) -> list[Op]:
        c, T, q = self.c, self.T, self.q
        tags = self._tags(layer)
        hd, H, KV = c.head_dim, c.heads, c.kv_heads
        ops: list[Op] = [
            self._vec("attn_norm", c.norm, T, c.hidden, tags),
            self._wgemm("qkv_proj", T, (H + 2 * KV) * hd, c.hidden, tags),
        ]
        if c.rope:
            ops.append(self._vec("rope", "rope", T, (H + KV) * hd, tags))
        ops.append(self._vec("kv_write", "copy", T, 2 * KV * hd, tags, dt=q.kv))
        attn = self.attention_ops(layer, (ops[-1].name,))
        ops += attn
        ops += [
            self._wgemm("o_proj", T, c.hidden, H * hd, tags, deps=tuple(a.name for a in attn)),
            self._vec("attn_residual", "add", T, c.hidden, tags),
            self._vec("ffn_norm", c.norm, T, c.hidden, tags),
        ]
        ops += self.moe_ops(tags, counts) if counts else self.ffn_ops("", T, tags)
        ops.append(self._vec("ffn_residual", "add", T, c.hidden, tags))
        return ops

    def ffn_ops(self, prefix: str, m: int, tags, deps: tuple[str, ...] | None = None) -> list[Op]:
        c = self.c
        if c.gated:
            return [self._wgemm(f"{prefix}gate_up_proj", m, 2 * c.ffn, c.hidden, tags, deps=deps),
                    self._vec(f"{prefix}act", c.act, m, c.ffn, tags),
                    self._vec(f"{prefix}gate_mul", "mul", m, c.ffn, tags),
                    self._wgemm(f"{prefix}down_proj", m, c.hidden, c.ffn, tags)]
        return [self._wgemm(f"{prefix}fc1", m, c.ffn, c.hidden, tags, deps=deps),
                self._vec(f"{prefix}act", c.act, m, c.ffn, tags),
                self._wgemm(f"{prefix}fc2", m, c.hidden, c.ffn, tags)]

    def moe_ops(self, tags, counts: tuple[int, ...]) -> list[Op]:
        c, T = self.c, self.T
        ops: list[Op] = [self._wgemm("router", T, c.experts, c.hidden, tags, head=True),
                         self._vec("router_softmax", "softmax", T, c.experts, tags)]
        ends = []
        for e, n in enumerate(counts):   # tagged so a grouped-kernel pass can merge them
            if n:
                ops += self.ffn_ops(f"expert{e}.", n, tags + (("expert", str(e)),),
                                    deps=("router_softmax",))
                ends.append(ops[-1].name)
        ops.append(self._vec("moe_combine", "mul", T * c.top_k, c.hidden, tags, deps=tuple(ends)))
        return ops
