"""What an op is, for the Duplex policies: attention or MoE, which stage, which expert.

Duplex (MICRO'24 Sec 4) dispatches "by stage and layer". The model zoo's traces
(``accelsim.workload.llm``) carry what that needs in op names and tags:

* stage: the ``phase`` tag. Every op of a layer carries the iteration's phase (``decode``:
  a decoding-only iteration, ``mixed``: prefill and decode together, ``prefill``), except the
  attention ops, which carry their own sequences' phase (``attn.p<L>``: ``prefill``,
  ``attn.d<kv>``: ``decode``), so "attention of decoding sequences in the mixed stage" is an
  attention op tagged ``decode``;
* attention: an ``Attention`` op (or ``FlashAttention``), or a part of one (``Attention.lower``
  tags its QK^T, softmax and PV ``attention: <name>``);
* MoE layer: the router GEMM, its softmax and the combine (``router``, ``router_softmax``,
  ``moe_combine``, the names ``accelsim.system.sharding`` also keys on), the expert FFN ops
  (tag ``expert: <e>``) and, where the ``grouped_experts`` pass merged them, ``experts.*``.

An op without a ``phase`` tag (a hand-written trace) is in no stage and goes where "the rest"
goes (the high-Op/B unit).
"""
from __future__ import annotations

from ...workload.ops import Attention, Op

MOE_NAMES = frozenset({"router", "router_softmax", "moe_combine"})


def phase(op: Op) -> str | None:
    return dict(op.tags).get("phase")


def is_attention(op: Op) -> bool:
    return isinstance(op, Attention) or "attention" in dict(op.tags)


def expert(op: Op) -> str | None:
    """The expert an op computes for (its ``expert`` tag), else None."""
    return dict(op.tags).get("expert")


def is_moe(op: Op) -> bool:
    return (op.name in MOE_NAMES or expert(op) is not None or op.name.startswith("experts."))


def low_by_stage(op: Op) -> bool:
    """Duplex's stage rule (Sec 4): "The low-Op/B unit handles the MoE layers during the
    decoding-only stage as well as the attention layers of the decoding-only stage and of
    decoding sequences in the mixed stage. The high-Op/B unit manages the rest." """
    if is_attention(op) or is_moe(op):
        return phase(op) == "decode"
    return False
