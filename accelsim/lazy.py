"""Module attributes loaded on first use (PEP 562), for packages whose names should not cost an
import until asked for (issue 16: short CLI commands pay only for what they use)."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_getattr(package: str, table: dict[str, str], namespace: dict[str, Any]
                 ) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` in ``table`` is imported from the
    (relative) module ``table[name]`` and kept in ``namespace`` (the package's globals), so the
    next lookup is a plain global; any other name is an AttributeError."""
    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name], package), name)
        namespace[name] = value
        return value
    return __getattr__
