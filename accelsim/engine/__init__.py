"""The engine: map and cost ops (plan), place them in time (schedule), assemble results.

``accelsim.simulate`` (``accelsim.pipeline``) runs the stages; the engine itself never imports
the cost package.
"""
from .fidelities import FIDELITY_NAMES as FIDELITIES
from .result import SimResult

__all__ = ["FIDELITIES", "SimResult", "simulate"]


def __getattr__(name: str):
    if name == "simulate":  # kept for ``from accelsim.engine import simulate``
        from ..pipeline import simulate
        return simulate
    raise AttributeError(name)
