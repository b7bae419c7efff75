"""``buffer_edges``: keep producer->consumer tensors in an on-chip buffer when they fit.

On a device with an on-chip memory (``type: buffer``), the output of an op stays there instead
of going to DRAM when every op that reads it reads it as its main input (its first dependency is
the producer) and the tensor fits next to the other tensors live at that point; the producer
then writes its output operand to the buffer and each consumer reads its main input from it.
Tensors are allocated greedily in op order and freed after their last consumer; the last op of
a segment writes to main memory (the next segment reads it from there). Buffer capacity is the
buffer's ``capacity_kb``; the first on-chip memory of the device is used.
"""
from __future__ import annotations

from ...workload.trace import Segment
from . import PASSES, PlacePass


@PASSES.register("buffer_edges")
class BufferEdges(PlacePass):
    """Producer->consumer edges through the shared on-chip buffer when they fit."""

    @classmethod
    def applies(cls, device) -> bool:
        return any(not m.offchip for m in device.memories.values())

    def run(self, seg: Segment, deps: list[tuple[int, ...]]) -> dict[tuple[int, str], str]:
        name, buf = next((n, m) for n, m in self.device.memories.items() if not m.offchip)
        capacity = buf.capacity_bytes
        ops = seg.ops
        readers: dict[int, list[int]] = {}
        for j, d in enumerate(deps):
            for i in d:
                readers.setdefault(i, []).append(j)
        live: list[tuple[int, float]] = []  # (last reader, bytes) of tensors held in the buffer
        out: dict[tuple[int, str], str] = {}
        for i, op in enumerate(ops):
            live = [(end, b) for end, b in live if end >= i]
            rd = readers.get(i, [])
            if not rd or i == len(ops) - 1 or not all(deps[j][0] == i for j in rd):
                continue
            size = op.operand_bytes().get(_output_key(op), 0.0)
            if size <= 0 or sum(b for _, b in live) + size > capacity:
                continue
            live.append((max(rd), size))
            out[(i, op.output)] = name
            for j in rd:
                out[(j, ops[j].inputs[0])] = name
        return out


def _output_key(op) -> str:
    """The key of ``op.operand_bytes()`` that is its output."""
    keys = list(op.operand_bytes())
    return op.output if op.output in keys else keys[-1]
