"""Bank-level DRAM (``type: dram``): standards as data (``standards/*.yaml``, each value cited),
closed forms of a channel's sustained bandwidth per access pattern and idle latency
(``closed_form``), the memory (``memory``) and the ``accelsim dram`` micro-benchmark (``cli``).
"""
from .closed_form import LATENCY_CASES, PATTERNS, Sustained, idle_latency, sustained
from .memory import DramConfig, DramMemory
from .standard import Standard, load_standard, standard_names

__all__ = ["DramConfig", "DramMemory", "LATENCY_CASES", "PATTERNS", "Standard", "Sustained",
           "idle_latency", "load_standard", "standard_names", "sustained"]
