"""Devices and their units: unit implementations registered by ``type:``, and the device."""
from .base import (ACCEPT, MAIN, Component, OpCost, Peak, TileSchedule, Traffic, Unit,
                   UnitConfig, UnitContext, Verdict, reject)
from .device import Arch, Device, arch_from_dict, load_arch, load_device
from .registry import UNITS, register_unit, unit_types

__all__ = ["ACCEPT", "MAIN", "Arch", "Component", "Device", "OpCost", "Peak", "TileSchedule",
           "Traffic", "UNITS", "Unit", "UnitConfig", "UnitContext", "Verdict", "arch_from_dict",
           "load_arch", "load_device", "register_unit", "reject", "unit_types"]
