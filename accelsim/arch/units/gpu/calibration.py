"""Calibrated GPU efficiencies: named data with fit provenance, never silent constants.

A calibration set (``data/calibration.yaml``, or a YAML file ``accelsim measured fit`` wrote)
holds ``values`` (below), ``fitted_on`` (the measurements and rows used), ``method`` and the
``held_out_error`` found on rows the fit did not use. A GPU config names a set
(``calibration: h200``) or a file, and may override single values (``efficiency:``).

All bandwidth fractions are of the device memory's bandwidth, which the GPU configs give at
its datasheet peak: each kernel class reaches its own share of it (the measurements show a
GEMV at 0.88, decode attention at 0.96, a softmax at 0.26 of the H200's 4.8 TB/s).

values:
  gemm_overhead_us        fixed time of one GEMM kernel in a CUDA graph (launch gap, prologue,
                          epilogue), microseconds, per dtype class
  mma_efficiency          sustained fraction of the tensor-core peak on large GEMMs, per dtype
  gemm_stream_fraction    per dtype: the bytes per second a GEMM kernel streams its operands at,
                          as a fraction of the memory's bandwidth (absent: 1)
  w4a16_overhead_us       fixed time of one weight-only int4 kernel, microseconds
  w4a16_stream_fraction   weight-only int4 kernel: weight bytes per second as a fraction of the
                          memory's bandwidth
  w4a16_mma_efficiency    the same kernel's MAC rate (dequantise + bf16 MMA) as a fraction of
                          the bf16 tensor-core peak
  grouped_overhead_us     fixed time of one grouped GEMM kernel (MoE experts), microseconds
  grouped_stream_fraction grouped GEMM: bytes per second as a fraction of the memory's bandwidth
  grouped_mma_efficiency  grouped GEMM: sustained fraction of the bf16 tensor-core peak
  vector                  per element-wise/normalisation kind: overhead_us and bw_fraction
                          (bytes per second as a fraction of the memory's bandwidth)
  attention_decode        split-KV decode kernel: overhead_us, bw_fraction
  attention_prefill       fused causal/non-causal kernel: overhead_us, cta_overhead_us (per
                          128-query tile), efficiency (fraction of the bf16 peak)
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, ValidationError

from ....config.bounds import SaneModel
from ....errors import AccelsimError

DATA = Path(__file__).with_name("data") / "calibration.yaml"
VECTOR_KINDS = ("add", "mul", "silu", "gelu", "relu", "copy", "softmax", "layernorm", "rmsnorm",
                "rope")


class _M(SaneModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VectorEff(_M):
    overhead_us: float = Field(gt=0, le=1e3)
    bw_fraction: float = Field(gt=0, le=1.5)


class DecodeEff(_M):
    overhead_us: float = Field(gt=0, le=1e3)
    bw_fraction: float = Field(gt=0, le=1.5)


class PrefillEff(_M):
    overhead_us: float = Field(gt=0, le=1e3)
    cta_overhead_us: float = Field(ge=0, le=1e3)
    efficiency: float = Field(gt=0, le=1)


class Efficiency(_M):
    """The efficiency values of one calibration set (see the module docstring)."""

    gemm_overhead_us: dict[str, float]
    mma_efficiency: dict[str, float]
    gemm_stream_fraction: dict[str, float] = Field(default_factory=dict)
    w4a16_overhead_us: float = Field(gt=0, le=1e3)
    w4a16_stream_fraction: float = Field(gt=0, le=1.5)
    w4a16_mma_efficiency: float = Field(gt=0, le=1)
    grouped_overhead_us: float = Field(gt=0, le=1e3)
    grouped_stream_fraction: float = Field(gt=0, le=1.5)
    grouped_mma_efficiency: float = Field(gt=0, le=1)
    vector: dict[str, VectorEff]
    attention_decode: DecodeEff
    attention_prefill: PrefillEff


@lru_cache(maxsize=32)
def _load(path: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise AccelsimError(f"GPU calibration file not found: {path}") from None
    except yaml.YAMLError as e:
        raise AccelsimError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise AccelsimError(f"{path}: a calibration file is a mapping of named sets")
    return data


def calibration_set(ref: str) -> dict[str, Any]:
    """The set ``ref``: a name in the package's data, or a YAML file of one set."""
    if ref.endswith((".yaml", ".yml")):
        data = _load(str(Path(ref).resolve()))
        return data if "values" in data else next(iter(data.values()))  # one set, or the first
    sets = _load(str(DATA))
    if ref not in sets:
        from ....config import suggest
        raise AccelsimError(f"unknown GPU calibration {ref!r}{suggest(ref, sets)}; known: "
                            f"{', '.join(sets)} (or a .yaml file written by accelsim measured fit)")
    return sets[ref]


def efficiency(ref: str, overrides: dict[str, Any] | None = None) -> Efficiency:
    """The validated efficiencies of set ``ref`` with ``overrides`` merged in (key by key)."""
    values = dict(calibration_set(ref)["values"])
    for k, v in (overrides or {}).items():
        values[k] = {**values[k], **v} if isinstance(v, dict) and isinstance(values.get(k), dict) \
            else v
    try:
        return Efficiency.model_validate(values)
    except ValidationError as e:
        shown = "; ".join(
            f"efficiency.{'.'.join(map(str, err['loc']))}: "
            f"{str(err['msg']).removeprefix('Value error, ')}, got {err.get('input')!r:.60}"
            for err in e.errors(include_url=False)[:5])
        raise AccelsimError(f"GPU calibration {ref!r}: {shown}") from None
    except Exception as e:
        raise AccelsimError(f"GPU calibration {ref!r}: {e}") from None
