"""Registry of unit implementations keyed by the YAML ``type:`` value.

Every module in ``accelsim/arch/units/`` is imported on first use, so a new unit kind is one
module there with a ``@register_unit("name")`` class — nothing else changes.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, TypeVar

from .base import Unit

_UNITS: dict[str, type[Unit]] = {}
_loaded = False
U = TypeVar("U", bound=type[Unit])


def register_unit(type_name: str) -> Callable[[U], U]:
    """Class decorator: make ``type: <type_name>`` in YAML build this unit class."""

    def deco(cls: U) -> U:
        if type_name in _UNITS and _UNITS[type_name] is not cls:
            raise ValueError(f"unit type {type_name!r} registered twice")
        _UNITS[type_name] = cls
        return cls

    return deco


def _load_builtin_units() -> None:
    global _loaded
    if _loaded:
        return
    from . import units as pkg
    for mod in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)):
        importlib.import_module(f"{pkg.__name__}.{mod}")
    _loaded = True


def unit_types() -> dict[str, type[Unit]]:
    """All registered unit types, by name."""
    _load_builtin_units()
    return dict(_UNITS)
