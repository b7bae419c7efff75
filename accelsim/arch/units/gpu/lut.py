"""A LUT Tensor Core in every tensor-core slot of the GPU unit (``units.<gpu>.lut_tensor_core``).

LUT Tensor Core (ISCA'25) Table 1 and Sec 4.4 put its LUT array into a GPU: A100-LUT-4X / 8X
and H100-LUT-4X / 8X, an array X times the 512-element (M2N64K4) unit in each of the SM's four
tensor-core slots. Peak for W_BIT-bit weights = SMs x 4 x 512 X / W_BIT MACs per cycle
(Table 1's footnote formula), the ``lut_tensor_core`` unit's own ``peak`` with
``tiles = X`` and ``cores = SMs x 4``: the LUT unit owns the peak, the GPU unit the kernel.

What runs on it: a GEMM whose weights are low-bit (int1-int4, ternary as 2 bit planes) and
whose activations fit ``act_dtype`` (what the LUT unit's ``check`` accepts). Everything else
(activation x activation GEMMs in attention, bf16 heads) keeps the MAC tensor cores, which
the modelled GPU still has. The GEMM reads its precomputed tables (operand A: M x ceil(K/k)
tables of 2^(k-1) entries), built by a ``lut_tables`` op that the ``lut_precompute`` pass
inserts and that runs as an element-wise kernel, or fused into the RMSNorm / activation kernel
before it (``mapping.fusion.lut_precompute_fusion``, Sec 3.3.2).

Kernel: the GPU unit's tensor-core GEMM model (CTA tiles, waves, split-K or stream-K) at the
LUT array's MAC rate. Efficiencies: those of the calibration's bf16 GEMM (the tuned cuBLAS-class
kernel; the int8 values describe torch._int_mm's slow path), an assumption: no LUT GPU exists
to measure. Area: the datasheet die plus the LUT arrays' logic from our technology library at
the device's node (their SRAMs are the SM's shared memory and registers, already in the die).
"""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from ....config.bounds import SaneModel
from ...base import Component
from ..lut_tensor_core import LutTensorCoreConfig, LutTensorCoreUnit, TileShape, check_act_dtype

#: the calibration class whose GEMM efficiencies a LUT kernel takes (module docstring)
LUT_KERNEL_CLASS = "bf16"


class GpuLutConfig(SaneModel):
    """The LUT array in each tensor-core slot."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    units_per_tensor_core: int = Field(
        4, gt=0, le=1024, description="X: LUT units (tiles of tile.m x tile.n x tile.k "
        "elements, 512 for M2N64K4) per tensor-core slot (A100-LUT-4X: 4)")
    tensor_cores_per_sm: int = Field(4, gt=0, le=64, description="tensor-core slots per SM")
    tile: TileShape = TileShape()
    act_dtype: str = Field("int8", description="activation format of the LUT units (fp16, "
                           "bf16, fp8_e4m3, int8, int16)")
    symmetric: bool = True
    negation: Literal["eliminated", "circuit"] = "eliminated"
    table_dtype: Literal["auto", "int8"] = "auto"

    @field_validator("act_dtype")
    @classmethod
    def _act(cls, v: str) -> str:
        return check_act_dtype(v)


def build_lut(name: str, cfg: GpuLutConfig, sms: int) -> LutTensorCoreUnit:
    """The LUT unit standing for all of the GPU's LUT arrays (tiles = X, cores = SMs x slots)."""
    return LutTensorCoreUnit(f"{name}.lut", LutTensorCoreConfig(
        tile=cfg.tile, tiles=cfg.units_per_tensor_core, cores=sms * cfg.tensor_cores_per_sm,
        act_dtype=cfg.act_dtype, symmetric=cfg.symmetric, negation=cfg.negation,
        table_dtype=cfg.table_dtype))


def lut_logic(lut: LutTensorCoreUnit) -> list[Component]:
    """The LUT arrays' logic components, for the area (their SRAMs are the SM's)."""
    return [Component(f"lut_{c.name}", c.kind, c.count, c.params, {})
            for c in lut.components() if c.kind != "sram"]
