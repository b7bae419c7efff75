"""Multi-device systems: devices, a network topology and tensor / pipeline / expert
parallelism (``config``), collectives' closed forms per topology (``topology``), sharding a
trace for one rank (``sharding``), the pipeline schedule (``schedule``) and ``simulate_system``
(``simulate``)."""
from .config import System, SystemConfig, is_system_file, load_system
from .simulate import SystemResult, simulate_system

__all__ = ["System", "SystemConfig", "SystemResult", "is_system_file", "load_system",
           "simulate_system"]
