"""Network topologies of a multi-device system and the time of a collective on them.

A topology is a list of dimensions, innermost first (ASTRA-sim's analytical network: per
dimension ``npus``, ``bandwidth_gb_s`` per NPU and direction, ``latency_us`` per hop or step,
and ``efficiency``, the share of the line rate the protocol delivers: B below is
bandwidth x efficiency).
One dimension of ``type``:

* ``ring``: bidirectional ring, the ring algorithms. For a collective of S bytes per NPU over n
  NPUs at bandwidth B and step latency a:
  all-reduce 2 (n-1)/n S/B + 2 (n-1) a (reduce-scatter then all-gather, n-1 steps each);
  reduce-scatter and all-gather (n-1)/n S/B + (n-1) a; all-to-all (n-1) n/4 S/(n B) + (n-1) a
  (each of the n-1 blocks of S/n travels n/4 hops on average on a bidirectional ring);
  send/receive S/B + a.
* ``fully_connected``: a direct link to every peer, B shared among them: all-reduce
  2 (n-1)/n S/B + 2 a (direct reduce-scatter and all-gather); reduce-scatter, all-gather and
  all-to-all (n-1)/n S/B + a; send/receive S/B + a.
* ``switch``: every NPU on one switch port of bandwidth B: all-reduce 2 (n-1)/n S/B +
  2 log2(n) a (halving-doubling); reduce-scatter, all-gather (n-1)/n S/B + log2(n) a;
  all-to-all (n-1)/n S/B + a; send/receive S/B + 2 a (two hops).

A group larger than the first dimension spans dimensions in order (hierarchical, as ASTRA-sim
and NCCL do it): all-reduce = reduce-scatter up the dimensions, each on the part of S left,
then all-gather back down; all-to-all is done per dimension on the whole S. A strided group
(every stride-th NPU: one tensor-parallel rank of each data-parallel replica, the expert
all-to-all of ``ep = dp``) skips the inner dimensions that hold the stride and runs on the
ones above. With bandwidth B
and no latency, ring and switch all-reduces report NCCL's bus bandwidth busbw = algbw
2 (n-1)/n = B. ``simulate_steps`` replays the same algorithms step by step (the per-link view)
and must agree with the closed forms.
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import ConfigDict, Field

from ..config.bounds import SaneModel

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv")
KINDS = ("ring", "fully_connected", "switch")


class Dimension(SaneModel):
    """One dimension of the network."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["ring", "fully_connected", "switch"]
    npus: int = Field(gt=0, le=1 << 20, description="NPUs along this dimension")
    bandwidth_gb_s: float = Field(gt=0, le=1e6, allow_inf_nan=False,
                                  description="per NPU and direction")
    latency_us: float = Field(0.0, ge=0, le=1e6, allow_inf_nan=False,
                              description="per hop / algorithm step")
    efficiency: float = Field(1.0, gt=0, le=1, allow_inf_nan=False,
                              description="share of the line rate the collective protocol "
                              "delivers (a calibration: configs cite where theirs comes from)")


def _one(dim: Dimension, collective: str, nbytes: float, n: int) -> float:
    """Seconds of ``collective`` of ``nbytes`` per NPU over ``n`` NPUs of one dimension."""
    if n <= 1 or nbytes <= 0:
        return 0.0
    B, a = dim.bandwidth_gb_s * dim.efficiency * 1e9, dim.latency_us * 1e-6
    share = (n - 1) / n * nbytes / B
    steps = {"ring": n - 1, "fully_connected": 1, "switch": math.ceil(math.log2(n))}[dim.type]
    if collective == "all_reduce":
        return 2 * share + 2 * steps * a
    if collective in ("all_gather", "reduce_scatter"):
        return share + steps * a
    if collective == "all_to_all":
        hops = n / 4 if dim.type == "ring" else 1.0
        return share * max(1.0, hops) + (steps if dim.type == "ring" else 1) * a
    if collective == "send_recv":
        return nbytes / B + (2 * a if dim.type == "switch" else a)
    raise ValueError(f"unknown collective {collective!r}; known: {', '.join(COLLECTIVES)}")


def _spans(dims: list[Dimension], group: int, stride: int = 1
           ) -> list[tuple[Dimension, int]]:
    """(dimension, NPUs of the group along it), innermost first. A group of ``stride`` > 1
    takes every stride-th NPU (ranks 0, stride, 2 stride, ...: the same tensor-parallel rank
    of each data-parallel replica); stride must be the NPU count of whole inner dimensions,
    which the group then skips."""
    skip = 0
    inner = 1
    while inner < stride and skip < len(dims):
        inner *= dims[skip].npus
        skip += 1
    if inner != stride:
        whole = [math.prod(d.npus for d in dims[:i]) for i in range(1, len(dims) + 1)]
        raise ValueError(f"a group strided by {stride} NPUs must skip whole inner dimensions "
                         f"of the network (strides possible: {', '.join(map(str, whole))})")
    out, left = [], group
    for d in dims[skip:]:
        if left <= 1:
            break
        n = min(d.npus, left)
        out.append((d, n))
        left = math.ceil(left / n)
    if left > 1:
        raise ValueError(f"a group of {group} NPUs" + (f" {stride} apart" if stride > 1 else "")
                         + f" is larger than the network ({math.prod(d.npus for d in dims)} "
                         f"NPUs)")
    return out


def collective_seconds(dims: list[Dimension], collective: str, nbytes: float,
                       group: int, stride: int = 1) -> float:
    """Seconds of ``collective`` over ``group`` NPUs of the network, every ``stride``-th
    (module docstring; ``_spans``)."""
    spans = _spans(dims, group, stride)
    if not spans:
        return 0.0
    if collective == "all_reduce" and len(spans) > 1:
        t, s = 0.0, float(nbytes)
        for d, n in spans:          # reduce-scatter up, all-gather down
            t += 2 * _one(d, "reduce_scatter", s, n)
            s /= n
        return t
    if collective in ("all_gather", "reduce_scatter") and len(spans) > 1:
        t, s = 0.0, float(nbytes)
        for d, n in spans:
            t += _one(d, collective, s, n)
            s /= n
        return t
    if collective == "send_recv":
        return _one(spans[0][0], collective, nbytes, 2)
    return sum(_one(d, collective, nbytes, n) for d, n in spans)


def steps(dim: Dimension, collective: str, nbytes: float, n: int) -> list[float]:
    """Seconds of each step of the algorithm on one dimension's links (the per-link view):
    every step each NPU sends its block to its peer(s), taking the block over its link plus the
    step latency. The link unit plays these as its tiles (one per step) at tile fidelity."""
    if n <= 1 or nbytes <= 0:
        return []
    B, a = dim.bandwidth_gb_s * dim.efficiency * 1e9, dim.latency_us * 1e-6
    if dim.type == "ring" and collective in ("all_reduce", "reduce_scatter", "all_gather"):
        phases = 2 if collective == "all_reduce" else 1
        return [nbytes / n / B + a] * (phases * (n - 1))   # n-1 steps a phase, S/n each
    if dim.type == "switch" and collective in ("all_reduce", "reduce_scatter", "all_gather"):
        phases = 2 if collective == "all_reduce" else 1
        rounds = math.ceil(math.log2(n))
        total = (n - 1) / n * nbytes          # what halving (then doubling) moves per NPU
        one = [total * 2 ** (rounds - r - 1) / (2 ** rounds - 1) / B + a  # each half the last
               for r in range(rounds)]
        return one * phases
    # direct algorithms: every peer's block at once over the shared injection bandwidth
    return [_one(dim, collective, nbytes, n)]


def simulate_steps(dim: Dimension, collective: str, nbytes: float, n: int) -> float:
    """The step-by-step replay's total; agrees with the closed form (tests check it)."""
    return float(sum(steps(dim, collective, nbytes, n)))


def collective_steps(dims: list[Dimension], collective: str, nbytes: float,
                     group: int, stride: int = 1) -> list[float]:
    """Every step of ``collective`` over ``group`` NPUs (every ``stride``-th), dimension by
    dimension (hierarchical as in ``collective_seconds``); sums to the closed form."""
    spans = _spans(dims, group, stride)
    if collective == "send_recv" or not spans:
        return [collective_seconds(dims, collective, nbytes, group, stride)] if spans else []
    out: list[float] = []
    if collective in ("all_reduce", "all_gather", "reduce_scatter") and len(spans) > 1:
        s = float(nbytes)
        kind = "reduce_scatter" if collective == "all_reduce" else collective
        up = []
        for d, n in spans:
            up.append(steps(d, kind, s, n))
            s /= n
        out = [x for part in up for x in part]
        if collective == "all_reduce":     # all-gather back down, the same steps reversed
            out += [x for part in reversed(up) for x in part]
        return out
    for d, n in spans:
        out += steps(d, collective, nbytes, n)
    return out
