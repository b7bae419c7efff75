"""Ops of LUT-based mixed-precision GEMM (LUT Tensor Core, ISCA'25): the table precompute.

``LutTables``: for each activation row and group of ``group`` activations along K, the table of
signed sums the LUT unit looks up (Sec 3.1.1: split out of the GEMM by a DFG transformation,
so each table is built once and shared by every weight column). 2^(group-1) entries with table
symmetrisation (Sec 3.1.2), else 2^group; each entry is a sum of ``group`` terms, built with
``group - 1`` adds (the counting ``accelsim.functional.lut_counts`` uses). ``fused`` names the
element-wise op the precompute is fused into (Sec 3.3.2: RMSNorm, activation, multiply), whose
own work and inputs it then carries; None: a standalone op reading the activations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..errors import AccelsimError
from .dtypes import dtype
from .ops import OP_KINDS, VECTOR_KINDS, Vector, _bounded, _check_dtypes, _positive


def table_entries(group: int, symmetric: bool) -> int:
    """Entries of one table: 2^(group-1) symmetrised, else 2^group."""
    return 2 ** (group - 1) if symmetric else 2 ** group


@OP_KINDS.register("lut_tables")
@dataclass(frozen=True)
class LutTables(Vector):
    """Table precompute for a LUT GEMM over activations ``rows x cols`` (cols = K)."""

    op: str = "lut_tables"
    group: int = 4
    symmetric: bool = True
    entry_bits: float = 16.0
    fused: str | None = None

    kind: ClassVar[str] = "lut_tables"

    def __post_init__(self) -> None:
        if self.op != "lut_tables":
            raise AccelsimError(f"op {self.name!r}: a lut_tables op has op 'lut_tables'")
        if self.fused is not None and self.fused not in VECTOR_KINDS:
            raise AccelsimError(f"op {self.name!r}: fused must be a vector op kind "
                                f"({', '.join(VECTOR_KINDS)}), got {self.fused!r}")
        _positive(self, "rows", "cols", "group")
        _bounded(self, out=self.rows * self.cols)
        if not (isinstance(self.entry_bits, (int, float)) and 1 <= self.entry_bits <= 64):
            raise AccelsimError(f"op {self.name!r}: entry_bits must be 1 to 64, got "
                                f"{self.entry_bits!r}")
        if self.group > 8:
            raise AccelsimError(f"op {self.name!r}: group {self.group} > 8 (tables of "
                                f"2^{self.group} entries)")
        _check_dtypes(self, "dtype")

    @property
    def k_groups(self) -> int:
        return math.ceil(self.cols / self.group)

    @property
    def entries(self) -> int:
        return table_entries(self.group, self.symmetric)

    def tables(self) -> int:
        """Tables built: one per row and K-group."""
        return self.rows * self.k_groups

    def table_adds(self) -> int:
        return self.tables() * self.entries * (self.group - 1)

    def flops(self) -> float:
        own = VECTOR_KINDS[self.fused][0] * self.elements() if self.fused else 0
        return float(self.table_adds() + own)

    def operand_bytes(self) -> dict[str, float]:
        n_in = VECTOR_KINDS[self.fused][1] if self.fused else 1
        size = self.elements() * dtype(self.dtype).bytes
        out = {f"in{i}": size for i in range(n_in)}
        out["out"] = self.tables() * self.entries * self.entry_bits / 8
        return out
