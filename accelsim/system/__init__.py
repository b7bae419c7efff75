"""Multi-device systems: devices, a network topology and tensor / pipeline / expert
parallelism (``config``), collectives' closed forms per topology (``topology``), sharding a
trace for one rank (``sharding``), the pipeline schedule (``schedule``) and ``simulate_system``
(``simulate``).

The names below load on first use (PEP 562): ``accelsim gemm`` / ``run`` ask
``is_system_file`` of every arch path and should not pay for the system simulator (issue 16).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_getattr

if TYPE_CHECKING:
    from .config import System, SystemConfig, load_system  # noqa: F401
    from .detect import is_system_file  # noqa: F401
    from .simulate import SystemResult, simulate_system  # noqa: F401

_LAZY = {"System": ".config", "SystemConfig": ".config", "is_system_file": ".detect",
         "load_system": ".config", "SystemResult": ".simulate", "simulate_system": ".simulate"}

__all__ = ["System", "SystemConfig", "SystemResult", "is_system_file", "load_system",
           "simulate_system"]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
