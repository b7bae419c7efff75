"""The engine: map and cost ops (plan), place them in time (schedule), assemble results.

``accelsim.simulate`` (``accelsim.pipeline``) runs the stages; the engine itself never imports
the cost package. The names below load on first use (PEP 562), so importing a light engine
module (``accelsim.engine.fidelities`` for the CLI's ``--fidelity`` choices) does not pull in
the result table's dependencies.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fidelities import FIDELITY_NAMES as FIDELITIES  # noqa: F401
    from .result import SimResult  # noqa: F401

__all__ = ["FIDELITIES", "SimResult", "simulate"]


def __getattr__(name: str) -> Any:
    if name == "FIDELITIES":
        from .fidelities import FIDELITY_NAMES as value
    elif name == "SimResult":
        from .result import SimResult as value
    elif name == "simulate":  # kept for ``from accelsim.engine import simulate``
        from ..pipeline import simulate as value
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
        value = importlib.import_module(f"{__name__}.{name}")  # a submodule, as before
    else:
        raise AttributeError(f"module 'accelsim.engine' has no attribute {name!r}")
    globals()[name] = value
    return value
