"""Helpers for the design-space-exploration tests: tiny traces and experiment files."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "configs" / "sa128_bf16_hbm.yaml"
LLAMA = ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml"

TINY_TRACE = """\
name: tiny
meta: {phase: decode, batch: "4"}
ops:
  - {name: up, kind: gemm, m: 4, n: 1024, k: 512, dtype: bf16}
  - {name: act, kind: vector, op: silu, rows: 4, cols: 1024}
  - {name: down, kind: gemm, m: 4, n: 512, k: 1024, dtype: bf16}
"""

HEAD = f"""\
name: test-sweep
archs:
  sa: {{path: {ARCH}, family: systolic}}
workloads:
  w: {{trace: tiny.yaml}}
"""


def write_exp(tmp: Path, body: str, head: str = HEAD, name: str = "exp.yaml") -> Path:
    """Write ``head + body`` as an experiment next to a tiny trace; return its path."""
    (tmp / "tiny.yaml").write_text(TINY_TRACE)
    path = tmp / name
    path.write_text(head + body)
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of ``path`` containing ``needle``."""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out
