"""GPU tensor-core baseline (``type: gpu``): kernels modelled per op (docs/gpu.md).

``unit``: the config and the unit; ``kernels``: the kernel models (GEMM with CTA tiles, waves
and split-K; weight-only int4; element-wise; fused attention); ``calibration``: the named
efficiencies, each set with what it was fitted on (``data/calibration.yaml``).
"""
from .unit import GpuConfig, GpuUnit

__all__ = ["GpuConfig", "GpuUnit"]
