"""``grouped_experts``: run a layer's MoE experts as grouped kernels, not one kernel per expert.

Ops tagged ``expert: E`` and named ``expert<E>.<role>`` (the model zoo's MoE layers) are merged
per role: the experts' GEMMs of one shape become one ``GroupedGemm`` (groups = each expert's
rows; each expert's weights read once), their element-wise ops of one kind and width one
``Vector`` over all routed rows. This is how serving stacks run MoE (one grouped kernel for all
experts' gate+up projections, one activation, one grouped kernel for the down projections).
Dependencies are kept: a merged op depends on what any of its members depended on, and depends
on nothing its members were; ops are then ordered topologically, in first-seen order. Off by
default; a unit that runs grouped kernels asks for it (``Unit.passes``: the GPU with
``moe_kernel: grouped``).
"""
from __future__ import annotations

import re
from dataclasses import replace

from ...workload.ops import Gemm, GroupedGemm, Op, Vector
from ...workload.trace import Segment
from . import PASSES, LowerPass

_EXPERT = re.compile(r"^expert(\d+)\.(.+)$")


def _group_key(op: Op) -> tuple | None:
    """(role, shape) of an expert op that can merge with its siblings, else None."""
    tags = dict(op.tags)
    m = _EXPERT.match(op.name)
    if "expert" not in tags or m is None or m.group(1) != tags["expert"]:
        return None
    role = m.group(2)
    if type(op) is Gemm and op.batch == 1:
        return (role, "gemm", op.n, op.k, op.dtype, op.w_dtype, op.out_dtype, op.group_size)
    if type(op) is Vector:
        return (role, "vector", op.op, op.cols, op.dtype)
    return None


def _merged(role: str, members: list[Op]) -> Op:
    first = members[0]
    tags = tuple(t for t in first.tags if t[0] != "expert")
    name = f"experts.{role}"
    if isinstance(first, Gemm):
        return GroupedGemm(name, n=first.n, k=first.k, dtype=first.dtype, w_dtype=first.w_dtype,
                           out_dtype=first.out_dtype, group_size=first.group_size, b_shared=True,
                           groups=tuple(op.m for op in members), tags=tags)
    assert isinstance(first, Vector)
    return replace(first, name=name, rows=sum(op.rows for op in members), tags=tags)


@PASSES.register("grouped_experts")
class GroupedExperts(LowerPass):
    """A layer's experts as grouped GEMMs and merged element-wise ops."""

    order = 500
    default_on = False

    def run(self, seg: Segment) -> Segment:
        groups: dict[tuple, list[Op]] = {}
        for op in seg.ops:
            key = _group_key(op)
            if key is not None:
                groups.setdefault(key, []).append(op)
        groups = {k: v for k, v in groups.items() if len(v) > 1}
        if not groups:
            return seg
        owner: dict[str, str] = {}           # op name -> the name of the op it becomes
        merged: dict[str, Op] = {}
        for key, members in groups.items():
            op = _merged(key[0], members)
            if op.name in merged or any(o.name == op.name for o in seg.ops):
                return seg                   # a name clash: leave the segment as it is
            merged[op.name] = op
            owner.update({m.name: op.name for m in members})
        deps = seg.resolved_deps()
        new_deps: dict[str, list[str]] = {}
        order: list[str] = []
        for op in seg.ops:
            me = owner.get(op.name, op.name)
            if me not in new_deps:
                new_deps[me] = []
                order.append(me)
            for d in deps[op.name]:
                d = owner.get(d, d)
                if d != me and d not in new_deps[me]:
                    new_deps[me].append(d)
        by_name = {op.name: op for op in seg.ops} | merged
        ordered = _topological(order, new_deps)
        if ordered is None:                  # merging would make a cycle: leave it as it is
            return seg
        return Segment(seg.name, tuple(replace(by_name[n], deps=tuple(new_deps[n]))
                                       for n in ordered), seg.repeat)


def _topological(order: list[str], deps: dict[str, list[str]]) -> list[str] | None:
    """``order`` rearranged so every op follows its dependencies (stable: first-seen order);
    None if there is a cycle."""
    done: set[str] = set()
    out: list[str] = []
    pending = list(order)
    while pending:
        for i, n in enumerate(pending):
            if all(d in done for d in deps[n]):
                out.append(n)
                done.add(n)
                del pending[i]
                break
        else:
            return None
    return out
