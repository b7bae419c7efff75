"""Functional references: numpy implementations of modelled dataflows, used to check that each
dataflow computes the right answer and that the action counts the cost model uses (closed forms)
equal the actions the algorithm really performs.

* ``lut``: the LUT Tensor Core mixed-precision GEMM (ISCA'25, arXiv 2408.06003): table precompute,
  symmetrised tables, int8 table quantisation, bit-serial lookup (``lut_mpgemm``, ``lut_counts``).
* ``dequant``: the conventional dequantise-then-MAC baseline (``dequant_mpgemm``,
  ``dequant_counts``) and the shared weight format (``dequantize``, ``ternary_codes``).
* ``mixpe``: the MixPE mixed-precision GEMM (arXiv 2411.16158): shift-and-add products, integer
  partial sums per quantisation group, one dequantisation per (output, group)
  (``mixpe_mpgemm``, ``mixpe_counts``).
"""
from __future__ import annotations

from accelsim.functional.dequant import (DequantCounts, DequantResult, dequant_counts,
                                         dequant_mpgemm, dequantize, ternary_codes)
from accelsim.functional.lut import LutCounts, LutResult, lut_counts, lut_mpgemm
from accelsim.functional.mixpe import MixpeCounts, MixpeResult, mixpe_counts, mixpe_mpgemm

__all__ = [
    "DequantCounts", "DequantResult", "LutCounts", "LutResult", "dequant_counts",
    "dequant_mpgemm", "dequantize", "lut_counts", "lut_mpgemm", "ternary_codes",
    "MixpeCounts", "MixpeResult", "mixpe_counts", "mixpe_mpgemm",
]
