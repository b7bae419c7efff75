"""Bank-bundle contention between Duplex's Logic-PIM and the xPU (MICRO'24 Sec 4.3, 5.3), as the
share of the memory port a Logic-PIM op takes off the xPU's traffic while it runs
(``Policy.port_claims``, the mechanism NeuPIMs' ``concurrent`` uses).

The paper: "a simple switch separates [the xPU path] from the Logic-PIM datapath, allowing
[the xPU] to read data from the other bank bundles even when Logic-PIM is accessing data ...
To prevent bank bundle conflicts when simultaneously using Logic-PIM and [the xPU], we
strategically allocate the weights of models and KV matrices considering the index of bank
bundles" (Sec 4.3), and the memory spaces of Sec 5.3 (``memory_spaces``). The authors'
simulator times the two sides independently (src/module/module_graph.cpp: ``low_time`` and
``high_time`` accumulate apart and meet at a max), i.e. no interaction, which is what the
paper's layout earns; this module gives the interaction when the layout does not avoid it.

While a Logic-PIM op L runs, the banks of space s are held by its bundle reads a share

    h(s) = min(1, w_L(s) x u_L x hold_ck x refresh / row_ck)      (``BundleRead.bank_time_share``)

w_L(s) the share of L's bundle bytes in s (the placement), u_L = bundle cycles / op cycles (1
when bundle-bound), hold_ck = R tCCD_L + tRTP + tRP + tRCD the bank time of one row-set and
row_ck / refresh the pseudo-channel time the stream spends per row-set. The xPU's bytes in s move
only while s's banks are free; the xPU streams its bytes in address order through a finite
request queue, so the bytes of a held space set its pace: with f(s) the share of the xPU's
co-running traffic in s (bytes of the ops the policy may overlap with L, by placement), its rate
is B min(1, min_s (1 - h(s)) / f(s)), and L claims

    phi = 1 - min(1, min over s with f(s) > 0 of (1 - h(s)) / f(s))      (``contention_share``)

of the port, capped at ``PHI_MAX`` (the fluid port needs a share below 1). Disjoint spaces
(f(s) = 0 wherever h(s) > 0) give phi = 0: the paper's layout, the authors' timing.

Assumptions (ours): the xPU's traffic is mixed evenly over the co-running ops (a segment-level
f, not per moment); Logic-PIM's all-bank commands take a held bundle first (the xPU waits;
Logic-PIM is not slowed by the xPU, as its bundle bytes do not cross the port); the xPU's
traffic is bus-bound, so free banks serve it at the full port rate (a bundle of 8 banks reads
b x 32 B per tCCD_L, 4x the bus).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from .memory_spaces import Spaces

#: the fluid port's reservations must stay below 1 (resources.FairShareBandwidth.reserve); at
#: 0.999 the xPU's bytes in a fully held space move 1000x slower: they wait for the bundle
PHI_MAX = 0.999


def contention_share(held: Mapping[int, float], traffic: Mapping[int, float]) -> float:
    """phi from the held shares h(s) and the xPU's traffic shares f(s) (module docstring)."""
    rate = 1.0
    for s, f in traffic.items():
        if f > 0 and held.get(s, 0.0) > 0:
            rate = min(rate, (1.0 - held[s]) / f)
    return min(PHI_MAX, max(0.0, 1.0 - rate))


def bundle_busy(cost: Any) -> float:
    """u_L: the share of a Logic-PIM op's cycles its bundle reads stream (0 for ops without
    bundle reads, e.g. softmax on the on-die buffers)."""
    d = getattr(cost, "detail", None) or {}
    read, mac = float(d.get("bundle_cycles", 0.0)), float(d.get("mac_cycles", 0.0))
    return read / max(read, mac) if read > 0 else 0.0


class BundleContention:
    """The claims of a segment's low-unit ops on their bank-bundle memory (module docstring)."""

    def __init__(self, device: Any, low: str, high: str) -> None:
        unit = device.units[low]
        self.low, self.high = low, high
        self.bundle = unit.bundle() if hasattr(unit, "bundle") else None
        by_id = {id(m): n for n, m in device.memories.items()}
        mem = unit.context.memory if unit.context is not None else None
        self.memory = by_id.get(id(mem)) if mem is not None else None
        self._phi: dict[int, float] = {}
        self._traffic: dict[str, dict[int, float]] = {}

    @property
    def spaces(self) -> int:
        """Memory spaces: bundles per pseudo-channel (0 when the low unit reads no bundles)."""
        return self.bundle.bundles if self.bundle is not None else 0

    def reset(self) -> None:
        """Forget the previous segment's shares (called by the policy's ``prepare``)."""
        self._phi, self._traffic = {}, {}

    def claims(self, i: int, state: Any, spaces: Sequence[Spaces],
               co_runners: Callable[[int], tuple[str, Sequence[int]]]) -> dict[str, float]:
        """{memory: phi} for op ``i`` if it runs on the low unit and holds bundles the xPU's
        co-running traffic needs; ``co_runners(i)``: (a key of the set, the ops the policy
        lets overlap op ``i`` on the high unit), the key caching f per set."""
        if self.bundle is None or self.memory is None or state.cand(i).unit != self.low:
            return {}
        phi = self._phi.get(i)
        if phi is None:
            u = bundle_busy(state.cand(i).cost)
            key, others = co_runners(i)
            phi = 0.0
            if u > 0 and others:
                if key not in self._traffic:
                    self._traffic[key] = self.traffic(state, spaces, others)
                held = {s: self.bundle.bank_time_share(w, u) for s, w in spaces[i].items()}
                phi = contention_share(held, self._traffic[key])
            self._phi[i] = phi
        return {self.memory: phi} if phi > 0 else {}

    def traffic(self, state: Any, spaces: Sequence[Spaces], others: Sequence[int]
                ) -> dict[int, float]:
        """f(s): the share of the ``others``' bytes on the memory (on the high unit) in each
        space."""
        total, per = 0.0, {}
        for j in others:
            c = next((c for c in state.seg.ops[j].candidates if c.unit == self.high), None)
            if c is None:
                continue
            nbytes = sum(c.totals.get(self.memory, (0.0, 0.0)))
            total += nbytes
            for s, w in spaces[j].items():
                per[s] = per.get(s, 0.0) + nbytes * w
        return {s: b / total for s, b in per.items()} if total > 0 else {}
