"""``SweepReport``: what a sweep did (``run_sweep``'s answer, ``accelsim sweep``'s summary)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class SweepReport:
    """What a sweep did."""

    experiment: str
    store: str
    strategy: str
    backend: str
    workers: int
    planned: int          # distinct points the strategy asked for
    skipped: int          # answered from the store (resume, or an optimiser's repeat)
    evaluated: int        # run now
    failed: int           # of those, points that raised an error
    infeasible: int       # of those, points that broke a metric constraint
    elapsed_s: float
    interrupted: bool = False
    retried: int = 0      # of those evaluated, points whose stored row had failed (resume)
    rederived: int = 0    # stored rows whose derived values were recomputed (an edited resume)
    worker_deaths: int = 0  # worker processes that died (replaced; their points went on)
    screened: int = 0     # funnel: of those evaluated, points run at the screen fidelity
    promoted: int = 0     # funnel: points then run again at the experiment's fidelity

    @property
    def points_per_s(self) -> float:
        return self.evaluated / self.elapsed_s if self.elapsed_s > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "points_per_s": self.points_per_s}
