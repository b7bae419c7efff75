"""Only the wheel's data files are computed here; everything else is in pyproject.toml.

A wheel installs, under ``<prefix>/share/accelsim``: the model zoo (``models/``, read by
``accelsim.workload.models.models_dir``) and the configs, example workloads, request traces and
experiment files that ``accelsim examples DEST`` copies out (``accelsim.examples``), with their
folder layout kept, so ``extends:`` and ``../configs/...`` paths still work. The folders are
walked at build time, so a new config folder ships without editing this file.
"""
from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
#: (source folder, glob, recursive, destination under share/accelsim)
TREES = (("workloads/models", "*.json", False, "models"),
         ("workloads/models", "*.yaml", False, "models"),
         ("workloads/models", "README.md", False, "models"),
         ("configs", "*", True, "configs"),
         ("workloads/examples", "*", False, "workloads/examples"),
         ("workloads/requests", "*", False, "workloads/requests"),
         ("experiments", "*.yaml", False, "experiments"))


def data_files() -> list[tuple[str, list[str]]]:
    """setuptools ``data_files``: (install folder, [source files]) per folder."""
    by_dest: dict[str, list[str]] = {}
    for src, pattern, recursive, dest in TREES:
        base = ROOT / src
        found = base.rglob(pattern) if recursive else base.glob(pattern)
        for f in sorted(found):
            if not f.is_file() or "__pycache__" in f.parts or f.suffix == ".pyc":
                continue
            sub = f.parent.relative_to(base).as_posix()
            folder = f"share/accelsim/{dest}" + ("" if sub == "." else f"/{sub}")
            by_dest.setdefault(folder, []).append(f.relative_to(ROOT).as_posix())
    return sorted(by_dest.items())


if __name__ == "__main__":
    os.chdir(ROOT)
    setup(data_files=data_files())
