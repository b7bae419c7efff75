"""The technology library: cited constants, one row per (component, action, params, node).

``data/constants.csv`` holds physical constants exactly as their sources give them, each with
its node, unit, how it scales between nodes (energy, area, leakage or none), the source and a
confidence tag (primary, measured, secondary, textbook, derivation, approximation, projection).
Fitted/calibrated constants live apart, in ``data/calibration.csv``. Nothing here is scaled or
combined: component models (``components.py``, ``memory.py``) do that with ``scaling.py``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from ..errors import AccelsimError
from . import scaling
from .scaling import DATA


@dataclass(frozen=True)
class Entry:
    """One cited constant of the library."""

    component: str
    action: str
    params: tuple[tuple[str, str], ...]
    node_nm: float | None
    value: float
    unit: str
    scales: str
    source: str
    confidence: str
    note: str

    def param(self, key: str) -> str:
        return dict(self.params)[key]

    def at(self, node_nm: float) -> float:
        """The value scaled to ``node_nm`` by this entry's scaling kind."""
        return scaling.scale(self.value, self.scales, self.node_nm, node_nm)


def _params(text: str) -> tuple[tuple[str, str], ...]:
    if not text.strip():
        return ()
    return tuple(tuple(p.split("=", 1)) for p in text.split(";"))  # type: ignore[misc]


@lru_cache(maxsize=1)
def entries() -> tuple[Entry, ...]:
    """All physical constants, in file order (memoised)."""
    out = []
    with open(DATA / "constants.csv", newline="") as f:
        for r in csv.DictReader(f):
            out.append(Entry(r["component"], r["action"], _params(r["params"]),
                             float(r["node_nm"]) if r["node_nm"] else None, float(r["value"]),
                             r["unit"], r["scales"], r["source"], r["confidence"], r["note"]))
    return tuple(out)


@lru_cache(maxsize=1)
def _by_key() -> dict[tuple[str, str], tuple[tuple[Entry, dict[str, str]], ...]]:
    """Entries (with their params as a dict) by (component, action), in file order."""
    out: dict[tuple[str, str], list[tuple[Entry, dict[str, str]]]] = {}
    for e in entries():
        out.setdefault((e.component, e.action), []).append((e, dict(e.params)))
    return {k: tuple(v) for k, v in out.items()}


def find(component: str, action: str, **params: object) -> list[Entry]:
    """Entries of ``component``/``action`` whose params include ``params`` (as strings), in
    file order (looked up by component and action: pricing a device is on the first
    simulation's path, issue 16)."""
    want = {k: str(v) for k, v in params.items()}
    return [e for e, have in _by_key().get((component, action), ())
            if all(have.get(k) == v for k, v in want.items())]


def get(component: str, action: str, **params: object) -> Entry:
    """Exactly one entry, or an AccelsimError naming what exists."""
    return _get(component, action, tuple(sorted((k, str(v)) for k, v in params.items())))


@lru_cache(maxsize=4096)
def _get(component: str, action: str, params: tuple[tuple[str, str], ...]) -> Entry:
    """``get`` by (component, action, sorted params as strings): the library is read once per
    process (``entries``), so each lookup's answer is fixed; memoised because component models
    look the same rows up for every device priced (issue 16). Errors are not memoised."""
    hits = find(component, action, **dict(params))
    if len(hits) == 1:
        return hits[0]
    have = sorted({e.action for e in entries() if e.component == component})
    what = ", ".join(f"{k}={v}" for k, v in params)
    raise AccelsimError(f"technology library has {len(hits)} entries for component "
                        f"{component!r}, action {action!r} ({what}); it has actions: "
                        f"{', '.join(have) or 'none'}")


@lru_cache(maxsize=1)
def dram_kinds() -> tuple[str, ...]:
    """DRAM kinds with an energy per bit in the library (valid ``memory.dram.kind`` values)."""
    return tuple(sorted(e.param("kind") for e in entries()
                        if e.component == "dram" and e.action == "access_bit"))


def check_dram_kind(kind: str) -> str:
    """``kind`` lower-cased if the library knows it; else an error listing the known kinds."""
    k = str(kind).strip().lower()
    if k not in dram_kinds():
        from ..config import suggest
        raise AccelsimError(f"unknown DRAM kind {kind!r}{suggest(k, dram_kinds())}; the "
                            f"technology library has: {', '.join(dram_kinds())}")
    return k


@dataclass(frozen=True)
class Calibration:
    """A fitted constant: value, what it was fitted to and with what error."""

    name: str
    value: float
    unit: str
    fitted_to: str
    error: str
    how: str


@lru_cache(maxsize=1)
def calibrations() -> dict[str, Calibration]:
    """Fitted constants from ``data/calibration.csv``, by name."""
    with open(DATA / "calibration.csv", newline="") as f:
        return {r["name"]: Calibration(r["name"], float(r["value"]), r["unit"], r["fitted_to"],
                                       r["error"], r["how"]) for r in csv.DictReader(f)}


def calibration(name: str) -> float:
    """The value of calibrated constant ``name``."""
    return calibrations()[name].value
