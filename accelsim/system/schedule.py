"""Pipeline schedule over (stage, microbatch): inference is forward only, so a stage starts
microbatch j when it has finished microbatch j - 1 and the previous stage's activations of
microbatch j have arrived (GPipe's forward pass):

    finish[s][j] = max(finish[s][j-1], finish[s-1][j] + transfer) + t[s]

The makespan is finish[pp-1][M-1]; with equal stage times t it is (M + pp - 1) t +
(pp - 1) transfer, and with M = 1 it is the sum of the stage times plus the transfers.
"""
from __future__ import annotations

from collections.abc import Sequence


def makespan(stage_s: Sequence[float], microbatches: int, transfer_s: float = 0.0) -> float:
    """Seconds until the last stage finishes the last microbatch (module docstring)."""
    if microbatches < 1 or not stage_s:
        raise ValueError("need at least one stage and one microbatch")
    prev = [0.0] * microbatches           # finish times of the previous stage
    for s, t in enumerate(stage_s):
        cur, done = [], 0.0
        for j in range(microbatches):
            ready = prev[j] + transfer_s if s else 0.0
            done = max(done, ready) + t
            cur.append(done)
        prev = cur
    return prev[-1]


def bubble_fraction(stage_s: Sequence[float], microbatches: int,
                    transfer_s: float = 0.0) -> float:
    """Share of the stages' time idle: 1 - sum of busy time / (stages x makespan)."""
    span = makespan(stage_s, microbatches, transfer_s)
    busy = microbatches * sum(stage_s)
    return 1.0 - busy / (len(stage_s) * span) if span else 0.0
