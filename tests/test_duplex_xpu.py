"""Duplex's xPU as its authors time it (configs/duplex/xpu_paper.yaml: the GPU unit's ``timing:
roofline``) and the opt-in element-wise FLOP energy (``energy.vector_flops``), by hand."""
from __future__ import annotations

import pytest

import accelsim
from accelsim.arch.device import load_arch
from accelsim.workload.ops import Gemm, Vector

from test_duplex import DUPLEX, _one_gemm


def test_paper_xpu_gemm_time_is_the_authors_roofline():
    """configs/duplex/xpu_paper.yaml times an op as the authors' LinearExecutionGPU
    (linear_impl.cpp lines 27-33, 61-62): max(2 m k n / 989.4 TFLOPS, (m k + k n + m n) x 2 B /
    3.352 TB/s). 64 x 4096 x 4096 FP16: max(2.1707 us, 34,603,008 B / 3.352 TB/s = 10.3231 us);
    ours within 0.06% (the first and last of 4096 tiles' transfers are exposed)."""
    r = accelsim.simulate(load_arch(DUPLEX / "xpu_paper.yaml"), _one_gemm())
    by_hand = max(2 * 64 * 4096 * 4096 / 989.4e12, 34_603_008 / 3.352e12)
    assert by_hand == pytest.approx(10.3231e-6, rel=1e-5)
    assert r.latency_s == pytest.approx(by_hand, rel=6e-4)
    assert r.latency_s >= by_hand
    # a compute-bound GEMM: 8192 x 8192 x 8192 is 1.1e12 FLOPs / 989.4 TFLOPS = 1.1113 ms
    from accelsim.workload.trace import Segment, Trace
    big = Gemm("w", m=8192, n=8192, k=8192, dtype="fp16", b_shared=True, deps=())
    rb = accelsim.simulate(load_arch(DUPLEX / "xpu_paper.yaml"), Trace("g", (Segment("l", (big,)),)))
    assert rb.latency_s == pytest.approx(2 * 8192**3 / 989.4e12, rel=6e-4)


def test_paper_xpu_grouped_experts_are_one_linear_each():
    """Experts of 1 and 4096 rows (N 4096, K 4096): the authors run one linear per expert
    (expert.cpp), so the op takes the sum of the two maxes, not the max of the sums."""
    from accelsim.workload.ops import GroupedGemm
    from accelsim.workload.trace import Segment, Trace
    g = GroupedGemm("e", groups=(1, 4096), n=4096, k=4096, dtype="fp16", deps=())
    r = accelsim.simulate(load_arch(DUPLEX / "xpu_paper.yaml"), Trace("g", (Segment("l", (g,)),)))
    def one(m):
        return max(2 * m * 4096 * 4096 / 989.4e12, (2 * m * 4096 + 4096 * 4096) * 2 / 3.352e12)
    assert r.latency_s == pytest.approx(one(1) + one(4096), rel=6e-4)


def test_reproduction_paper_xpu_overrides_equal_xpu_paper_yaml():
    """duplex_serving.XPUS['paper'] gives the devices exactly xpu_paper.yaml's GPU unit."""
    from accelsim.reproduce.duplex_serving import XPUS
    over = [o.removeprefix("device.") for o in XPUS["paper"]]
    a = load_arch(DUPLEX / "xpu.yaml", over).units["gpu"].config
    b = load_arch(DUPLEX / "xpu_paper.yaml").units["gpu"].config
    assert a == b


def test_softmax_flops_energy_by_hand():
    """vector_flops: softmax charges a softmax's FLOPs at 0.23 pJ each (kMAC / 2, power.h line
    35): rows 1024 x cols 4096 FP16 softmax = 4,194,304 elements x 5 FLOPs x 0.23 pJ =
    4.8234 uJ on top of its DRAM energy (2 x 8 MiB x 8 b x 3.48 pJ/b + 16,384 rows x 909 pJ);
    'none' charges no Comp, and an add is not a softmax."""
    from accelsim.workload.trace import Segment, Trace
    sm = Vector("s", op="softmax", rows=1024, cols=4096, dtype="fp16", deps=())
    add = Vector("a", op="add", rows=1024, cols=4096, dtype="fp16", deps=())
    tr = Trace("v", (Segment("l", (sm, add)),))
    r = accelsim.simulate(load_arch(DUPLEX / "xpu_paper.yaml"), tr)
    s, a = r.per_op.iloc[0], r.per_op.iloc[1]
    moved = 2 * 1024 * 4096 * 2
    dram = moved * 8 * 3.48e-12 + moved / 1024 * 909e-12
    assert s.energy_dram_j == pytest.approx(dram, rel=1e-12)
    assert s.energy_j - s.energy_dram_j == pytest.approx(1024 * 4096 * 5 * 0.23e-12, rel=1e-12)
    assert a.energy_j - a.energy_dram_j == pytest.approx(0.0, abs=1e-18)
    plain = accelsim.simulate(load_arch(DUPLEX / "xpu_paper.yaml",
                                        ["units.gpu.energy.vector_flops=none"]), tr)
    assert plain.per_op.iloc[0].energy_j == pytest.approx(dram, rel=1e-12)
    every = accelsim.simulate(load_arch(DUPLEX / "xpu_paper.yaml",
                                        ["units.gpu.energy.vector_flops=all"]), tr)
    add_e = every.per_op.iloc[1]
    assert add_e.energy_j - add_e.energy_dram_j == pytest.approx(1024 * 4096 * 0.23e-12,
                                                                 rel=1e-12)


def test_fused_attention_softmax_energy_counts_attended_pairs():
    """On the calibrated GPU (fused attention), vector_flops: softmax adds 5 FLOPs x 0.23 pJ per
    attended pair and head to the QK^T + PV MACs."""
    from accelsim.workload.ops import Attention
    from accelsim.workload.trace import Segment, Trace
    at = Attention("attn", batch=2, heads=8, kv_heads=2, q_len=1, kv_len=1024, head_dim=128,
                   dtype="fp16", deps=())
    tr = Trace("a", (Segment("l", (at,)),))
    base = accelsim.simulate(load_arch(DUPLEX / "xpu.yaml"), tr).per_op.iloc[0]
    more = accelsim.simulate(load_arch(DUPLEX / "xpu.yaml",
                                       ["units.gpu.energy.vector_flops=softmax"]), tr).per_op.iloc[0]
    assert more.energy_j - base.energy_j == pytest.approx(2 * 8 * 1024 * 5 * 0.23e-12, rel=1e-9)
