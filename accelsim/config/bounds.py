"""Sane bounds on every size an input may give, in one place (docs/engine.md, "Input bounds").

Configs (units, memories, devices, systems, experiments), workloads (trace ops, segment repeats,
Hugging Face configs, request traces, model options) are checked against these at load time,
so a value out of range ends in one located error (file, line, key path) instead of an
overflow, a ``MemoryError``, a hang or a silently wrong result. The limits are far beyond any
real design or workload; they exist so that every derived quantity (cycles, bytes, energy, the
per-tile and per-op arrays the engine allocates) stays finite, exact and affordable.

``SaneModel`` is the base of every config schema: any number that is NaN or infinite (``.inf``,
``inf``, ``.nan``) is refused, ``true``/``false`` is refused where a number is expected
(``rows: true``) and a number where true/false is expected. Bandwidths that may be infinite
say so with the explicit ``'unlimited'``, never with ``inf``.
"""
from __future__ import annotations

import math
import types
import typing
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, field_validator

# --------------------------------------------------------------------------- hardware

#: clocks (``clock_ghz`` of a device, unit or memory): 1 kHz to 100 GHz
MIN_CLOCK_GHZ = 1e-6
MAX_CLOCK_GHZ = 100.0
#: on-chip SRAMs and buffers (``*_kb``): at most 1 TiB, in KiB
MAX_SRAM_KB = float(2 ** 30)
#: off-chip memory capacity (``capacity_gb``): at most 2^20 GB (about 1 PB)
MAX_CAPACITY_GB = float(2 ** 20)
#: bandwidths in GB/s: at most 10^7 GB/s (10 PB/s); infinite only as 'unlimited'
MAX_BANDWIDTH_GB_S = 1e7
#: bandwidths in bytes per cycle: at most 2^30 (1 GiB per cycle)
MAX_BYTES_PER_CYCLE = float(2 ** 30)
#: processing elements of one unit, all dimensions multiplied (rows x cols, lanes x
#: FLOPs per lane, tiles x cores ...): at most 2^31
MAX_PES = 2 ** 31
#: fixed latencies in cycles (pipeline depths): at most 10^6
MAX_PIPELINE_CYCLES = 10 ** 6

# --------------------------------------------------------------------------- workloads

#: one dimension of an op (GEMM M, N, K, batch; vector rows, cols; attention batch, heads,
#: q_len, kv_len; group sizes): at most 2^40
MAX_DIM = 2 ** 40
#: attention head_dim: at most 2^16
MAX_HEAD_DIM = 2 ** 16
#: elements of one operand tensor of an op (e.g. GEMM batch x M x K): at most 2^48, so that
#: its bytes, and bits, stay exact integers in int64 and float64
MAX_TENSOR_ELEMENTS = 2 ** 48
#: MACs (or FLOPs) of one op: at most 2^60
MAX_OP_MACS = 2 ** 60
#: bytes of one collective op: at most 2^60
MAX_OP_BYTES = float(2 ** 60)
#: tiles (folds) one op may be cut into on a unit: at most 2^24 (the engine keeps per-tile
#: arrays: about 40 bytes and 0.2-1.5 microseconds each, so at most about 25 s and 1 GB)
MAX_TILES = 2 ** 24
#: op runs of one simulation: segment repeat x ops, summed over segments: at most 2^22 (the
#: result keeps one per-op row each: about 500 bytes)
MAX_OP_RUNS = 2 ** 22
#: a segment's ``repeat``: at most MAX_OP_RUNS
MAX_REPEAT = MAX_OP_RUNS
#: model options and serving requests: ``batch`` at most 2^24 requests
MAX_BATCH = 2 ** 24
#: ``ctx``, ``prompt``, request prompt and output tokens, max_position_embeddings: at most 2^24
MAX_TOKENS = 2 ** 24
#: requests of one serving trace (a CSV or ``workload requests -n``): at most 2^20
MAX_REQUESTS = 2 ** 20
#: sizes in a Hugging Face config (hidden, intermediate, vocab, heads, layers, experts):
#: at most 2^24
MAX_MODEL_DIM = 2 ** 24


def too_large(what: str, value: float, bound: float) -> str:
    """The message for ``value`` over ``bound`` (numbers written with thousands separators)."""
    return f"{what} is {_n(value)}, more than the {_n(bound)} accelsim accepts"


def _n(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e18):
        return f"{int(v):,}"
    return f"{v:g}"


# --------------------------------------------------------------------------- config schemas

def _members(tp: Any) -> tuple[Any, ...]:
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return tuple(m for a in get_args(tp) for m in _members(a))
    return (tp,)


def _accepts(annotation: Any) -> tuple[bool, bool, bool]:
    """(accepts true/false, accepts numbers, holds values of any type) for an annotation."""
    try:
        return _accepts_cached(annotation)
    except TypeError:  # unhashable metadata
        return _accepts_uncached(annotation)


def _accepts_uncached(annotation: Any) -> tuple[bool, bool, bool]:
    bools = nums = False
    for m in _members(annotation):
        if m is typing.Any or m is object:
            return True, True, True
        if m is bool:
            bools = True
        elif m in (int, float):
            nums = True
        elif get_origin(m) is Literal:
            args = get_args(m)
            bools |= any(isinstance(a, bool) for a in args)
            nums |= any(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
        elif get_args(m) and any(_accepts(a)[2] for a in get_args(m) if a is not Ellipsis):
            return bools, nums, True  # e.g. dict[str, Any]: its own schema checks the values
    return bools, nums, False


_accepts_cached = lru_cache(maxsize=None)(_accepts_uncached)


def _non_finite(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is, or (in lists and mappings) holds, a NaN or infinite float."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if depth < 8 and isinstance(value, (list, tuple)):
        return any(_non_finite(v, depth + 1) for v in value)
    if depth < 8 and isinstance(value, dict):
        return any(_non_finite(v, depth + 1) for v in value.values())
    return False


_FINITE = "must be a finite number ('unlimited' where a bandwidth may be infinite)"
#: (model class, field name) -> _accepts of its annotation
_KINDS: dict[tuple[type, str], tuple[bool, bool, bool]] = {}


class SaneModel(BaseModel):
    """Base of config schemas: no NaN or infinite numbers anywhere, and no true/false for a
    number (or a number for true/false); errors are located at the field.

    ``defer_build``: a schema's validator is built on its first use, not at class creation, so
    a command pays only for the models it validates (``accelsim gemm`` builds 6 of the 13 its
    modules define; issue 16, tests/test_startup.py). Subclasses inherit it."""

    model_config = ConfigDict(defer_build=True)

    @field_validator("*", mode="wrap")
    @classmethod
    def _sane_numbers(cls, value: Any, handler: Any, info: Any) -> Any:
        key = (cls, info.field_name)
        kind = _KINDS.get(key)
        if kind is None:
            field = cls.model_fields.get(info.field_name) if info.field_name else None
            kind = _KINDS[key] = (_accepts(field.annotation) if field is not None
                                  else (True, True, True))
        bools, nums, opaque = kind
        t = type(value)
        if t is int or t is float:
            if bools and not nums:
                raise ValueError("must be true or false")
            if t is float and not math.isfinite(value):
                raise ValueError(_FINITE)
            return handler(value)
        if t is bool:
            if nums and not bools:
                raise ValueError("must be a number, not true/false")
            return handler(value)
        if t is str or value is None:  # an override's text is typed by the schema
            out = handler(value)
            if type(out) is float and not math.isfinite(out):  # 'inf', 'nan'
                raise ValueError(_FINITE)
            return out
        if isinstance(value, float) and not math.isfinite(value):  # e.g. numpy floats
            raise ValueError(_FINITE)
        out = handler(value)
        if isinstance(out, float) and not math.isfinite(out):
            raise ValueError(_FINITE)
        if not opaque and isinstance(out, (list, tuple, dict)) and _non_finite(out):
            raise ValueError("must hold only finite numbers")
        return out


def check_pes(count: int, what: str) -> None:
    """ValueError (for a pydantic model validator) when a unit has more than MAX_PES PEs."""
    if count > MAX_PES:
        raise ValueError(too_large(what, count, MAX_PES) + " for one unit")
