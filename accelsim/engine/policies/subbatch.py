"""``subbatch_interleave``: NeuPIMs' sub-batch interleaving (ASPLOS'24 Sec 6.2): the decode
batch is split into two sub-batches a and b, and one's attention (on the PIM banks) runs while
the other's QKV / projection / FFN run on the NPU.

The policy rewrites the trace before planning (``rewrite``): each layer's ops are cut after
the (last) attention op into H1 (norm, QKV, attention) and H2 (projection, FFN, residuals),
every op copied for a and b with half the tokens (GEMM m, vector rows, collective bytes) and
tagged ``subbatch: a|b``. Attention comes as one op per context length when requests differ
(``attn.d<kv>``): each op's requests are halved, an odd count's extra request going to a and
b in turn over the ops (NeuPIMs Alg 3: odd counts alternate ceil and floor), with their
``requests`` ids; an op left with no request in a sub-batch is dropped from it. The layers are
re-segmented so the overlap is pipelined across layers while the segment repeat still holds:

    prologue  a.H1(1)
    body x (L - 1):  a.H2(l) | b.H1(l),  then  b.H2(l) | a.H1(l + 1)
    epilogue  a.H2(L) | b.H1(L), then b.H2(L)

(``|``: no dependency between the two, so they overlap as units allow). The total is
(L - 1) steady steps plus one layer split between the ends, NeuPIMs' own accounting. Below
``min_batch`` decoding requests in all (the artifact: "enabled only when batch size >= 256")
or with an odd total the trace is left whole. Dispatch is the greedy policy's; with ``blocked: true`` PIM ops and NPU
memory traffic also never overlap (the policy ``blocked``'s gate); with ``concurrent: true``
they overlap coupled as under the policy ``concurrent`` (PIM first, the PIM op's share phi of
its dual-row-buffer memory's port; the memory must have ``dual_row_buffer: true``).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Literal

from pydantic import Field, model_validator

from ...config.bounds import MAX_BATCH
from ...workload.collective_ops import Collective
from ...workload.ops import Attention, Gemm, Op, Vector
from ...workload.trace import Segment, Trace
from . import POLICIES, DispatchState, PolicyConfig
from .blocked import Blocked, _is_pim
from .concurrent import Coupling, dual_row_buffer_problems


class SubbatchConfig(PolicyConfig):
    type: Literal["subbatch_interleave"] = "subbatch_interleave"
    min_batch: int = Field(256, ge=1, le=MAX_BATCH)
    blocked: bool = False
    concurrent: bool = Field(False, description="couple PIM ops to the NPU's traffic on a "
                             "dual-row-buffer memory as the policy concurrent does")
    redispatch: bool = True

    @model_validator(mode="after")
    def _one_mode(self) -> "SubbatchConfig":
        if self.blocked and self.concurrent:
            raise ValueError("blocked and concurrent exclude each other (one row buffer or "
                             "two)")
        return self


def _half(op: Op, tag: str, split: dict[str, tuple[int, int]]) -> Op | None:
    """``op`` for sub-batch ``tag`` (``a`` or ``b``), or None when it has no requests there;
    tagged ``subbatch`` so placement passes keep the two apart."""
    name = f"{tag}.{op.name}"
    tags = (*op.tags, ("subbatch", tag))
    if isinstance(op, Attention):
        n = split[op.name][0 if tag == "a" else 1]
        if n == 0:
            return None
        ids = dict(op.tags).get("requests")
        if ids is not None:        # each request's id goes with it
            lst = str(ids).split(",")
            lst = lst[:n] if tag == "a" else lst[len(lst) - n:]
            tags = tuple((k, ",".join(lst) if k == "requests" else v) for k, v in tags)
        return replace(op, name=name, batch=n, tags=tags)
    if isinstance(op, Gemm):
        return replace(op, name=name, m=op.m // 2, tags=tags)
    if isinstance(op, Vector):
        return replace(op, name=name, rows=op.rows // 2, tags=tags)
    if isinstance(op, Collective):
        return replace(op, name=name, bytes=op.bytes / 2, tags=tags)
    return replace(op, name=name, tags=tags)


def _split(attn: list[Attention]) -> dict[str, tuple[int, int]]:
    """Requests of each attention op to sub-batches a and b: halves, an odd count's extra
    request alternating between a and b over the ops (NeuPIMs Alg 3: odd counts alternate
    ceil and floor), so a and b hold half the batch each."""
    out, extra_to_a = {}, True
    for op in attn:
        a = op.batch // 2 + (op.batch % 2 if extra_to_a else 0)
        if op.batch % 2:
            extra_to_a = not extra_to_a
        out[op.name] = (a, op.batch - a)
    return out


def _copy(ops: list[Op], deps: dict[str, tuple[str, ...]], tag: str,
          after: str | None, split: dict[str, tuple[int, int]]) -> list[Op]:
    """``ops`` for sub-batch ``tag``: dependencies inside ``ops`` kept, others dropped (the
    segment barrier orders them); the first op also follows ``after`` when given. An
    attention op without requests in this sub-batch is left out (its dependents skip it)."""
    halves = [(o, _half(o, tag, split)) for o in ops]
    inside = {o.name for o, h in halves if h is not None}
    out = []
    for o, h in halves:
        if h is None:
            continue
        d = tuple(f"{tag}.{x}" for x in deps[o.name] if x in inside)
        if not out and after is not None:
            d = (after, *d)
        out.append(replace(h, deps=d))
    return out


def interleave(trace: Trace, min_batch: int = 256) -> Trace:
    """The sub-batch-interleaved trace (module docstring), or ``trace`` when it does not
    apply (no attention in a 'layers' segment, a batch below ``min_batch`` or odd)."""
    idx = next((i for i, s in enumerate(trace.segments) if s.name == "layers"), None)
    if idx is None:
        return trace
    seg = trace.segments[idx]
    attn = [i for i, o in enumerate(seg.ops) if isinstance(o, Attention)]
    total = sum(seg.ops[i].batch for i in attn)
    if not attn or total < min_batch or total % 2:
        return trace
    cut = attn[-1] + 1
    deps = seg.resolved_deps()
    h1, h2 = list(seg.ops[:cut]), list(seg.ops[cut:])
    split = _split([seg.ops[i] for i in attn])
    L = seg.repeat

    pro = Segment("layers.sbi_prologue", tuple(_copy(h1, deps, "a", None, split)), 1)
    a2 = _copy(h2, deps, "a", None, split)
    b1 = _copy(h1, deps, "b", None, split)
    b2 = _copy(h2, deps, "b", b1[-1].name, split)
    a1 = _copy(h1, deps, "a", a2[-1].name, split)
    body = Segment("layers", tuple(a2 + b1 + b2 + a1), L - 1) if L > 1 else None
    epi = Segment("layers.sbi_epilogue",
                  tuple(_copy(h2, deps, "a", None, split) + b1 + b2), 1)
    segs = [*trace.segments[:idx], pro, *([body] if body else []), epi,
            *trace.segments[idx + 1:]]
    return Trace(trace.name + "-sbi", tuple(segs), trace.meta)


_MEMO: "OrderedDict[tuple[int, int], tuple[Trace, Trace]]" = OrderedDict()
_MEMO_SIZE = 16


def _interleaved(trace: Trace, min_batch: int) -> Trace:
    """``interleave``, memoised on the (immutable) trace: the same trace gives the same
    rewritten trace object, so the planner's memo on the trace (``engine.plan._static``) serves
    every device of one structure, as it does without a rewrite."""
    key = (id(trace), min_batch)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is trace:
        _MEMO.move_to_end(key)
        return hit[1]
    out = interleave(trace, min_batch)
    _MEMO[key] = (trace, out)   # the trace is kept, so its id is not reused while cached
    if len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return out


@POLICIES.register("subbatch_interleave")
class SubbatchInterleave(Blocked):
    """Greedy dispatch on the sub-batch-interleaved trace (``blocked``: gated as ``blocked``)."""

    config_model = SubbatchConfig
    config: SubbatchConfig

    def rewrite(self, trace: Trace) -> Trace:
        return _interleaved(trace, self.config.min_batch if self.config else 256)

    _coupling: Coupling | None = None

    @classmethod
    def check_device(cls, config, units, memories, main_memory):
        if not getattr(config, "concurrent", False):
            return []
        return [(("scheduling", "concurrent"), msg.replace("concurrent needs", "concurrent: "
                 "true needs", 1))
                for _, msg in dual_row_buffer_problems(units, memories, main_memory)]

    def bind(self, device) -> None:
        if self.config is not None and self.config.concurrent:
            self._coupling = Coupling(device)

    def port_claims(self, i: int, state: DispatchState) -> dict[str, float]:
        return self._coupling.claims(i, state) if self._coupling is not None else {}

    def priority(self, i: int, state: DispatchState) -> tuple:
        if self._coupling is None:
            return super().priority(i, state)
        return (0 if _is_pim(state.cand(i)) else 1, state.ready_at[i], i)

    def may_start(self, i: int, state: DispatchState) -> bool:
        if self.config is not None and self.config.blocked:
            return super().may_start(i, state)
        return True
