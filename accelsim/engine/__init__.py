"""The engine: map and cost ops (plan), place them in time (schedule), assemble results."""
from .result import SimResult
from .schedule import FIDELITIES
from .simulate import simulate

__all__ = ["FIDELITIES", "SimResult", "simulate"]
