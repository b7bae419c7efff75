"""Paper reproductions: ``accelsim reproduce PAPER`` prints one row per claim.

Each row gives the claim, the paper's value, ours, the error and a verdict (``within`` the
claim's tolerance, ``miss``, or ``pending`` when a model it needs does not exist yet), with the
cause of a miss when known. A paper is one module here registered with ``@PAPERS.register``; its
claims (values, tolerances, confidence tags, sources) live in ``experiments/papers/<paper>.yaml``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from ..errors import AccelsimError
from ..registry import Registry

PAPERS: Registry[Callable[[dict], list["Row"]]] = Registry(
    "paper", package="accelsim.reproduce", doc="paper reproductions (accelsim reproduce PAPER)")
CLAIMS_DIR = Path(__file__).resolve().parents[2] / "experiments" / "papers"


@dataclass(frozen=True)
class Row:
    """One claim checked: paper value, ours, relative error, verdict and why."""

    id: str
    claim: str
    paper: float | None
    ours: float | None
    unit: str
    tolerance: float
    confidence: str
    verdict: str          # within | miss | pending
    cause: str = ""

    @property
    def error(self) -> float | None:
        if self.paper in (None, 0) or self.ours is None or not math.isfinite(self.ours):
            return None
        return self.ours / self.paper - 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"error": self.error}


def row(spec: dict, ours: float | None, cause: str = "", pending: str = "") -> Row:
    """A Row for claim ``spec`` (from the YAML) with our value; verdict from the tolerance."""
    paper, tol = spec.get("value"), float(spec.get("tolerance", 0.15))
    if pending:
        return Row(spec["id"], spec["claim"], paper, None, spec.get("unit", ""), tol,
                   spec.get("confidence", ""), "pending", pending)
    err = None if paper in (None, 0) or ours is None else ours / paper - 1
    ok = err is not None and abs(err) <= tol
    return Row(spec["id"], spec["claim"], paper, ours, spec.get("unit", ""), tol,
               spec.get("confidence", ""), "within" if ok else "miss",
               "" if ok else (cause or spec.get("cause", "")))


def load_claims(paper: str) -> dict:
    path = CLAIMS_DIR / f"{paper}.yaml"
    if not path.is_file():
        raise AccelsimError(f"no claims file for paper {paper!r} ({path})")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise AccelsimError(f"{path}: needs a 'claims' list")
    return data


def reproduce(paper: str) -> list[Row]:
    """Run every claim of ``paper``."""
    if paper not in PAPERS:
        raise AccelsimError(PAPERS.unknown(paper))
    return PAPERS[paper](load_claims(paper))
