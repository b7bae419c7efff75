"""Is a config file a multi-device system? (A small module: ``accelsim run`` / ``gemm`` ask it
of every arch path, so it must not load the system's schema; issue 16.)"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AccelsimError


def is_system_doc(data: Any) -> bool:
    """A document whose top level has ``devices`` (rather than ``units``) is a system."""
    return isinstance(data, dict) and "devices" in data and "units" not in data


def is_system_file(path: str | Path) -> bool:
    from ..config import load_yaml
    try:
        data = load_yaml(path).data
    except AccelsimError:
        return False
    return is_system_doc(data)
