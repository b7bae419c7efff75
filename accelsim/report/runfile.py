"""A single run's JSON (``accelsim run ARCH WORKLOAD --json FILE``) read back for plotting.

``load_run(path)`` gives a ``RunRecord``: the parts of a ``SimResult`` the figures use (the
per-op table, the clock, the summary, whether energy is known), so ``accelsim plot FILE
breakdown|roofline|timeline`` works without simulating again. A roofline also needs the
architecture's roofs: ``accelsim run`` stores its resolved config under ``arch_config`` (older
files need ``--arch``); ``record_arch`` rebuilds it and checks it against the run's config hash.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AccelsimError

#: keys of a run's JSON that are not part of its summary
_EXTRA_KEYS = ("actions", "cost", "meta", "units", "capacity", "infeasible", "per_op",
               "arch_config")
#: per-op columns the figures read
NEEDED_COLUMNS = ("segment", "op", "kind", "unit", "start", "end", "cycles", "compute_cycles",
                  "utilization", "flops", "dram_read_bytes", "dram_write_bytes", "bound")
_TEXT_COLUMNS = ("segment", "op", "kind", "unit", "bound", "kernel")


@dataclass
class RunRecord:
    """One simulation as its JSON has it (duck-typed like ``SimResult`` for the figures)."""

    data: dict[str, Any]
    path: str = "<json>"
    _summary: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._summary = {k: v for k, v in self.data.items() if k not in _EXTRA_KEYS}

    @property
    def arch(self) -> str:
        return str(self.data.get("arch", "?"))

    @property
    def workload(self) -> str:
        return str(self.data.get("workload", "?"))

    @property
    def fidelity(self) -> str:
        return str(self.data.get("fidelity", "?"))

    @property
    def clock_hz(self) -> float:
        return float(self.data["clock_hz"])

    @property
    def cycles(self) -> float:
        return float(self.data.get("cycles") or 0.0)

    @property
    def latency_s(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def config_hash(self) -> str:
        return str(self.data.get("config_hash", ""))

    @property
    def cost(self) -> Any:
        """None without an energy model; else an object with ``energy_j`` (NaN when unknown:
        the JSON writes an infinite or unknown energy as null)."""
        if "energy_j" not in self.data:
            return None
        e = self.data["energy_j"]
        return SimpleNamespace(energy_j=float(e) if e is not None else math.nan)

    def summary(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._summary))

    @cached_property
    def per_op(self) -> pd.DataFrame:
        df = pd.DataFrame(self.data["per_op"])
        for c in df.columns:
            if c not in _TEXT_COLUMNS:
                df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        return df


def load_run(path: str | Path) -> RunRecord:
    """The run's JSON at ``path``; AccelsimError when it is not one (with per-op rows)."""
    from ..config.files import read_text
    file = str(path)
    text = read_text(file, what="a run's JSON (accelsim run ... --json FILE)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise AccelsimError(f"{file}:{e.lineno}: not valid JSON ({e.msg}); expected a run's "
                            f"JSON (accelsim run ... --json FILE) or a result store folder")
    if not isinstance(data, dict) or "clock_hz" not in data or "cycles" not in data:
        raise AccelsimError(f"{file}: not a run's JSON (accelsim run ARCH WORKLOAD --json FILE "
                            f"writes one); a result store is a folder")
    rows = data.get("per_op")
    if not isinstance(rows, list) or not rows:
        raise AccelsimError(f"{file}: the run has no per-op rows, which the figures need")
    if not all(isinstance(r, dict) for r in rows):
        raise AccelsimError(f"{file}: per_op must be a list of objects")
    missing = [c for c in NEEDED_COLUMNS if c not in rows[0]]
    if missing:
        raise AccelsimError(f"{file}: per-op rows lack {', '.join(missing)} (written by an older "
                            f"accelsim? run it again)")
    clock = data["clock_hz"]
    if not (isinstance(clock, (int, float)) and not isinstance(clock, bool)
            and math.isfinite(clock) and clock > 0):
        raise AccelsimError(f"{file}: clock_hz must be a positive number, got {clock!r}")
    rec = RunRecord(data, file)
    df = rec.per_op
    bad = [c for c in ("start", "cycles", "flops") if not np.isfinite(df[c]).all()]
    if bad:
        raise AccelsimError(f"{file}: per-op {bad[0]} has missing or non-numeric values")
    return rec


def record_arch(rec: RunRecord, arch_path: str | None = None,
                overrides: list[str] | None = None) -> Any:
    """The architecture of a run: ``arch_path`` (with ``overrides``) if given, else the
    ``arch_config`` the run stored. Its config hash must be the run's."""
    from ..arch import arch_from_dict, load_arch
    if arch_path:
        arch = load_arch(arch_path, overrides or [])
        where = arch_path
    elif isinstance(rec.data.get("arch_config"), dict):
        arch = arch_from_dict(rec.data["arch_config"], name=f"{rec.path}:arch_config")
        where = f"{rec.path}'s arch_config"
    else:
        raise AccelsimError(f"{rec.path}: the run does not store its architecture (written by "
                            f"an older accelsim); name it with --arch ARCH.yaml")
    if rec.config_hash and arch.config_hash() != rec.config_hash:
        raise AccelsimError(f"{where} has config hash {arch.config_hash()}, the run "
                            f"{rec.config_hash}: not the architecture that ran (check -o "
                            f"overrides)")
    return arch
