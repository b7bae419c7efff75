"""Shared helpers for the test suite."""
from __future__ import annotations

from pathlib import Path

import pytest

import accelsim

ROOT = Path(__file__).resolve().parents[1]


def sa_arch(rows=32, cols=32, dataflow="os", *, overlap=False, bw="unlimited", pe="int8",
            sram_kb=1024, double_buffered=True, vector=False, n_arrays=1,
            stationary_double_buffer=True, stream_tiling=True):
    """A one-array system built in code (SCALE-Sim defaults unless told otherwise)."""
    units = {}
    for i in range(n_arrays):
        units[f"sa{i}" if n_arrays > 1 else "sa"] = {
            "type": "systolic_array", "rows": rows, "cols": cols, "dataflow": dataflow,
            "pe_dtype": pe, "fold_overlap": overlap,
            "stationary_double_buffer": stationary_double_buffer, "stream_tiling": stream_tiling,
            "sram": {"ifmap_kb": sram_kb, "filter_kb": sram_kb, "ofmap_kb": sram_kb,
                     "double_buffered": double_buffered}}
    if vector:
        units["vec"] = {"type": "vector", "lanes": 64}
    return accelsim.arch_from_dict({
        "name": f"sa{rows}x{cols}_{dataflow}", "clock_ghz": 1.0, "tech_node_nm": 28,
        "units": units, "memory": {"dram": {"bandwidth_bytes_per_cycle": bw}}})


def gemm_trace(m, n, k, dtype="int8", **kw):
    return accelsim.Trace.from_ops("g", [accelsim.Gemm("g", m=m, n=n, k=k, dtype=dtype, **kw)])


@pytest.fixture
def root() -> Path:
    return ROOT
