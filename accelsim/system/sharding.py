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
Expert parallelism (``expert_layout``; config.py lists the four): with ep = tp or dp x tp rank 0
keeps experts 0 .. E/ep - 1 whole (fewer experts than ranks: expert 0 tensor-split over ep / E
ranks, Duplex Sec 3 footnote); with ep = dp it keeps experts 0 .. E/dp - 1 tensor-split over
tp (Duplex Sec 5.2). An all-to-all over the ep group dispatches the tokens before the experts
and another combines them after, S = the tokens rank 0's experts receive x h bytes each (ep =
dp: over the ranks of one tp index, stride tp, with the tp all-reduce of the partial sums
before the combine). Experts spread across replicas serve every replica's tokens, so their ops
keep the whole batch's token counts (``split_tokens(keep=...)``). Partial sums of a
tensor-split expert travel in the combine and are summed by the receiver (no extra op); the
all-gather that re-replicates combined tokens over a replica's tp ranks is not modelled.
Ops of other names are replicated and listed in ``Sharded.unsharded``.

Data parallelism: ``dp`` replicas each run ``split_tokens(trace, dp, exact=False)``: every
token dimension ceil(x / dp), the slowest replica's share (exact when dp divides it; a
remainder puts the extra token, request or row on that replica, op by op).

Pipeline: stage s of pp takes a contiguous block of the ``layers`` segment's repeats (the
first L mod pp stages one more), stage 0 the segments before it, the last stage those after.
Microbatches: every token dimension divided by M (GEMM m, vector rows, attention batch,
collective bytes; ``split_tokens(exact=True)``); the batch must divide by M.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
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


def expert_layout(tp: int, ep: int, dp: int = 1) -> str:
    """Where the experts live (config.py's list, in its order of precedence): 'replica_tp'
    (ep 1), 'replica_ep' (ep tp), 'across_replicas' (ep dp) or 'all' (ep dp x tp)."""
    if ep == 1:
        return "replica_tp"
    if ep == tp:
        return "replica_ep"
    if ep == dp:
        return "across_replicas"
    if ep == dp * tp:
        return "all"
    raise AccelsimError(f"ep must be 1, tp ({tp}), dp ({dp}) or dp x tp ({dp * tp}), got {ep}")


@dataclass(frozen=True)
class Experts:
    """Rank 0's experts: ids below ``keep``, each tensor-split ``split`` ways."""

    keep: int
    split: int

    @staticmethod
    def place(layout: str, experts: int, tp: int, ep: int, dp: int) -> "Experts":
        if layout == "replica_tp":
            return Experts(experts, tp)
        if layout == "across_replicas":
            if experts < dp:
                raise AccelsimError(f"ep = dp = {dp} replicas for {experts} experts")
            return Experts(experts // dp, tp)
        if experts >= ep:
            return Experts(experts // ep, 1)
        if ep % experts:
            raise AccelsimError(f"{experts} experts do not divide over ep = {ep} ranks")
        return Experts(1, ep // experts)      # each expert tensor-split over ep / E ranks


def _shard_op(op: Op, tp: int, heads: Heads | None, place: Experts
              ) -> tuple[list[Op], bool]:
    """(the op(s) for rank 0, whether the role was known)."""
    m = _EXPERT.fullmatch(op.name)
    role = m.group(2) if m else op.name
    if m:
        if int(m.group(1)) >= place.keep:
            return [], True                     # another rank's expert
        tp = place.split                        # this expert's tensor split
        if tp == 1:
            return [op], True                   # a whole expert on this rank
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


def _shard_segment(seg: Segment, tp: int, ep: int, dp: int, unknown: set[str]) -> Segment:
    heads = _heads(seg)
    experts = len({mm.group(1) for o in seg.ops if (mm := _EXPERT.fullmatch(o.name))})
    layout = expert_layout(tp, ep, dp)
    place = Experts.place(layout, experts, tp, ep, dp) if experts else Experts(0, 1)
    old = seg.resolved_deps()
    ops: list[Op] = []
    for op in seg.ops:
        new, known = _shard_op(op, tp, heads, place)
        if not known:
            unknown.add(op.name)
        ops += new
    expert_names = {o.name for o in ops if _EXPERT.fullmatch(o.name)}
    before = after = None
    if expert_names and (tp > 1 or ep > 1):
        ops, before, after = _moe_collectives(ops, expert_names, seg, tp, ep, layout)
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
                     ep: int, layout: str) -> tuple[list[Op], str | None, str]:
    """ep > 1: an all-to-all dispatches the tokens before the experts and another combines
    them after (ep = dp: over the ranks of one tp index, stride tp, with the tp all-reduce of
    the experts' partial sums before the combine); ep = 1: one all-reduce of the MoE output
    after the experts (their down projections are row-split). Returns (ops, dispatch name or
    None, the closing one)."""
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
        stride = tp if layout == "across_replicas" else 1
        dispatch = Collective(f"{seg.name}.moe_dispatch", collective="all_to_all",
                              bytes=nbytes, group=ep, stride=stride, deps=(prev.name,),
                              tags=prev.tags)
        mid: list[Op] = []
        done = tuple(o.name for o in experts)
        if layout == "across_replicas" and tp > 1:     # the tp-split experts' partial sums
            mid = [Collective(f"{seg.name}.moe_all_reduce", collective="all_reduce",
                              bytes=nbytes, group=tp, deps=done, tags=tail.tags)]
            done = (mid[0].name,)
        combine = Collective(f"{seg.name}.moe_combine", collective="all_to_all", bytes=nbytes,
                             group=ep, stride=stride, deps=done, tags=tail.tags)
        return (ops[:first] + [dispatch] + ops[first:last + 1] + mid + [combine]
                + ops[last + 1:], dispatch.name, combine.name)
    reduce = Collective(f"{seg.name}.moe_all_reduce", collective="all_reduce", bytes=nbytes,
                        group=tp, deps=tuple(o.name for o in experts), tags=tail.tags)
    return ops[:last + 1] + [reduce] + ops[last + 1:], None, reduce.name


def shard(trace: Trace, tp: int, ep: int = 1, dp: int = 1) -> Sharded:
    """Rank 0's trace under tensor (and expert) parallelism (module docstring); ``trace`` is
    the replica's share (``replica_share``) when dp > 1."""
    if tp == 1 and ep == 1:
        return Sharded(trace, ())
    unknown: set[str] = set()
    segs = tuple(_shard_segment(s, tp, ep, dp, unknown) for s in trace.segments)
    return Sharded(Trace(trace.name + f"-tp{tp}" + (f"-ep{ep}" if ep > 1 else ""), segs,
                         trace.meta), tuple(sorted(unknown)))


def replica_share(trace: Trace, dp: int, tp: int = 1, ep: int = 1) -> Trace:
    """The slowest of ``dp`` replicas' share of the batch (module docstring): experts spread
    across replicas (ep = dp or dp x tp) keep the whole batch's tokens."""
    if dp == 1:
        return trace
    across = expert_layout(tp, ep, dp) in ("across_replicas", "all")
    keep = (lambda op: _EXPERT.fullmatch(op.name) is not None) if across else None
    out = split_tokens(trace, dp, exact=False, keep=keep)
    return Trace(f"{trace.name}-dp{dp}", out.segments, trace.meta)


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
    out = split_tokens(trace, m, exact=True)
    return Trace(f"{trace.name}-mb{m}", out.segments, trace.meta)


def split_tokens(trace: Trace, m: int, exact: bool,
                 keep: Callable[[Op], bool] | None = None) -> Trace:
    """Every token dimension of ``trace`` (GEMM m, vector rows, attention batch, collective
    bytes) divided by ``m``: exactly (an error where m does not divide it) or rounded up (the
    largest of m shares); ops where ``keep(op)`` are left whole."""
    def split(v: int, what: str, name: str) -> int:
        if exact and v % m:
            raise AccelsimError(f"{m} microbatches do not divide op {name!r}'s {what} = {v}")
        return -(-v // m)

    segs = []
    for seg in trace.segments:
        ops = []
        for op in seg.ops:
            if keep is not None and keep(op):
                pass
            elif isinstance(op, Attention):
                op = replace(op, batch=split(op.batch, "batch", op.name))
                ids = dict(op.tags).get("requests")
                if ids is not None:   # the share's requests: the first 1/m of the ids
                    kept = ",".join(str(ids).split(",")[:op.batch])
                    op = replace(op, tags=tuple((k, kept if k == "requests" else v)
                                                for k, v in op.tags))
            elif isinstance(op, Gemm):
                op = replace(op, m=split(op.m, "m (tokens)", op.name))
            elif isinstance(op, Vector):
                op = replace(op, rows=split(op.rows, "rows (tokens)", op.name))
            elif isinstance(op, Collective):
                op = replace(op, bytes=op.bytes / m)
            ops.append(op)
        segs.append(replace(seg, ops=tuple(ops)))
    return Trace(trace.name, tuple(segs), trace.meta)
