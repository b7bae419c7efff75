"""``analytical``: closed form per op with private memory ports; no contention."""
from __future__ import annotations

from . import FIDELITIES, Fidelity


@FIDELITIES.register("analytical")
class Analytical(Fidelity):
    """Closed form per op, private memory ports, no contention."""

    def body(self, env, cand, ports, memories):
        yield env.timeout(cand.closed_form)
