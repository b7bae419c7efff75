"""Duplex's memory spaces (MICRO'24 Sec 5.3): which bank-bundle memory space each op's DRAM data
lives in, for the ``duplex_stage`` policy's expert split and its bank-bundle contention.

The paper: "we divide all the memory space in the device into four sections based on the index
of the bank bundle. Each memory space uses bank bundles in all channels. For the expert FFNs, we
allocated them one by one across these four memory spaces. ... For the KV cache used in the
decoding sequence, we have alternately allocated it among three of the memory spaces, while the
remaining memory space is designated for storing Q, K, and V matrices used in the attention of
prefilling sequences ... The parameters for the other layers are used exclusively in [the xPU]
and are allocated in any remaining memory spaces." A space is one bundle index of every
pseudo-channel, so there are as many spaces as bundles per pseudo-channel (``BundleRead.bundles``:
4 on duplex_hbm3, 2 ranks x 2 bundles; the authors' ``addrToVecLOGIC``, src/dram/
mmap_controller.cpp, puts the bundle index, rank and upper bank bit, in the top address bits).

Placement, as space -> share of the op's bytes (``op_spaces``):

* expert e: space ``e mod S`` (its index among the layer's experts where the names are not
  numbers), all its bytes (``expert_space``; the rule ``coprocessing.expert_split`` moves
  spaces by);
* attention of decoding sequences, ``kv: by_request`` (the paper's layout): request r's KV in
  space 1 + (r mod (S - 1)), the op's bytes split over its requests' spaces by request count,
  the requests named by the op's ``requests`` tag (ids); without ids (the lowered parts of the
  model zoo's attention do not carry their batch), evenly over spaces 1..S-1 (exact when the
  op's request count is a multiple of S - 1, "alternately allocated");
* attention of prefilling sequences, ``by_request``: space 0 (the Q/K/V space);
* ``kv: interleave`` (the xPU's ordinary address map, the authors' ``addrToVec``: rank and
  bank below the row bits): every attention op spread evenly over all S spaces;
* everything else (the xPU's weights, "any remaining memory spaces", unknown which): evenly
  over all S spaces.

With one space (S = 1, e.g. Bank-PIM's all-bank bundle) everything shares it.
"""
from __future__ import annotations

from typing import Literal, Sequence

from ...workload.ops import Op
from .stages import expert, is_attention, phase

KvLayout = Literal["by_request", "interleave"]
Spaces = dict[int, float]


def expert_key(e: str) -> tuple[int, str]:
    """Sort key of an expert name: numbers first, by value; other names after, by text."""
    return (int(e), "") if e.isdigit() else (1 << 62, e)


def expert_index(e: str, order: Sequence[str]) -> int:
    """An expert's index: its number, else its position in ``order`` (the layer's experts
    sorted by ``expert_key``)."""
    return int(e) if e.isdigit() else list(order).index(e)


def expert_space(e: str, order: Sequence[str], spaces: int) -> int:
    """The memory space expert ``e`` lives in: round robin, "one by one" (Sec 5.3)."""
    return expert_index(e, order) % spaces


def kv_space(request: int, spaces: int) -> int:
    """Space of request ``request``'s KV cache under ``by_request``: alternately among spaces
    1..S-1, space 0 holding the prefill Q/K/V (Sec 5.3); with one space, that one."""
    return 0 if spaces <= 1 else 1 + request % (spaces - 1)


def _request_ids(op: Op) -> list[int] | None:
    raw = dict(op.tags).get("requests")
    if raw is None:
        return None
    try:
        return [int(x) for x in str(raw).split(",") if x.strip()]
    except ValueError:
        return None


def place_segment(ops: Sequence[Op], spaces: int, kv: KvLayout) -> list[Spaces]:
    """Space shares of every op of a segment (module docstring)."""
    s = max(1, spaces)
    even = {k: 1.0 / s for k in range(s)}
    experts = sorted({e for op in ops if (e := expert(op)) is not None}, key=expert_key)
    out: list[Spaces] = []
    for op in ops:
        e = expert(op)
        if e is not None:
            out.append({expert_space(e, experts, s): 1.0})
        elif not is_attention(op) or kv == "interleave":
            out.append(dict(even))
        elif phase(op) != "decode":
            out.append({0: 1.0})
        else:
            ids = _request_ids(op)
            if ids is None or not ids:
                kvs = sorted({kv_space(r, s) for r in range(max(1, s - 1))})
                out.append({k: 1.0 / len(kvs) for k in kvs})
                continue
            share: Spaces = {}
            for r in ids:
                k = kv_space(r, s)
                share[k] = share.get(k, 0.0) + 1.0 / len(ids)
            out.append(dict(sorted(share.items())))
    return out
