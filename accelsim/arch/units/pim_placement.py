"""Channel placement of what a PIM unit reads: where the KV cache and the weights live.

``placement:`` of a ``pim_bank`` / ``hbm_pim`` unit:

* ``kv: interleave`` (default): every request's KV cache is interleaved over all the unit's
  channels, so each attention GEMV is spread evenly (``pim_bank``'s batching over channels);
* ``kv: by_request``: each request's KV cache (all its KV heads) lives on one channel, as in
  NeuPIMs (ASPLOS'24 Sec 6.1: a request's K and V are mapped to one PIM channel, so its
  attention GEMVs run on that channel alone). Then the PIM attention time of a decode
  iteration is the busiest channel's: T = max_c sum_{r on c} t_r, with t_r the time of
  request r's K^T q and logits x V GEMVs on one channel (the unit's own timing at r's context
  length), not the even spread sum_r t_r / channels;
* ``balance`` (with ``by_request``): how requests are given channels.
  ``greedy``: NeuPIMs' channel load balancing (Alg 2 as restated: requests in decreasing
  load, each to the currently least-loaded channel, ties to the lowest channel index);
  ``round_robin``: request i (arrival order) to channel i mod channels, the naive NPU+PIM
  baseline's assignment (the artifact's ``request-traces/rr``), blind to lengths;
* ``weights: interleave``: weight matrices a PIM unit reads (small-batch FC GEMVs) are split
  by output columns over all channels (the only weight placement modelled).

The assignment is done by the lowering pass ``pim_channel_balance``
(``accelsim/engine/passes/pim_channels.py``) over each segment's decode attention whose K^T q
and logits x V are pinned to the unit (``mapping.pins``; attention the mapper may send
elsewhere is left to the usual lowering and costed interleaved); arrival
order is the requests' ``requests`` tags where the trace gives them (comma-separated request
ids on each attention op), else the order of the ops.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from pydantic import ConfigDict, Field

from ...config.bounds import SaneModel
from ...workload.ops import Gemm


class PimPlacement(SaneModel):
    """``placement:`` of a PIM unit (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kv: Literal["interleave", "by_request"] = Field(
        "interleave", description="KV cache: interleaved over all channels, or each request's "
        "on one channel (NeuPIMs)")
    balance: Literal["greedy", "round_robin"] = Field(
        "greedy", description="with kv: by_request, requests to channels by NeuPIMs' greedy "
        "least-loaded balancing or round robin in arrival order")
    weights: Literal["interleave"] = Field(
        "interleave", description="weights: split by output columns over all channels")


def assign_channels(loads: Sequence[float], channels: int,
                    balance: str = "greedy") -> list[int]:
    """Channel of each request (``loads`` in arrival order) under ``balance``."""
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")
    n = len(loads)
    if balance == "round_robin":
        return [i % channels for i in range(n)]
    if balance != "greedy":
        raise ValueError(f"unknown balance {balance!r}; choose greedy or round_robin")
    out = [0] * n
    total = [0.0] * channels
    for i in sorted(range(n), key=lambda i: (-loads[i], i)):   # decreasing load, stable
        c = min(range(channels), key=lambda c: (total[c], c))
        out[i] = c
        total[c] += loads[i]
    return out


def channel_loads(loads: Sequence[float], assignment: Sequence[int],
                  channels: int) -> list[float]:
    """Total load of each channel under ``assignment``."""
    total = [0.0] * channels
    for load, c in zip(loads, assignment):
        total[c] += load
    return total


def makespan(loads: Sequence[float], channels: int, balance: str = "greedy") -> float:
    """The busiest channel's load when ``loads`` are placed by ``balance``."""
    return max(channel_loads(loads, assign_channels(loads, channels, balance), channels),
               default=0.0)


@dataclass(frozen=True)
class ChannelPlacedGemm(Gemm):
    """A decode attention GEMV (K^T q or logits x V) of requests whose KV caches each sit on
    one channel (``kv: by_request``), made by the ``pim_channel_balance`` pass.

    ``heads``: batch elements (KV heads) of one request, so ``batch / heads`` requests;
    ``share``: M / S of the placement of the segment's decode attention on this unit (M the
    busiest channel's load, S the sum of every request's load, both in tCK of one channel),
    so that the unit charges the op ``requests x t_request x share`` and the segment's PIM
    attention ops together take M. Part of the shape, so costs memoise per placement."""

    heads: int = 1
    share: float = 1.0
