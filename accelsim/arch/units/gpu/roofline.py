"""The GPU unit's analytical timing (``timing: roofline``): Duplex's xPU as its authors time it.

Yun et al. (MICRO'24, Sec 6) model the xPU analytically in their simulator
(shenjiangqiu/LLMSimulator, the authors' release 4192527, files below): every op takes

    time = max(FLOPs / compute_peak_flops, bytes / memory_bandwidth)

with compute_peak_flops = 989.4 TFLOPS and memory_bandwidth = 3.352 TB/s for the H100 preset
(src/hardware/hardware_config.h lines 214-215), no kernel overhead and no efficiency factor:

* a linear layer: FLOPs 2 m k n, bytes (m k + k n + m n) x precision
  (src/hardware/linear_impl.cpp lines 27-33, total = max(...) line 61-62);
* MoE experts: one linear per expert, run one after another (src/module/expert.cpp), so a
  grouped GEMM here is the sum over its groups of each group's max;
* attention: not fused. Decode (attention_gen_impl.cpp lines 49-101, 103-119, 121-) and prefill
  (attention_sum_impl.cpp) are QK^T, then scale + mask + softmax, then PV, each on its own, the
  scores S through memory (prefill writes S in QK^T and reads it in PV; the prefill scores are
  not causal: n = current_len + num_process_token for every query). The unit lowers attention
  to those primitives (``Attention.lower``: QK^T and PV GEMMs over the whole kv_len, a softmax
  vector op), each timed by the rule above;
* element-wise ops at the same peak: layernorm.cpp (4 FLOPs per element), residual.cpp (1),
  rope.cpp (6), the activation (activation_impl.cpp: bytes only); here each op's FLOPs are the
  workload's own count (``accelsim.workload.ops.VECTOR_KINDS``: softmax 5 against the
  authors' 7), immaterial since every element-wise op is memory-bound at Op/B 295.

The memory time is the device memory's (bytes at its bandwidth: ``configs/duplex/xpu_paper.yaml``
sets the authors' 3.352 TB/s); the authors' released config runs the ideal-bandwidth path
(config.yaml line 19, ``use_ramulator: off``), which this matches. The engine overlaps a
schedule's transfers with its compute tile by tile (x_0 + sum max(c_i, x_{i+1}) + the last
write), so each op is cut into ``TILES`` equal tiles of one fold class: the exposed first and
last transfers are 2 / TILES of the op's bytes (0.05%), the rest is the max of the two.
"""
from __future__ import annotations

import numpy as np

from ....workload.ops import Gemm, GroupedGemm, Op
from ...base import TileSchedule, Traffic
from ...folds import FoldClasses, Seq

#: equal tiles per group of an op (one fold class each, closed form: no per-tile arrays)
TILES = 4096


def _group_parts(op: Op) -> list[tuple[float, dict[str, float], dict[str, float]]]:
    """(FLOPs, reads, writes) of each independently timed part of ``op``: a grouped GEMM's
    groups (the authors' experts, one linear each), else the op itself."""
    if isinstance(op, GroupedGemm):
        b = op.operand_bytes()
        ab, cb = b["A"] / op.m, b["C"] / op.m           # bytes per row of A and of C
        bb = (b["B"] + b.get("B_scales", 0.0)) / len(op.groups)
        return [(2.0 * m * op.n * op.k, {"A": m * ab, "B": bb}, {"C": m * cb})
                for m in op.groups]
    b = op.operand_bytes()
    if isinstance(op, Gemm):
        reads = {"A": b["A"], "B": b["B"] + b.get("B_scales", 0.0)}
        return [(op.flops(), reads, {"C": b["C"]})]
    reads = {k: v for k, v in b.items() if k != "out"}
    return [(op.flops(), reads, {"out": b.get("out", 0.0)})]


def schedule(op: Op, flops_per_cycle: float) -> TileSchedule:
    """The op's tile schedule under the roofline rule: each part's FLOPs at ``flops_per_cycle``
    (the unit's peak), its bytes through the device memory, overlapped."""
    parts = _group_parts(op)
    k = len(parts)
    classes = FoldClasses(Seq.cat(Seq.rep(i, TILES) for i in range(k)), k)
    compute = np.array([f / flops_per_cycle / TILES for f, _, _ in parts])
    names = list(dict.fromkeys(n for _, r, w in parts for n in [*r, *w]))
    counts = classes.counts
    traffic = []
    for n in names:
        rd = np.array([r.get(n, 0.0) / TILES for _, r, _ in parts])
        wr = np.array([w.get(n, 0.0) / TILES for _, _, w in parts])
        traffic.append(Traffic(n, read=rd if rd.any() else None,
                               write=wr if wr.any() else None, counts=counts))
    return TileSchedule(compute=compute, traffic=tuple(traffic), classes=classes)
