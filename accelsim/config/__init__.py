"""Configuration loading: YAML with line tracking, ``extends``, ``-o`` overrides, pydantic checks.

Every problem a user can cause surfaces as one :class:`~accelsim.errors.ConfigError` naming file,
line and dotted key path.
"""
from .loader import load_config, load_document, parse_override, validate
from .yamlio import SourceDoc, as_value_error, copy_data, load_yaml, suggest

__all__ = ["SourceDoc", "as_value_error", "copy_data", "load_yaml", "load_document",
           "parse_override", "validate", "load_config", "suggest"]
