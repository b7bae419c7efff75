"""Registry of unit implementations keyed by the YAML ``type:`` value.

A lookup imports the unit's own module first (``type: x`` -> ``units/x.py``), a listing every
module in ``accelsim/arch/units/``, so a new unit kind is one module there with a
``@register_unit("name")`` class — nothing else changes.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from ..registry import Registry
from .base import Unit

UNITS: Registry[type[Unit]] = Registry("unit", package="accelsim.arch.units",
                                       doc="compute units (units.<name>.type)", by_name=True,
                                       # types whose module has another name (lookup speed only)
                                       modules={"systolic_array": "systolic"})
U = TypeVar("U", bound=type[Unit])


def register_unit(type_name: str) -> Callable[[U], U]:
    """Class decorator: make ``type: <type_name>`` in YAML build this unit class."""
    return UNITS.register(type_name)


def unit_types() -> dict[str, type[Unit]]:
    """All registered unit types, by name."""
    return UNITS.items()
