"""``lut_precompute_fusion``: fuse a LUT GEMM's table precompute into the element-wise op before.

LUT Tensor Core Sec 3.3.2 (kernel fusion): the tables are built by the preceding element-wise
op (RMSNorm, the activation, the gating multiply) as it writes its output, so the activations
never make a round trip through memory and the precompute costs only its adds. A ``lut_tables``
op whose only dependency is a plain vector op of the same shape, read by nothing else, is merged
into it: one ``lut_tables`` op with ``fused`` = that op's kind, its inputs and dependencies.
Where the producer is not element-wise (attention output before o_proj) the tables stay a
separate op. Off by default (``mapping.fusion.lut_precompute_fusion: true``).
"""
from __future__ import annotations

from dataclasses import replace

from ...workload.lut_ops import LutTables
from ...workload.ops import Vector
from ...workload.trace import Segment
from . import PASSES, LowerPass


@PASSES.register("lut_precompute_fusion")
class LutPrecomputeFusion(LowerPass):
    """Tables built by the element-wise op that produces their activations."""

    order = 700
    default_on = False

    def run(self, seg: Segment) -> Segment:
        deps = seg.resolved_deps()
        readers: dict[str, int] = {}
        for d in deps.values():
            for x in d:
                readers[x] = readers.get(x, 0) + 1
        by_name = {op.name: op for op in seg.ops}
        fused_into: dict[str, LutTables] = {}   # producer name -> the fused op
        dropped: dict[str, str] = {}            # tables op name -> producer name
        for op in seg.ops:
            if type(op) is not LutTables or op.fused is not None or len(deps[op.name]) != 1:
                continue
            src = by_name.get(deps[op.name][0])
            if (type(src) is not Vector or readers.get(src.name) != 1 or src.name in fused_into
                    or (src.rows, src.cols) != (op.rows, op.cols)):
                continue
            fused_into[src.name] = replace(op, name=src.name, fused=src.op, dtype=src.dtype,
                                           deps=deps[src.name], tags=src.tags)
            dropped[op.name] = src.name
        if not fused_into:
            return seg
        out = []
        for op in seg.ops:
            if op.name in dropped:
                continue
            new = fused_into.get(op.name, op)
            out.append(replace(new, deps=tuple(dropped.get(d, d) for d in deps[op.name])))
        return Segment(seg.name, tuple(out), seg.repeat)
