"""Registry of unit implementations keyed by the YAML ``type:`` value.

Every module in ``accelsim/arch/units/`` is imported on first use, so a new unit kind is one
module there with a ``@register_unit("name")`` class — nothing else changes.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from ..registry import Registry
from .base import Unit

UNITS: Registry[type[Unit]] = Registry("unit", package="accelsim.arch.units",
                                       doc="compute units (units.<name>.type)")
U = TypeVar("U", bound=type[Unit])


def register_unit(type_name: str) -> Callable[[U], U]:
    """Class decorator: make ``type: <type_name>`` in YAML build this unit class."""
    return UNITS.register(type_name)


def unit_types() -> dict[str, type[Unit]]:
    """All registered unit types, by name."""
    return UNITS.items()
