"""``pim_channel_balance``: place decode requests' KV caches on PIM channels and charge the
PIM attention of a segment the busiest channel's time (NeuPIMs, ASPLOS'24 Sec 6.1, Alg 2).

Runs where a PIM unit has ``placement.kv: by_request`` (``arch/units/pim_placement.py``).
For each segment, the decode attention ops (``Attention`` with one query per request) whose
K^T q and logits x V GEMVs are pinned to such a unit are lowered here (before the generic
target lowering): every request r gets its load t_r = the unit's tCK for r's K^T q plus its
logits x V on one channel (all its KV heads, at r's context length); requests are given
channels by the unit's ``placement.balance`` (greedy least-loaded, or round robin in arrival
order: the ops' ``requests`` tags, comma-separated ids, where the trace gives them, else the
ops' order); with M = the busiest channel's load and S = sum_r t_r, each GEMV becomes a
``ChannelPlacedGemm`` with ``share = M / S``, so the unit charges it
requests x t_request x M / S and the segment's PIM attention ops together take exactly M.
Attention ops of different sub-batches (tag ``subbatch``, set by ``subbatch_interleave``) are
placed apart, as each sub-batch runs on its own.
"""
from __future__ import annotations

import sys
from dataclasses import fields
from typing import Any

from ...errors import AccelsimError
from ...workload.ops import Attention, Gemm, Op
from ...workload.trace import Segment
from . import PASSES, LowerPass


def _placed_units(device: Any) -> dict[str, Any]:
    mod = sys.modules.get("accelsim.arch.units.pim_bank")
    if mod is None:  # no PIM bank unit was ever built: skip importing its module (issue 16)
        return {}
    PimBankUnit = mod.PimBankUnit
    return {n: u for n, u in device.units.items()
            if isinstance(u, PimBankUnit) and u.config.placement.kv == "by_request"}


def _request_ids(op: Attention) -> list[int] | None:
    raw = dict(op.tags).get("requests")
    if raw is None:
        return None
    try:
        ids = [int(x) for x in str(raw).split(",") if x.strip()]
    except ValueError:
        ids = []
    if len(ids) != op.batch:
        raise AccelsimError(f"op {op.name!r}: tag 'requests' must list {op.batch} request ids "
                            f"(comma-separated integers), got {raw!r}")
    return ids


def _placed(g: Gemm, heads: int, share: float) -> Op:
    from ...arch.units.pim_placement import ChannelPlacedGemm
    return ChannelPlacedGemm(**{f.name: getattr(g, f.name) for f in fields(g)},
                             heads=heads, share=share)


@PASSES.register("pim_channel_balance")
class PimChannelBalance(LowerPass):
    """Decode attention on ``kv: by_request`` PIM units, charged by the busiest channel."""

    order = 900

    @classmethod
    def applies(cls, device: Any) -> bool:
        return bool(_placed_units(device))

    def run(self, seg: Segment) -> Segment:
        from ...arch.units.pim_placement import assign_channels, channel_loads
        from ..mapping import pinned_unit
        units = _placed_units(self.device)
        groups: dict[tuple[str, str], list[Attention]] = {}
        for op in seg.ops:
            if type(op) is not Attention or op.q_len != 1:
                continue
            qk, _, pv = op.lower()
            u = pinned_unit(self.device, qk)
            if u in units and pinned_unit(self.device, pv) == u:
                groups.setdefault((u, dict(op.tags).get("subbatch", "")), []).append(op)
        if not groups:
            return seg
        replaced: dict[str, list[Op]] = {}
        for (u, _), ops in groups.items():
            unit = units[u]
            ids = [_request_ids(op) for op in ops]
            known = all(i is not None for i in ids)
            reqs: list[tuple[tuple, float]] = []   # (arrival key, load)
            parts = {}
            for j, op in enumerate(ops):
                qk, sm, pv = op.lower()
                parts[op.name] = (qk, sm, pv)
                t = unit.request_ck(qk, op.n_kv) + unit.request_ck(pv, op.n_kv)
                for k in range(op.batch):
                    reqs.append(((ids[j][k],) if known else (j, k), t))
            reqs.sort(key=lambda r: r[0])
            loads = [t for _, t in reqs]
            balance = unit.config.placement.balance
            per_channel = channel_loads(loads, assign_channels(loads, unit.channels, balance),
                                        unit.channels)
            share = max(per_channel) / sum(loads)
            for op in ops:
                qk, sm, pv = parts[op.name]
                replaced[op.name] = [_placed(qk, op.n_kv, share), sm,
                                     _placed(pv, op.n_kv, share)]
        return seg.lowered(lambda op: replaced.get(op.name, [op]))
