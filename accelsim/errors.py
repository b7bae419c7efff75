"""User-facing errors. The CLI prints ``str(error)`` and exits non-zero, never a traceback."""
from __future__ import annotations


class AccelsimError(Exception):
    """Base class for every error a user can cause (bad input, unsupported request)."""


class ConfigError(AccelsimError):
    """A problem in an input file or override, located by file, key path and line.

    ``str()`` renders as ``file:line key.path: message`` (parts that are unknown are omitted),
    e.g. ``configs/x.yaml:12 units.sa.rows: must be a positive integer, got -4``.
    Several problems found in one pass are carried in ``problems`` and rendered one per line.
    """

    def __init__(self, message: str, *, file: str | None = None, key_path: str | None = None,
                 line: int | None = None, problems: list["ConfigError"] | None = None) -> None:
        self.message = message
        self.file = file
        self.key_path = key_path
        self.line = line
        self.problems = problems or []
        super().__init__(str(self))

    def location(self) -> str:
        where = self.file or ""
        if self.file and self.line is not None:
            where += f":{self.line}"
        if self.key_path:
            where = f"{where} {self.key_path}" if where else self.key_path
        return where

    def __str__(self) -> str:
        if self.problems:
            return "\n".join(str(p) for p in self.problems)
        where = self.location()
        return f"{where}: {self.message}" if where else self.message
