"""Token-to-expert counts of a mixture-of-experts layer.

Every token goes to ``top_k`` distinct experts, so ``tokens * top_k`` assignments are shared by
``experts`` experts, none getting more than ``tokens``. Three ways to share them:

* ``"uniform"``: balanced; each expert gets ``floor(A / E)`` and the first ``A mod E`` one more
  (A = tokens * top_k). This is the expected load under uniform routing, the assumption Duplex
  makes ("uniform expert routing", Sec. 6), rounded so that the counts are integers.
* ``"random"``: each token draws top_k distinct experts uniformly at random (seeded numpy
  Generator, one stream per layer): realistic imbalance, different per layer.
* a sequence of E non-negative weights: expected counts ``A * w_e / sum(w)``; experts above
  ``tokens`` are capped there and the excess is re-shared by weight among the others (water
  filling); rounded by largest remainder.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import AccelsimError


def expert_counts(tokens: int, experts: int, top_k: int, dist: "str | Sequence[float]" = "uniform",
                  *, seed: int = 0, layer: int = 0) -> tuple[int, ...]:
    """Tokens routed to each expert (length ``experts``, summing to ``tokens * top_k``)."""
    if not 1 <= top_k <= experts:
        raise AccelsimError(f"top_k ({top_k}) must be between 1 and the expert count ({experts})")
    total = tokens * top_k
    if isinstance(dist, str):
        if dist == "uniform":
            base, rem = divmod(total, experts)
            return tuple(base + (1 if e < rem else 0) for e in range(experts))
        if dist == "random":
            rng = np.random.default_rng([seed, layer])
            choice = np.argsort(rng.random((tokens, experts)), axis=1)[:, :top_k]
            return tuple(int(c) for c in np.bincount(choice.ravel(), minlength=experts))
        raise AccelsimError(f"unknown MoE routing distribution {dist!r}; use 'uniform', 'random' "
                            f"or a list of {experts} per-expert weights")
    return _weighted(tokens, total, experts, [float(w) for w in dist])


def _weighted(tokens: int, total: int, experts: int, w: list[float]) -> tuple[int, ...]:
    if len(w) != experts or any(x < 0 or not np.isfinite(x) for x in w) or sum(w) <= 0:
        raise AccelsimError(f"MoE routing weights must be {experts} non-negative numbers with a "
                            f"positive sum (one per expert), got {w}")
    # water-filling: experts whose share exceeds `tokens` are capped, the rest is re-shared
    capped: set[int] = set()
    while True:
        free = [e for e in range(experts) if e not in capped]
        rest = total - tokens * len(capped)
        wsum = sum(w[e] for e in free)
        share = {e: rest * (w[e] / wsum if wsum > 0 else 1 / len(free)) for e in free}
        over = {e for e in free if share[e] > tokens}
        if not over:
            break
        capped |= over
    exact = [float(tokens) if e in capped else share[e] for e in range(experts)]
    counts = [int(np.floor(x)) for x in exact]
    order = sorted(range(experts), key=lambda e: (-(exact[e] - counts[e]), e))
    for e in order[: total - sum(counts)]:  # largest remainder; never above `tokens`
        counts[e] += 1
    return tuple(counts)
