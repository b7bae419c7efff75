"""Serving: request traces (CSV, synthetic generator) and continuous-batching simulation."""
from __future__ import annotations

import numpy as np
import pytest

import accelsim
from accelsim.errors import AccelsimError, ConfigError
from accelsim.workload import build_trace
from accelsim.workload.requests import (PRESETS, Request, load_requests, parse_dist,
                                        save_requests, synth_requests)
from accelsim.workload.serving import simulate_serving
from accelsim.workload.zoo import build_iteration

from conftest import ROOT

HBM = str(ROOT / "configs" / "sa128_bf16_hbm.yaml")


@pytest.fixture(scope="module")
def arch():
    return accelsim.load_arch(HBM)


def lat(arch, trace) -> float:
    return accelsim.simulate(arch, trace, fidelity="op").latency_s


@pytest.mark.parametrize("preset", ["sharegpt", "alpaca", "sharegpt-neupims", "alpaca-neupims"])
def test_synthetic_lengths_follow_the_preset_means(preset):
    reqs = synth_requests(20000, preset, seed=0, max_prompt=4096, max_total=8192)
    pin, pout, source = PRESETS[preset]
    prompts = np.array([r.prompt_tokens for r in reqs])
    outputs = np.array([r.output_tokens for r in reqs])
    assert abs(prompts.mean() - pin.mean) / pin.mean < 0.03
    assert abs(outputs.mean() - pout.mean) / pout.mean < 0.03
    assert prompts.min() >= 1 and outputs.min() >= 1 and "log-normal shape assumed" in source
    assert np.std(outputs) / outputs.mean() == pytest.approx(1.0, abs=0.1)  # the assumed CV


def test_generator_is_seeded_clipped_and_poisson():
    a = synth_requests(500, "sharegpt", rate=4.0, seed=11)
    assert a == synth_requests(500, "sharegpt", rate=4.0, seed=11)
    assert a != synth_requests(500, "sharegpt", rate=4.0, seed=12)
    assert all(r.prompt_tokens <= 1024 and r.prompt_tokens + r.output_tokens <= 2048 for r in a)
    many = synth_requests(20000, "alpaca", rate=4.0, seed=1)
    gaps = np.diff([r.arrival_s for r in many])
    assert gaps.mean() == pytest.approx(0.25, rel=0.03) and gaps.min() >= 0
    assert all(r.arrival_s == 0 for r in synth_requests(10, "alpaca"))
    fixed = synth_requests(3, "fixed:100,20")
    assert {(r.prompt_tokens, r.output_tokens) for r in fixed} == {(100, 20)}
    normal = synth_requests(5000, "normal:512,64,256,32", seed=2)
    assert np.mean([r.prompt_tokens for r in normal]) == pytest.approx(512, rel=0.01)


@pytest.mark.parametrize("spec", ["zipf", "fixed:1", "normal:1,2,3", "fixed:a,b", "fixed:0,5"])
def test_bad_distribution_specs(spec):
    with pytest.raises(AccelsimError, match="unknown length distribution"):
        parse_dist(spec)


def test_csv_round_trip_and_errors(tmp_path):
    reqs = synth_requests(20, "sharegpt", rate=1.0, seed=4)
    p = tmp_path / "r.csv"
    save_requests(reqs, p)
    assert load_requests(p) == reqs
    cases = [("a,b,c\n1,2,3\n", 1, "the header must be arrival_s,prompt_tokens,output_tokens"),
             ("arrival_s,prompt_tokens,output_tokens\n0,5,5\n0.1,x,3\n", 3, "bad number"),
             ("arrival_s,prompt_tokens,output_tokens\n# c\n0,5,0\n", 3, "output_tokens: must be >= 1"),
             ("arrival_s,prompt_tokens,output_tokens\n-1,5,5\n", 2, "arrival_s: must be >= 0"),
             ("arrival_s,prompt_tokens,output_tokens\n0,5\n", 2, "expected 3 values")]
    for text, line, msg in cases:
        p.write_text(text)
        with pytest.raises(ConfigError) as e:
            load_requests(p)
        assert e.value.line == line and msg in str(e.value)
    with pytest.raises(ConfigError, match="file not found"):
        load_requests(tmp_path / "missing.csv")


def test_one_request_timeline_equals_direct_simulation(arch):
    """Prefill of 128 tokens, then two decode steps at contexts 129, 130 (bucketed to 192)."""
    res = simulate_serving(arch, "llama2-7b", [Request(0, 0.0, 128, 3)], ctx_bucket=64)
    t_prefill = lat(arch, build_trace("llama2-7b", phase="prefill", batch=1, prompt=128))
    t_decode = lat(arch, build_trace("llama2-7b", phase="decode", batch=1, ctx=192))
    assert res.first_token_s[0] == pytest.approx(t_prefill, rel=1e-12)
    assert res.tbt_s == pytest.approx([t_decode, t_decode], rel=1e-12)
    assert res.finish_s[0] == pytest.approx(t_prefill + 2 * t_decode, rel=1e-12)
    s = res.summary()
    assert (s["iterations"], s["simulated_iterations"], s["output_tokens"]) == (3, 2, 3)
    assert s["throughput_tok_s"] == pytest.approx(3 / res.finish_s[0])


def test_a_late_request_joins_a_mixed_iteration(arch):
    """B arrives while A prefills; the next iteration prefills B and decodes A together."""
    reqs = [Request(0, 0.0, 64, 4), Request(1, 1e-9, 48, 2)]
    res = simulate_serving(arch, "llama2-7b", reqs)
    t1 = lat(arch, build_iteration("llama2-7b", prefill=(64,)))
    t2 = lat(arch, build_iteration("llama2-7b", prefill=(48,), decode=((128, 1),)))
    assert res.first_token_s[0] == pytest.approx(t1, rel=1e-12)
    assert res.first_token_s[1] == pytest.approx(t1 + t2, rel=1e-12)  # same iteration end
    assert res.tbt_s[0] == pytest.approx(t2, rel=1e-12)                # A's first gap
    assert len(res.tbt_s) == 3 + 1


def test_max_batch_serialises_and_metrics_are_consistent(arch):
    reqs = [Request(i, 0.0, 32, 2) for i in range(3)]
    res = simulate_serving(arch, "bitnet-b1.58-700m", reqs, max_batch=1, weight_bits=1.58,
                           act_dtype="int8")
    for i in range(1, 3):
        assert res.first_token_s[i] > res.finish_s[i - 1] - 1e-15
    assert res.batch_sizes.max() == 1
    many = synth_requests(60, "alpaca", rate=20.0, seed=5)
    res = simulate_serving(arch, "llama2-7b", many, max_batch=8, max_prefill_tokens=64)
    s = res.summary()
    assert len(res.tbt_s) == sum(r.output_tokens - 1 for r in many)
    assert s["throughput_tok_s"] == pytest.approx(s["output_tokens"] / s["makespan_s"])
    assert s["ttft_p50_s"] <= s["ttft_p90_s"] <= s["ttft_p99_s"]
    assert s["tbt_p50_s"] <= s["tbt_p90_s"] <= s["tbt_p99_s"]
    assert np.all(res.first_token_s >= [r.arrival_s for r in res.requests])
    assert res.batch_sizes.max() <= 8 and s["simulated_iterations"] < s["iterations"]
    again = simulate_serving(accelsim.load_arch(HBM), "llama2-7b", many, max_batch=8,
                             max_prefill_tokens=64)
    assert again.summary() == s  # deterministic


@pytest.mark.parametrize("kwargs, text", [({"max_batch": 0}, "max_batch must be a positive"),
                                          ({"ctx_bucket": -1}, "ctx_bucket must be a positive"),
                                          ({"max_prefill_tokens": 0}, "max_prefill_tokens")])
def test_serving_bad_arguments(arch, kwargs, text):
    with pytest.raises(AccelsimError, match=text):
        simulate_serving(arch, "llama2-7b", [Request(0, 0.0, 8, 2)], **kwargs)
    with pytest.raises(AccelsimError, match="empty"):
        simulate_serving(arch, "llama2-7b", [])


def test_example_request_files_load():
    files = sorted((ROOT / "workloads" / "requests").glob("*.csv"))
    assert len(files) >= 2
    for f in files:
        assert len(load_requests(f)) > 0


def test_duplicate_request_ids_are_rejected(arch):
    with pytest.raises(AccelsimError, match="request ids must be unique"):
        simulate_serving(arch, "llama2-7b", [Request(0, 0.0, 8, 2), Request(0, 0.1, 8, 2)])


def test_contexts_beyond_max_position_embeddings_are_rejected_unless_allowed(arch, tmp_path):
    """llama2-7b has 4096 positions: the last decode step of 4000 + 97 tokens needs 4096 (ok),
    4000 + 98 needs 4097 (rejected, naming the request), unless the check is off."""
    fits = [Request(0, 0.0, 4000, 97)]
    too_long = fits + [Request(1, 0.0, 4000, 98)]
    simulate_serving(arch, "llama2-7b", fits, fidelity="analytical")
    with pytest.raises(AccelsimError, match=r"1 request\(s\).*4096: id 1 \(4097\)"):
        simulate_serving(arch, "llama2-7b", too_long, fidelity="analytical")
    res = simulate_serving(arch, "llama2-7b", too_long, fidelity="analytical", check_ctx=False)
    assert len(res.requests) == 2
    # the CLI reports it as one error (exit 2) and --no-ctx-check lets it run
    from accelsim.cli import main
    csv = tmp_path / "long.csv"
    save_requests(too_long, csv)
    assert main(["run", HBM, "llama2-7b", "--requests", str(csv), "--fidelity", "analytical",
                 "--json", str(tmp_path / "o.json")]) == 2
    assert main(["run", HBM, "llama2-7b", "--requests", str(csv), "--fidelity", "analytical",
                 "--no-ctx-check", "--json", str(tmp_path / "o.json")]) == 0
