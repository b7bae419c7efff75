"""Lower chosen composite ops for one unit before planning (a policy's ``rewrite``).

The device's target lowering (``engine/passes/lower.py``) lowers every composite op for the
first unit that lowers it (a GPU's fused FlashAttention kernel, which only the GPU runs), so a
policy that sends some attention ops elsewhere (Duplex: decode attention to the low-Op/B unit)
must lower those first: by that unit's own ``Unit.lower``, else the op's ``lower()`` (QK^T,
softmax, PV). Ops pinned by ``mapping.pins`` (or a ``unit`` tag) are left to the pin.
Memoised on (trace, device structure, unit, rule), so repeated simulations of one trace plan
once (the planner's memo keys on the trace object).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable

from ...workload.ops import Op
from ...workload.trace import Trace
from ..mapping import pinned_unit
from ..plan import structure_key

_MEMO: "OrderedDict[tuple, tuple[Trace, Trace]]" = OrderedDict()
_MEMO_SIZE = 16


def lower_for(trace: Trace, device: Any, unit: str, chosen: Callable[[Op], bool],
              rule: Hashable) -> Trace:
    """``trace`` with every unpinned composite op for which ``chosen`` holds lowered for
    ``unit`` (``trace`` itself if there is none). ``rule`` names ``chosen`` in the memo key."""
    key = (id(trace), structure_key(device), unit, rule)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is trace:
        return hit[1]
    target = device.units[unit]

    def picked(op: Op) -> bool:
        return op.category == "composite" and chosen(op) and pinned_unit(device, op) is None

    def lower(op: Op) -> list[Op]:
        return list(target.lower(op) or op.lower()) if picked(op) else [op]

    segs = tuple(s.lowered(lower) if any(picked(o) for o in s.ops) else s
                 for s in trace.segments)
    out = trace if all(a is b for a, b in zip(segs, trace.segments)) else \
        Trace(trace.name, segs, trace.meta)
    _MEMO[key] = (trace, out)  # the trace is kept, so its id is not reused while cached
    if len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return out
