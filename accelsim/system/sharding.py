"""Sharding a trace for one rank: Megatron tensor parallelism, expert parallelism, pipeline
stages and microbatches. Tensor-parallel ranks are symmetric, so one rank is simulated.

Tensor parallelism (Megatron-LM, Shoeybi et al. 2019, Sec 3), by op role (the model zoo's op
names, ``ROLES``):
* column-parallel GEMMs split N: ``qkv_proj`` keeps H/tp query heads and max(1, KV/tp) key/value
  heads (grouped-query KV heads are replicated when there are fewer than ranks),
  ``gate_up_proj`` / ``fc1`` and each expert's ``gate_up_proj`` N/tp;
* row-parallel GEMMs split K: ``o_proj``, ``down_proj`` / ``fc2``, each followed by an
  all-reduce of its output (M N out bytes) over the tp group;
* attention keeps H/tp heads and the KV heads above; element-wise ops on split activations
  (``act``, ``gate_mul``, ``rope``, ``kv_write``) shrink with them; norms, residuals and the
  router are replicated;
* the LM head is vocabulary-parallel (N/tp) with an all-gather of the logits; the embedding
  lookup is vocabulary-parallel with an all-reduce of its output.
Expert parallelism (ep = tp): rank 0 keeps experts 0 .. E/ep - 1 whole, an all-to-all
dispatches the tokens before the experts and another combines them after (T k h bytes each).
Ops of other names are replicated and listed in ``Sharded.unsharded``.

Pipeline: stage s of pp takes a contiguous block of the ``layers`` segment's repeats (the
first L mod pp stages one more), stage 0 the segments before it, the last stage those after.
Microbatches: every token dimension divided by M (GEMM m, vector rows, attention batch,
collective bytes); the batch must divide by M.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from ..errors import AccelsimError
from ..workload.collective_ops import Collective
from ..workload.dtypes import dtype
from ..workload.ops import Attention, Gemm, Op, Vector
from ..workload.trace import Segment, Trace

COLUMN = {"qkv_proj", "gate_up_proj", "fc1", "lm_head"}
ROW = {"o_proj", "down_proj", "fc2"}
SPLIT_VECTORS = {"act", "gate_mul", "rope", "kv_write"}
REPLICATED = {"attn_norm", "ffn_norm", "attn_residual", "ffn_residual", "final_norm", "router",
              "router_softmax", "pos_embed_add", "embed"}
_EXPERT = re.compile(r"expert(\d+)\.(.+)")


@dataclass(frozen=True)
class Heads:
    heads: int
    kv: int
    dim: int

    def per_rank(self, tp: int) -> tuple[int, int]:
        if self.heads % tp:
            raise AccelsimError(f"tp={tp} does not divide the {self.heads} attention heads")
        kv = max(1, self.kv // tp)          # fewer KV heads than ranks: each rank keeps one
        if self.kv >= tp and self.kv % tp:
            raise AccelsimError(f"tp={tp} does not divide the {self.kv} key/value heads")
        return self.heads // tp, kv


@dataclass(frozen=True)
class Sharded:
    trace: Trace
    unsharded: tuple[str, ...]     # op names of unknown role, replicated


def _heads(seg: Segment) -> Heads | None:
    for op in seg.ops:
        if isinstance(op, Attention):
            return Heads(op.heads, op.kv_heads or op.heads, op.head_dim)
    return None


def _out_bytes(op: Gemm) -> float:
    return float(op.batch * op.m * op.n * dtype(op.out_dtype or op.dtype).bytes)


def _collective(after: Op, kind: str, nbytes: float, group: int) -> Collective:
    return Collective(f"{after.name}.{kind}", collective=kind, bytes=nbytes, group=group,
                      deps=(after.name,), tags=after.tags)


def _shard_op(op: Op, tp: int, heads: Heads | None, ep: int, experts: int
              ) -> tuple[list[Op], bool]:
    """(the op(s) for rank 0, whether the role was known)."""
    m = _EXPERT.fullmatch(op.name)
    role = m.group(2) if m else op.name
    if m and ep > 1:
        if int(m.group(1)) >= max(1, experts // ep):
            return [], True                     # another rank's expert
        return [op], True                       # a whole expert on this rank
    if isinstance(op, Attention) and heads is not None:
        h, kv = heads.per_rank(tp)
        return [replace(op, heads=h, kv_heads=kv)], True
    if isinstance(op, Gemm) and role == "qkv_proj" and heads is not None:
        h, kv = heads.per_rank(tp)
        return [replace(op, n=(h + 2 * kv) * heads.dim)], True
    if isinstance(op, Gemm) and role in COLUMN:
        if op.n % tp:
            raise AccelsimError(f"tp={tp} does not divide {op.name}'s N = {op.n}")
        new = replace(op, n=op.n // tp)
        if role == "lm_head":
            return [new, _collective(new, "all_gather", _out_bytes(op), tp)], True
        return [new], True
    if isinstance(op, Gemm) and role in ROW:
        if op.k % tp:
            raise AccelsimError(f"tp={tp} does not divide {op.name}'s K = {op.k}")
        new = replace(op, k=op.k // tp)
        if m:            # experts: one all-reduce after the MoE block (added by the caller)
            return [new], True
        return [new, _collective(new, "all_reduce", _out_bytes(op), tp)], True
    if isinstance(op, Vector) and role in SPLIT_VECTORS:
        if role in ("rope", "kv_write") and heads is not None:
            h, kv = heads.per_rank(tp)
            full = (heads.heads + heads.kv) if role == "rope" else 2 * heads.kv
            part = (h + kv) if role == "rope" else 2 * kv
            return [replace(op, cols=op.cols * part // full)], True
        return [replace(op, cols=math.ceil(op.cols / tp))], True
    if isinstance(op, Vector) and role == "embed":
        out = float(op.rows * op.cols * dtype(op.dtype).bytes)
        return [op, _collective(op, "all_reduce", out, tp)], True
    return [op], role in REPLICATED


def _shard_segment(seg: Segment, tp: int, ep: int, unknown: set[str]) -> Segment:
    heads = _heads(seg)
    experts = len({mm.group(1) for o in seg.ops if (mm := _EXPERT.fullmatch(o.name))})
    old = seg.resolved_deps()
    ops: list[Op] = []
    for op in seg.ops:
        new, known = _shard_op(op, tp, heads, ep, experts)
        if not known:
            unknown.add(op.name)
        ops += new
    expert_names = {o.name for o in ops if _EXPERT.fullmatch(o.name)}
    before = after = None
    if expert_names and tp > 1:
        ops, before, after = _moe_collectives(ops, expert_names, seg, tp, ep)
    present = {o.name for o in ops}
    own = {o.deps[0]: o.name for o in ops if isinstance(o, Collective)
           and o.deps and o.name.startswith(o.deps[0] + ".")}

    def remap(op: Op, d: str) -> str | None:
        inside = op.name in expert_names
        if after is not None and not inside and (d in expert_names or _EXPERT.fullmatch(d)):
            return after                        # after the MoE block: its collective
        if before is not None and inside and not _EXPERT.fullmatch(d):
            return before                       # an expert's input: the dispatch
        if d not in present:
            return None                         # another rank's expert
        return own.get(d, d)                    # a GEMM's output: after its collective

    out = []
    for o in ops:
        if isinstance(o, Collective):
            out.append(o)
            continue
        deps = [remap(o, d) for d in old.get(o.name, ())]
        out.append(replace(o, deps=tuple(dict.fromkeys(d for d in deps if d is not None))))
    return Segment(seg.name, tuple(out), seg.repeat)


def _moe_collectives(ops: list[Op], expert_names: set[str], seg: Segment, tp: int,
                     ep: int) -> tuple[list[Op], str | None, str]:
    """ep > 1: an all-to-all dispatches the tokens before the experts and another combines
    them after; ep = 1: one all-reduce of the MoE output after the experts (their down
    projections are row-split). Returns (ops, dispatch name or None, the closing one)."""
    idx = [i for i, o in enumerate(ops) if o.name in expert_names]
    first, last = idx[0], idx[-1]
    experts = [ops[i] for i in idx]
    gemms = [o for o in experts if isinstance(o, Gemm)]
    hidden = next((o.n for o in gemms if o.name.endswith("down_proj")), gemms[0].k)
    tokens = sum(o.m * o.batch for o in gemms if o.name.endswith("gate_up_proj"))
    nbytes = float(tokens * hidden * dtype(gemms[0].dtype).bytes)
    prev = ops[first - 1]
    tail = ops[last]
    if ep > 1:
        dispatch = Collective(f"{seg.name}.moe_dispatch", collective="all_to_all",
                              bytes=nbytes, group=ep, deps=(prev.name,), tags=prev.tags)
        combine = Collective(f"{seg.name}.moe_combine", collective="all_to_all", bytes=nbytes,
                             group=ep, deps=tuple(o.name for o in experts), tags=tail.tags)
        return (ops[:first] + [dispatch] + ops[first:last + 1] + [combine] + ops[last + 1:],
                dispatch.name, combine.name)
    reduce = Collective(f"{seg.name}.moe_all_reduce", collective="all_reduce", bytes=nbytes,
                        group=tp, deps=tuple(o.name for o in experts), tags=tail.tags)
    return ops[:last + 1] + [reduce] + ops[last + 1:], None, reduce.name


def shard(trace: Trace, tp: int, ep: int = 1) -> Sharded:
    """Rank 0's trace under tensor (and expert) parallelism (module docstring)."""
    if tp == 1 and ep == 1:
        return Sharded(trace, ())
    unknown: set[str] = set()
    segs = tuple(_shard_segment(s, tp, ep, unknown) for s in trace.segments)
    return Sharded(Trace(trace.name + f"-tp{tp}" + (f"-ep{ep}" if ep > 1 else ""), segs,
                         trace.meta), tuple(sorted(unknown)))


def stages(trace: Trace, pp: int) -> list[Trace]:
    """The pp stage traces (module docstring)."""
    if pp == 1:
        return [trace]
    idx = next((i for i, s in enumerate(trace.segments) if s.name == "layers"), None)
    if idx is None:
        raise AccelsimError("pipeline parallelism needs a 'layers' segment to split")
    layers = trace.segments[idx]
    if layers.repeat < pp:
        raise AccelsimError(f"pp={pp} stages for {layers.repeat} layers")
    base, extra = divmod(layers.repeat, pp)
    out = []
    for s in range(pp):
        segs = list(trace.segments[:idx]) if s == 0 else []
        segs.append(replace(layers, repeat=base + (1 if s < extra else 0)))
        if s == pp - 1:
            segs += list(trace.segments[idx + 1:])
        out.append(Trace(f"{trace.name}-stage{s}", tuple(segs), trace.meta))
    return out


def microbatch(trace: Trace, m: int) -> Trace:
    """One microbatch of ``m``: every token dimension / m (module docstring)."""
    if m == 1:
        return trace

    def split(v: int, what: str, name: str) -> int:
        if v % m:
            raise AccelsimError(f"{m} microbatches do not divide op {name!r}'s {what} = {v}")
        return v // m

    segs = []
    for seg in trace.segments:
        ops = []
        for op in seg.ops:
            if isinstance(op, Attention):
                op = replace(op, batch=split(op.batch, "batch", op.name))
                ids = dict(op.tags).get("requests")
                if ids is not None:   # the microbatch's requests: the first 1/m of the ids
                    keep = ",".join(str(ids).split(",")[:op.batch])
                    op = replace(op, tags=tuple((k, keep if k == "requests" else v)
                                                for k, v in op.tags))
            elif isinstance(op, Gemm):
                op = replace(op, m=split(op.m, "m (tokens)", op.name))
            elif isinstance(op, Vector):
                op = replace(op, rows=split(op.rows, "rows (tokens)", op.name))
            elif isinstance(op, Collective):
                op = replace(op, bytes=op.bytes / m)
            ops.append(op)
        segs.append(replace(seg, ops=tuple(ops)))
    return Trace(f"{trace.name}-mb{m}", tuple(segs), trace.meta)
