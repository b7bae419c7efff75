"""Serving with a KV-cache capacity (admission, vLLM recompute preemption) and chunked prefill;
on a device and on a multi-device system."""
from __future__ import annotations

import numpy as np
import pytest

import accelsim
from accelsim.errors import AccelsimError
from accelsim.workload.requests import Request
from accelsim.workload.serving import simulate_serving
from accelsim.workload.serving_scheduler import SchedulerConfig, run

from conftest import ROOT


def test_preemption_hand_checked():
    """Capacity 10 tokens, 1 s per iteration. r0 (prompt 4, 4 tokens) and r1 (prompt 3, 3
    tokens) both join at t=0 and make their first token at t=1 (KV 5 + 4 = 9). Two more tokens
    would make 11: r1, the last admitted, is preempted and waits until r0 finishes at t=4;
    it re-prefills its 3 + 1 tokens at t=5 (a 4 s gap) and finishes at t=6."""
    reqs = [Request(0, 0.0, 4, 4), Request(1, 0.0, 3, 3)]
    s = run(reqs, SchedulerConfig(kv_capacity_tokens=10), lambda pf, ctx: 1.0)
    assert list(s.first) == [1.0, 1.0] and list(s.finish) == [4.0, 6.0]
    assert s.preemptions == 1 and s.gaps == [1.0, 1.0, 1.0, 4.0, 1.0]
    assert s.batches == [2, 1, 1, 1, 1, 1] and s.kv_peak_tokens <= 10


def test_chunked_prefill_splits_a_long_prompt_and_decodes_first():
    """Budget 8 tokens per iteration: a 10-token prompt arriving beside a decoding request
    runs as chunks of 7 and 3 (one token of each budget goes to the decode)."""
    seen = []

    def it(pf, ctx):
        seen.append((sorted(pf), len(ctx)))
        return 1.0

    reqs = [Request(0, 0.0, 2, 5), Request(1, 0.5, 10, 2)]
    s = run(reqs, SchedulerConfig(chunk_tokens=8), it)
    assert seen[:3] == [([2], 0), ([7], 1), ([3], 1)]
    assert s.first[1] == 3.0 and np.isfinite(s.finish).all()


def test_a_request_larger_than_the_cache_is_an_error():
    with pytest.raises(AccelsimError, match="could never finish"):
        run([Request(0, 0.0, 100, 10)], SchedulerConfig(kv_capacity_tokens=50),
            lambda pf, ctx: 1.0)


def _reqs(n=24):
    rng = np.random.default_rng(0)
    return [Request(i, float(i) * 0.01, int(rng.integers(64, 512)), int(rng.integers(8, 64)))
            for i in range(n)]


def test_small_cache_preempts_and_everything_still_finishes():
    arch = accelsim.load_arch(ROOT / "configs" / "sa128_bf16_hbm.yaml")
    free = simulate_serving(arch, "llama2-7b", _reqs(), max_batch=16)
    tight = simulate_serving(arch, "llama2-7b", _reqs(), max_batch=16, kv_capacity_tokens=1500)
    assert tight.settings["preemptions"] > 0 and free.settings["preemptions"] == 0
    assert tight.settings["kv_peak_tokens"] <= 1500
    assert np.isfinite(tight.finish_s).all()
    assert tight.makespan_s > free.makespan_s


def test_serving_on_a_system_with_auto_capacity():
    from accelsim.system import load_system
    sys4 = load_system(ROOT / "configs" / "systems" / "4x_h100_nvlink.yaml")
    res = simulate_serving(sys4, "llama2-70b", _reqs(8), kv_capacity_tokens="auto")
    assert res.arch == "4x-h100-nvlink" and np.isfinite(res.finish_s).all()
    assert res.settings["kv_capacity_tokens"] > 100_000      # 4 x 80 GB minus 35 GB each
