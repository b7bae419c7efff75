"""Declared parameter effects: what changing a config field can change.

A field of a unit, memory or device config model may declare
``json_schema_extra={"affects": "schedule"}`` (only the time to move bytes: bandwidths,
a memory's sustained fraction) or ``"price"`` (only energy and area); fields that declare
nothing affect the plan (lowering, mapping, unit costs), the safe default. Sweeps use the
declarations to evaluate points that differ only in ``schedule`` fields from one shared plan
(``accelsim.dse.batch``).
"""
from __future__ import annotations

from typing import Any

EFFECTS = ("schedule", "price", "plan")


def field_effect(model: Any, name: str) -> str:
    """The declared effect of field ``name`` of pydantic model (instance or class) ``model``."""
    fields = getattr(type(model) if not isinstance(model, type) else model, "model_fields", {})
    f = fields.get(name)
    extra = getattr(f, "json_schema_extra", None) if f is not None else None
    effect = extra.get("affects") if isinstance(extra, dict) else None
    return effect if effect in EFFECTS else "plan"


def param_effect(arch: Any, path: str) -> str:
    """The effect of the config value at dotted ``path`` of a built device: a direct field of a
    memory (``memory.<name>.<field>``) or unit (``units.<name>.<field>``) config, else plan."""
    parts = path.split(".")
    if len(parts) != 3:
        return "plan"
    section, name, fld = parts
    configs = {"memory": getattr(arch, "memory_configs", {}),
               "units": getattr(arch, "unit_configs", {})}.get(section, {})
    cfg = configs.get(name)
    return field_effect(cfg, fld) if cfg is not None else "plan"


def schedule_params(base: Any, arch: Any) -> frozenset:
    """The parameters of experiment base ``base`` (built as ``arch``) that affect only the
    schedule."""
    return frozenset(p for p in base.params if param_effect(arch, p) == "schedule")
