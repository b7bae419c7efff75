"""Architectures: unit implementations registered by ``type:``, and the system that holds them."""
from .base import Component, OpCost, TileSchedule, Unit, UnitConfig
from .registry import register_unit, unit_types
from .system import Arch, arch_from_dict, load_arch

__all__ = ["Arch", "Component", "OpCost", "TileSchedule", "Unit", "UnitConfig", "arch_from_dict",
           "load_arch", "register_unit", "unit_types"]
