"""``accelsim examples DEST``: copy the shipped configs and example inputs into a folder.

What is copied (the layout is kept, so relative paths inside the files still work)::

    DEST/configs/...            architecture YAMLs (and configs/scalesim/examples: scale.cfg + CSV)
    DEST/workloads/examples/    example traces and the SCALE-Sim GEMM list
    DEST/workloads/requests/    serving request traces
    DEST/experiments/*.yaml     sweep definitions (they name ../configs/...)

They come from this source tree (an editable install) or, for a wheel, from the copy it
installs under ``<prefix>/share/accelsim`` (``data_files`` in setup.py).
Existing files are never overwritten unless ``--force`` is given.
"""
from __future__ import annotations

import argparse
import shutil
import site
import sys
from pathlib import Path

from .errors import AccelsimError

#: (folder relative to the data root, glob of files to copy, recursive)
CONTENT = (("configs", "*", True), ("workloads/examples", "*", False),
           ("workloads/requests", "*", False), ("experiments", "*.yaml", False))
_SOURCE_ROOT = Path(__file__).resolve().parents[1]
#: where a wheel puts its copy (``share/accelsim/...``)
_INSTALLED_ROOTS = tuple(Path(p) / "share" / "accelsim"
                         for p in dict.fromkeys((sys.prefix, site.USER_BASE or sys.prefix)))


def data_root() -> Path:
    """The folder holding ``configs/`` and ``workloads/``: this source tree, else a wheel's copy."""
    for root in (_SOURCE_ROOT, *_INSTALLED_ROOTS):
        if (root / "configs").is_dir() and (root / "workloads" / "examples").is_dir():
            return root
    raise AccelsimError("the example files are not installed (looked in "
                        f"{', '.join(str(r) for r in (_SOURCE_ROOT, *_INSTALLED_ROOTS))})")


def example_files(root: Path | None = None) -> list[Path]:
    """The files ``accelsim examples`` copies, relative to the data root."""
    root = root or data_root()
    out: list[Path] = []
    for folder, pattern, recursive in CONTENT:
        base = root / folder
        found = base.rglob(pattern) if recursive else base.glob(pattern)
        out.extend(p.relative_to(root) for p in found
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    return sorted(out)


def copy_examples(dest: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the example files into ``dest`` (created); the destination paths written."""
    root = data_root()
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise AccelsimError(f"{dest}: is a file; accelsim examples needs a folder")
    files = example_files(root)
    clashes = [f for f in files if (dest / f).exists()]
    if clashes and not force:
        raise AccelsimError(f"{dest}: {len(clashes)} of the example files already exist there "
                            f"(e.g. {clashes[0]}); use --force to overwrite them, or choose "
                            f"another folder")
    written = []
    for f in files:
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / f, target)
        written.append(target)
    return written


def add_commands(sub: argparse._SubParsersAction) -> dict:
    p = sub.add_parser("examples", help="copy the shipped configs, example workloads and "
                                        "experiments into a folder (to start from)")
    p.add_argument("dest", metavar="DEST", help="folder to copy into (created)")
    p.add_argument("--force", action="store_true", help="overwrite files that already exist")
    return {"examples": cmd_examples}


def cmd_examples(args: argparse.Namespace, console) -> int:
    written = copy_examples(args.dest, force=args.force)
    console.print(f"copied {len(written)} files into {args.dest}; try:\n"
                  f"  cd {args.dest}\n"
                  f"  accelsim run configs/sa128_bf16_hbm.yaml "
                  f"workloads/examples/llama2_7b_decode_b16.yaml\n"
                  f"  accelsim run configs/scalesim/examples/scale.cfg "
                  f"configs/scalesim/examples/resnet_3layers.csv", markup=False, highlight=False)
    return 0
