"""Workloads: the op IR, traces (DAGs of ops in repeated segments) and their file formats.

The op kinds and ``Trace`` load with the package (every op kind registers itself here); the
file formats (``traceio``) and the model zoo (``zoo``) load on first use (PEP 562), so costing
one GEMM does not import the LLM builders (issue 16).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_getattr
from .dtypes import DType, dtype, known_dtypes
from .ops import OP_KINDS, Attention, FlashAttention, Gemm, GroupedGemm, Op, Vector
from .lut_ops import LutTables
from .collective_ops import Collective
from .trace import Segment, Trace

if TYPE_CHECKING:
    from .traceio import load_gemm_csv, load_trace, save_trace  # noqa: F401
    from .zoo import build_trace, list_models  # noqa: F401

_LAZY = {"load_gemm_csv": ".traceio", "load_trace": ".traceio", "save_trace": ".traceio",
         "build_trace": ".zoo", "list_models": ".zoo"}

__all__ = ["OP_KINDS", "Attention", "Collective", "DType", "FlashAttention", "Gemm", "GroupedGemm", "LutTables", "Op", "Segment", "Trace", "Vector", "dtype",
           "known_dtypes", "load_gemm_csv", "load_trace", "save_trace", "build_trace",
           "list_models"]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
