"""SCALE-Sim topology CSVs: convolution layers, lowered to GEMMs the way SCALE-Sim lowers them.

SCALE-Sim's default topology format (``topologies/conv_nets/*.csv``)::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,
        Strides,           (one line in the file)
    Conv1, 224, 224, 7, 7, 3, 64, 2,

Each layer is an im2col GEMM C[M,N] = A[M,K] @ B[K,N] with

    ofmap_h = ceil((H - R + S_h) / S_h)      (no padding; note: ceil((H - R) / S_h) + 1, one
    ofmap_w = ceil((W - S + S_w) / S_w)       more than PyTorch's floor when S_h does not divide
                                              H - R: SCALE-Sim's count is kept)
    M = ofmap_h * ofmap_w     (ofmap pixels)
    K = R * S * C             (the convolution window)
    N = num filters

as in scale-sim-v3 ``scalesim/topology_utils.py`` (``topo_calc_hyperparams`` computes ofmap_h,
ofmap_w and the window; ``get_transformed_mnk_dimensions`` gives M = ofmap pixels per filter, N =
filters, K = window) and scale-sim-v2 ``scalesim/topology_utils.py`` (same formulas). Read from
those files; no SCALE-Sim code is copied here. Also as SCALE-Sim does:

* ``Strides`` is used for both directions; a ninth integer column is the stride along the width
  (SCALE-Sim v2's ``Stride height, Stride width`` files), a ninth ``N:M`` column is SCALE-Sim
  v3's sparsity ratio (only dense ``1:1``-style ratios are accepted: accelsim has no sparse
  systolic model).
* A layer whose name contains ``DP`` is a depth-wise convolution: SCALE-Sim runs it as
  ``Channels`` separate one-channel layers (``load_arrays_conv``), here one segment of that op
  repeated ``Channels`` times.
* A filter larger than the input map is an error (SCALE-Sim asserts it).

Layers run one after another. Every problem is a ConfigError naming the file and line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..errors import AccelsimError, ConfigError
from .ops import Gemm, Op
from .trace import Segment, Trace

#: SCALE-Sim's conv topology header, as its files write it
CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                "Channels", "Num Filter", "Strides")
#: numbers after the layer name in a conv row (a ninth column is optional)
CONV_NUMBERS = len(CONV_COLUMNS) - 1
_RATIO = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def is_conv_header(cells: Sequence[str]) -> bool:
    """Whether a CSV row is SCALE-Sim's convolution header (``Layer name, IFMAP Height, ...``)."""
    return len(cells) >= 2 and "ifmap" in cells[1].replace(" ", "").lower()


def looks_like_conv_row(cells: Sequence[str]) -> bool:
    """A headerless data row with a conv layer's seven (or eight) numbers after the name."""
    nums = cells[1:]
    return len(nums) in (CONV_NUMBERS, CONV_NUMBERS + 1) and all(
        c.strip().isdigit() for c in nums[:CONV_NUMBERS])


def dense_ratio(cell: str, file: str, line: int) -> bool:
    """Whether ``cell`` is a SCALE-Sim v3 ``N:M`` sparsity ratio; ConfigError unless it is dense
    (N == M). False when the cell is not a ratio at all."""
    m = _RATIO.match(cell)
    if not m:
        return False
    n, of = int(m.group(1)), int(m.group(2))
    if n == 0 or of == 0 or n > of:
        raise ConfigError(f"sparsity ratio {cell.strip()!r} must be N:M with 0 < N <= M",
                          file=file, line=line)
    if n != of:
        raise ConfigError(f"sparsity ratio {cell.strip()!r}: accelsim does not model SCALE-Sim's "
                          f"sparse arrays; only dense layers (ratio 1:1) are accepted",
                          file=file, line=line)
    return True


def conv_gemm_dims(h: int, w: int, r: int, s: int, c: int, filters: int, stride_h: int,
                   stride_w: int) -> tuple[int, int, int]:
    """(M, N, K) of a convolution layer lowered by im2col, as SCALE-Sim computes them."""
    ofmap_h = -(-(h - r + stride_h) // stride_h)   # ceil((h - r + stride_h) / stride_h), exact
    ofmap_w = -(-(w - s + stride_w) // stride_w)
    return ofmap_h * ofmap_w, filters, r * s * c


def conv_trace(rows: Sequence[tuple[int, Sequence[str]]], file: str, *, dtype: str = "int8",
               name: str | None = None) -> Trace:
    """A trace from SCALE-Sim conv rows: ``(line number, cells)`` pairs (header, blank and ``#``
    comment rows already removed; trailing empty cells dropped)."""
    trace_name = name or Path(file).stem
    segments: list[Segment] = []
    run: list[Op] = []
    used: set[str] = set()

    def flush() -> None:
        if run:
            seg = trace_name if not segments else f"{trace_name}_{len(segments)}"
            segments.append(Segment(seg, tuple(run)))
            run.clear()

    for lineno, cells in rows:
        layer = cells[0] or f"layer{len(used)}"
        nums = cells[1:]
        if len(nums) < CONV_NUMBERS:
            raise ConfigError(f"expected {len(CONV_COLUMNS)} columns ({', '.join(CONV_COLUMNS)}), "
                              f"got {len(cells)}", file=file, line=lineno)
        extra = nums[CONV_NUMBERS:]
        if len(extra) > 1 or (extra and not extra[0].strip().isdigit()
                              and not dense_ratio(extra[0], file, lineno)):
            raise ConfigError(f"expected {len(CONV_COLUMNS)} columns ({', '.join(CONV_COLUMNS)}) "
                              f"and optionally a stride along the width or an N:M sparsity "
                              f"ratio, got {len(cells)} columns", file=file, line=lineno)
        try:
            vals = [int(x) for x in nums[:CONV_NUMBERS]]
            if extra and extra[0].strip().isdigit():
                vals.append(int(extra[0]))
        except ValueError:
            bad = next(x for x in nums[:CONV_NUMBERS] if not _is_int(x))
            col = CONV_COLUMNS[1 + nums.index(bad)]
            raise ConfigError(f"{col} must be a positive integer, got {bad!r}", file=file,
                              line=lineno) from None
        h, w, r, s, c, filters, stride_h = vals[:CONV_NUMBERS]
        stride_w = vals[CONV_NUMBERS] if len(vals) > CONV_NUMBERS else stride_h
        for col, v in zip(CONV_COLUMNS[1:] + ("Stride width",), vals + [stride_w]):
            if v <= 0:
                raise ConfigError(f"{col} must be a positive integer, got {v}", file=file,
                                  line=lineno)
        if r > h or s > w:
            raise ConfigError(f"filter {r}x{s} is larger than the input map {h}x{w} "
                              f"(SCALE-Sim does not pad)", file=file, line=lineno)
        depthwise = "DP" in layer  # SCALE-Sim's marker for depth-wise layers
        m, n, k = conv_gemm_dims(h, w, r, s, 1 if depthwise else c, filters, stride_h, stride_w)
        op_name = unique(layer, used)
        try:
            op = Gemm(op_name, m=m, n=n, k=k, dtype=dtype)
        except AccelsimError as e:
            raise ConfigError(str(e), file=file, line=lineno) from None
        if depthwise:
            flush()
            try:
                segments.append(Segment(op_name, (op,), repeat=c))
            except AccelsimError as e:
                raise ConfigError(str(e), file=file, line=lineno) from None
        else:
            run.append(op)
    flush()
    if not segments:
        raise ConfigError("no convolution layers found", file=file)
    return Trace(trace_name, tuple(segments))


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def unique(name: str, used: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... when a layer of that name came before."""
    out, i = name, 1
    while out in used:
        i += 1
        out = f"{name}_{i}"
    used.add(out)
    return out
