"""Duplex's expert co-processing (+PE, MICRO'24 Sec 5.2): which experts of an MoE layer run on
the low-Op/B unit while the others run on the high-Op/B unit at the same time.

The paper: "Duplex preliminarily estimates and stores the processing times for experts in both
[the xPU] and [Logic-PIM], depending on the number of processed tokens. ... First, Duplex
calculates the total time to process all experts using only [the xPU]. Then, it progressively
assigns the experts with the fewest tokens to [Logic-PIM], aiming to find the best combination
for processing experts." As a rule (``split_experts``), with t_hi(e), t_lo(e) the expert's time
on each unit:

    H = sum_e t_hi(e), L = 0, best = H
    for e in experts by (tokens, expert index):
        if max(H - t_hi(e), L + t_lo(e)) < best: move e; H -= t_hi(e); L += t_lo(e); best = ...
        else: stop

The estimates are the scheduling fidelity's (``Candidate.estimate``, the cost model the
schedule itself uses): t_u(e) is the sum over the expert's ops of the estimate on unit u; an op
that neither unit runs (an activation on a vector unit) counts its fastest estimate on the
side its expert goes to; an expert with an op only the other unit can run cannot move
(t = inf). The authors' 2025 simulator (LLMSimulator ``src/module/route.cpp``,
``getIdxHighOptimal``) runs the mirror image (all on Logic-PIM, the experts with the most tokens
moved to the xPU while the makespan improves) with an analytical Op/B model instead of
estimates; this module follows the paper's text.
"""
from __future__ import annotations

import math
from typing import Mapping

from ..plan import PlannedOp, SegmentPlan
from .memory_spaces import expert_key, expert_space
from .stages import expert


def split_experts(tokens: Mapping[str, int], t_high: Mapping[str, float],
                  t_low: Mapping[str, float]) -> tuple[list[str], float]:
    """(experts moved to the low-Op/B unit in the order moved, the resulting makespan
    max(sum of t_high over the rest, sum of t_low over the moved)), by the module's rule.
    Ties in tokens go to the lower expert index (numeric where the names are numbers)."""
    order = sorted(tokens, key=lambda e: (tokens[e], _index(e)))
    hi, lo = float(sum(t_high[e] for e in order)), 0.0
    best = hi
    moved: list[str] = []
    for e in order:
        span = max(hi - t_high[e], lo + t_low[e])
        if not span < best:
            break
        hi, lo, best = hi - t_high[e], lo + t_low[e], span
        moved.append(e)
    return moved, best


_index = expert_key   # ties in tokens: the lower expert index (memory_spaces owns the order)


def _estimate(p: PlannedOp, unit: str, other: str) -> float:
    """Op ``p``'s estimate on ``unit``; on a third unit when neither runs it; inf when only
    ``other`` can."""
    on = [c.estimate for c in p.candidates if c.unit == unit]
    if on:
        return on[0]
    if any(c.unit == other for c in p.candidates):
        return math.inf
    return min(c.estimate for c in p.candidates)


def expert_split(seg: SegmentPlan, low: str, high: str, spaces: int | None = None
                 ) -> tuple[set[str], dict]:
    """The experts of ``seg`` to run on ``low`` and the inputs of the decision (tokens and
    per-unit estimates per expert or space, for reports and tests).

    ``spaces``: Duplex's memory layout (Sec 5.3: "we divide all the memory space in the device
    into four sections based on the index of the bank bundle ... For the expert FFNs, we
    allocated them one by one across these four memory spaces. During expert co-processing,
    Duplex processes all the experts within the memory space with either [Logic-PIM] or
    [the xPU]"): expert e lives in space ``e mod spaces`` (its index among the layer's experts
    where the names are not numbers) and a space moves as a whole, with the summed tokens and
    estimates of its experts. None: every expert on its own."""
    ops: dict[str, list[PlannedOp]] = {}
    for p in seg.ops:
        e = expert(p.op)
        if e is not None:
            ops.setdefault(e, []).append(p)
    tokens = {e: max(_rows(p) for p in ps) for e, ps in ops.items()}
    t_high = {e: sum(_estimate(p, high, low) for p in ps) for e, ps in ops.items()}
    t_low = {e: sum(_estimate(p, low, high) for p in ps) for e, ps in ops.items()}
    if spaces is None:
        moved, span = split_experts(tokens, t_high, t_low)
        return set(moved), {"tokens": tokens, "t_high": t_high, "t_low": t_low,
                            "moved": moved, "makespan": span}
    order = sorted(ops, key=_index)
    space = {e: str(expert_space(e, order, spaces)) for e in ops}
    members: dict[str, list[str]] = {}
    for e in order:
        members.setdefault(space[e], []).append(e)
    g_tokens = {g: sum(tokens[e] for e in es) for g, es in members.items()}
    g_high = {g: sum(t_high[e] for e in es) for g, es in members.items()}
    g_low = {g: sum(t_low[e] for e in es) for g, es in members.items()}
    moved, span = split_experts(g_tokens, g_high, g_low)
    return {e for g in moved for e in members[g]}, {
        "tokens": g_tokens, "t_high": g_high, "t_low": g_low, "moved": moved,
        "makespan": span, "spaces": members}


def _rows(p: PlannedOp) -> int:
    """Tokens an expert op processes: a GEMM's M, a vector op's rows."""
    return int(getattr(p.op, "m", None) or getattr(p.op, "rows", 0) or 0)
