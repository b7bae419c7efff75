"""``lut_precompute``: give every GEMM a LUT unit runs its table precompute op, and pin it there.

LUT Tensor Core Sec 3.1.1 (DFG transformation): the tables of a LUT GEMM are built once, by an
op of their own (``lut_tables``) that the mapper places like any other: on a vector unit or on
the LUT unit (pin ``<gemm>.tables`` in ``mapping.pins`` to choose), or fused into the
element-wise op before it (``lut_precompute_fusion``). The GEMM then reads the tables as its
main input (operand A) and is pinned (tag ``unit``) to the LUT unit that asked for them, unless
a ``mapping.pins`` glob already places it. Requested by ``type: lut_tensor_core`` units.
"""
from __future__ import annotations

from dataclasses import replace

from ...workload.ops import Op
from ...workload.trace import Segment
from . import PASSES, LowerPass


@PASSES.register("lut_precompute")
class LutPrecompute(LowerPass):
    """A ``lut_tables`` op before each GEMM a LUT unit takes."""

    order = 600
    default_on = False

    def run(self, seg: Segment) -> Segment:
        from ..mapping import pinned_unit
        luts = [(n, u) for n, u in self.device.units.items() if hasattr(u, "tables_for")]
        deps = seg.resolved_deps()
        out: list[Op] = []
        changed = False
        for op in seg.ops:
            pin = pinned_unit(self.device, op)
            chosen = [(n, u) for n, u in luts if pin is None or n == pin]
            tables = next(((n, t) for n, u in chosen if (t := u.tables_for(op)) is not None),
                          None)
            if tables is None:
                out.append(replace(op, deps=deps[op.name]))
                continue
            unit, t = tables
            d = deps[op.name]
            out.append(replace(t, deps=d[:1]))
            tags = op.tags if pin is not None else tuple(
                x for x in op.tags if x[0] != "unit") + (("unit", unit),)
            out.append(replace(op, deps=(t.name, *d[1:]), tags=tags))
            changed = True
        return Segment(seg.name, tuple(out), seg.repeat) if changed else seg
