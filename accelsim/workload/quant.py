"""Quantisation of an LLM trace: weight bits, activation dtype, KV-cache bits, group size.

Weight and KV-cache bits map to dtypes of the op IR: 1 -> int1, 1.58 -> ternary (log2 3 bits),
2 -> int2, 3 -> int3, 4 -> int4, 8 -> int8, 16 -> the 16-bit float of the residual stream,
32 -> fp32; a dtype name (``fp8_e4m3``, ``int4``, ...) is taken as is.

The residual stream (vector ops, GEMM outputs, attention Q/softmax) stays in a float: the
activation dtype itself when it is fp16/bf16/fp32, else bf16. Integer or FP8 activations are
quantised at each GEMM input and the GEMM's output is dequantised back to the stream dtype, as
in W8A8 SmoothQuant and BitNet b1.58's absmax int8 activations.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import AccelsimError
from .dtypes import dtype

BITS_TO_DTYPE: dict[float, str] = {1: "int1", 1.58: "ternary", 2: "int2", 3: "int3", 4: "int4",
                                   8: "int8", 32: "fp32"}
_STREAM_FLOATS = ("fp16", "bf16", "fp32")


@dataclass(frozen=True)
class Quant:
    """Resolved dtypes of one trace (names known to ``accelsim.workload.dtypes``)."""

    weight: str          # B operand of weight GEMMs
    act: str             # A operand of weight GEMMs
    stream: str          # residual stream, vector ops, GEMM outputs, attention Q / P
    kv: str              # K and V cache
    group_size: int | None = None  # weight quantisation group along K (integer weights only)
    head: str = ""       # LM head / router weights (default: the stream dtype, unquantised)

    @property
    def head_dtype(self) -> str:
        return self.head or self.stream

    def describe(self) -> str:
        g = f", group {self.group_size}" if self.group_size else ""
        return f"W{self.weight} A{self.act} KV{self.kv}{g}"


def _bits_dtype(value: float | str, what: str, float16: str) -> str:
    if isinstance(value, str):
        try:
            return dtype(value).name
        except AccelsimError:
            try:
                value = float(value)
            except ValueError:
                raise AccelsimError(f"{what} {value!r} is neither a number of bits nor a dtype "
                                    f"name") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AccelsimError(f"{what} must be a number of bits or a dtype name, got {value!r}")
    if value == 16:
        return float16
    for bits, name in BITS_TO_DTYPE.items():
        if abs(value - bits) < 1e-9:
            return name
    allowed = ", ".join(f"{b:g}" for b in sorted([*BITS_TO_DTYPE, 16]))
    raise AccelsimError(f"{what} must be one of {allowed} or a dtype name, got {value!r}")


def make_quant(weight_bits: float | str = 16, act_dtype: str = "bf16", kv_bits: float | str = 16,
               group_size: int | None = None, head_dtype: str | None = None) -> Quant:
    """Resolve bits and dtype names to a Quant; bad values raise one clear AccelsimError."""
    act = dtype(act_dtype).name
    stream = act if act in _STREAM_FLOATS else "bf16"
    float16 = stream if stream in ("fp16", "bf16") else "bf16"
    weight = _bits_dtype(weight_bits, "weight_bits", float16)
    kv = _bits_dtype(kv_bits, "kv_bits", float16)
    if group_size is not None:
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size <= 0:
            raise AccelsimError(f"group_size must be a positive integer, got {group_size!r}")
        if dtype(weight).is_float:
            group_size = None  # scales only exist for integer weights
    head = dtype(head_dtype).name if head_dtype else ""
    return Quant(weight=weight, act=act, stream=stream, kv=kv, group_size=group_size, head=head)
