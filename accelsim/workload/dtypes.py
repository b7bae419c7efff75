"""Numeric data types known to the op IR: name -> storage bits and number family.

Storage bits may be fractional (ternary weights pack at log2(3) ~ 1.58 bits); byte counts
are therefore floats. Every unit decides for itself which dtype combinations it supports.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import AccelsimError


@dataclass(frozen=True)
class DType:
    """A number format: ``bits`` of storage, ``kind`` 'int' or 'float' (ternary counts as int)."""

    name: str
    bits: float
    kind: str  # "int" | "float"
    mantissa_bits: int = 0  # explicit mantissa bits for floats (0 for ints)

    @property
    def bytes(self) -> float:
        return self.bits / 8.0

    @property
    def is_float(self) -> bool:
        return self.kind == "float"


_DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("fp32", 32, "float", 23),
        DType("tf32", 32, "float", 10),  # stored as 32 bits, computed with a 10-bit mantissa
        DType("fp16", 16, "float", 10),
        DType("bf16", 16, "float", 7),
        DType("fp8_e4m3", 8, "float", 3),
        DType("fp8_e5m2", 8, "float", 2),
        DType("int32", 32, "int"),
        DType("int16", 16, "int"),
        DType("int8", 8, "int"),
        DType("int4", 4, "int"),
        DType("int3", 3, "int"),
        DType("int2", 2, "int"),
        DType("int1", 1, "int"),
        DType("ternary", 1.58, "int"),
    )
}
_ALIASES = {"fp8": "fp8_e4m3", "float32": "fp32", "float16": "fp16", "half": "fp16",
            "bfloat16": "bf16", "uint8": "int8", "i8": "int8", "i4": "int4", "int1.58": "ternary"}


def dtype(name: str | DType) -> DType:
    """Look up a dtype by name (or alias); an unknown name lists the known ones."""
    hit = _DTYPES.get(name) if type(name) is str else None  # a canonical name: the common case
    if hit is not None:
        return hit
    if isinstance(name, DType):
        return name
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return _DTYPES[key]
    except KeyError:
        raise AccelsimError(f"unknown dtype {name!r}; known dtypes: {', '.join(known_dtypes())}") from None


def dtype_choice(v: str, allowed: tuple[str, ...], key: str, why: str = "") -> str:
    """The canonical name of dtype ``v`` if it is one of ``allowed`` (a config validator's
    check: raises ValueError, which pydantic reports with the key path and line)."""
    try:
        name = dtype(v).name
    except AccelsimError as e:
        raise ValueError(str(e)) from None
    if name not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}"
                         + (f" ({why})" if why else f", got {v!r}"))
    return name


def known_dtypes() -> list[str]:
    return list(_DTYPES)
