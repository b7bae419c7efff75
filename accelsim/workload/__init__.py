"""Workloads: the op IR, traces (DAGs of ops in repeated segments) and their file formats."""
from .dtypes import DType, dtype, known_dtypes
from .ops import OP_KINDS, Attention, FlashAttention, Gemm, GroupedGemm, Op, Vector
from .lut_ops import LutTables
from .collective_ops import Collective
from .trace import Segment, Trace
from .traceio import load_gemm_csv, load_trace, save_trace
from .zoo import build_trace, list_models

__all__ = ["OP_KINDS", "Attention", "Collective", "DType", "FlashAttention", "Gemm", "GroupedGemm", "LutTables", "Op", "Segment", "Trace", "Vector", "dtype",
           "known_dtypes", "load_gemm_csv", "load_trace", "save_trace", "build_trace",
           "list_models"]
