"""SRAM-reuse rules of a systolic pass (``SystolicArray._pass``) on its reduced fold grid.

Each function takes per-fold-class Python lists (at most 3 x 3 x 3 entries, see
``accelsim.arch.folds``) and returns per-class lists of DRAM bytes. They are plain Python
rather than numpy because the lists are tiny: a numpy call costs more than the arithmetic
(issue 16). Each value is computed by the same IEEE operations the earlier numpy version did
(``np.where(mask, bytes, 0.0)``: ``float(bytes)`` or 0.0), so results are bit-identical;
the pass sums them over classes with numpy, in numpy's order, as before.
"""
from __future__ import annotations

from typing import Sequence


def residency(operand_bytes: float, tile_bytes: Sequence[float], usable: float) -> str:
    """'resident': the whole operand stays on chip; 'reuse': a tile stays while consecutive
    folds use it; 'stream': a single tile does not fit, so it moves every fold."""
    if operand_bytes <= usable:
        return "resident"
    return "reuse" if float(max(tile_bytes)) <= usable else "stream"


def first_touch(ids: Sequence[int]) -> list[bool]:
    """Whether each entry is the first occurrence of its id."""
    seen: set[int] = set()
    out = []
    for i in ids:
        out.append(i not in seen)
        seen.add(i)
    return out


def last_touch(ids: Sequence[int]) -> list[bool]:
    """Whether each entry is the last occurrence of its id."""
    return first_touch(ids[::-1])[::-1]


def changed(ids: Sequence[int]) -> list[bool]:
    """Whether each entry's id differs from the previous entry's (the first: True)."""
    return [True] + [a != b for a, b in zip(ids[1:], ids[:-1])]


def input_reads(ids: Sequence[int], nbytes: Sequence[float], mode: str, repeat: int = 1
                ) -> list[float]:
    """DRAM bytes per fold for an input operand (see ``residency`` for the modes); ``ids``
    are the tile ids of the first of ``repeat`` elements that touch their own tiles alike."""
    if mode == "resident":
        mask = first_touch(ids)
    elif mode == "reuse":
        mask = changed(ids)
    else:
        mask = [True] * len(ids)
    return [float(b) if m else 0.0 for m, b in zip(mask * repeat, nbytes)]


def output_traffic(ids: Sequence[int], n: Sequence[int], out_b: float, acc_b: float,
                   partial: bool, mode: str, repeat: int = 1) -> tuple[list[float], list[float]]:
    """(reads, writes) per fold (class) for the output operand.

    A tile is written when the next fold moves to another tile (or at the end): in final form
    at its last touch, else as spilled partial sums (unless the whole output is resident); a
    spilled tile is read back when a later fold returns to it. In 'stream' mode a tile does
    not fit on chip at all, so partial sums go out and come back every fold. ``ids`` are the
    tile ids of the first of ``repeat`` batch elements (each touches its own tiles alike).
    """
    last = last_touch(ids) * repeat
    if not partial or mode == "resident":
        return [0.0] * len(n), [v * out_b if e else 0.0 for e, v in zip(last, n)]
    k = len(ids)
    if mode == "reuse":
        leaving = changed(ids[::-1])[::-1]
        arriving = changed(ids)
    else:
        leaving = arriving = [True] * k
    first = first_touch(ids)
    back = [a and not f for a, f in zip(arriving, first)] * repeat
    reads = [v * acc_b if e else 0.0 for e, v in zip(back, n)]
    writes = [v * out_b if e else (v * acc_b if lv else 0.0)
              for e, lv, v in zip(last, leaving * repeat, n)]
    return reads, writes
