"""Serving at scale: the scheduler's results are bit-identical to the plain one it replaced,
10^5 requests cost seconds and megabytes, bounds on iterations, simulations and tokens refuse
runaway traces with one error naming how to raise them, a progress bar on a terminal."""
from __future__ import annotations

import io
import math
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from rich.console import Console

import accelsim
import accelsim.workload.serving as serving
from accelsim.cli import main
from accelsim.errors import AccelsimError
from accelsim.workload.requests import Request, save_requests, synth_requests
from accelsim.workload.serving import simulate_serving
from accelsim.workload.serving_scheduler import SchedulerConfig, run

from conftest import ROOT

HBM = ROOT / "configs" / "sa128_bf16_hbm.yaml"


def reference_run(order: Sequence[Request], cfg: SchedulerConfig,
        iteration_s: Callable[[list[int], list[int]], float]) -> Schedule:
    """The scheduler as it was before it kept decoding requests as offsets (verbatim)."""
    n = len(order)
    cap = cfg.kv_capacity_tokens
    if cap is not None:
        too_big = [r.id for r in order if r.prompt_tokens + r.output_tokens > cap]
        if too_big:
            raise AccelsimError(f"{len(too_big)} request(s) need more KV cache (prompt + output "
                                f"tokens) than the capacity of {cap:,} tokens, e.g. id "
                                f"{too_big[0]}; they could never finish")
    first, finish = np.full(n, np.nan), np.full(n, np.nan)
    last = np.zeros(n)
    made = np.zeros(n, dtype=np.int64)
    todo = np.array([r.prompt_tokens for r in order], dtype=np.int64)   # prompt to (re)prefill
    done = np.zeros(n, dtype=np.int64)                                  # of it, prefilled
    kv = np.zeros(n, dtype=np.int64)
    waiting = deque(range(n))
    prefilling: list[int] = []
    decoding: list[int] = []
    gaps: list[float] = []
    batches: list[int] = []
    now = busy = 0.0
    preemptions = peak = 0

    def admitted() -> list[int]:
        return decoding + prefilling

    while waiting or prefilling or decoding:
        if not admitted() and waiting and order[waiting[0]].arrival_s > now:
            now = order[waiting[0]].arrival_s
        used = int(kv.sum())
        budget, joined = 0, False
        while (waiting and order[waiting[0]].arrival_s <= now
               and len(admitted()) < cfg.max_batch):
            i = waiting[0]
            if cap is not None and used + todo[i] + 1 > cap:
                break
            if (cfg.chunk_tokens is None and cfg.max_prefill_tokens is not None and joined
                    and budget + todo[i] > cfg.max_prefill_tokens):
                break
            waiting.popleft()
            prefilling.append(i)
            kv[i] = todo[i]
            used += int(todo[i])
            budget += int(todo[i])
            joined = True
        # this iteration's prefill work
        chunks: dict[int, int] = {}
        if cfg.chunk_tokens is None:
            chunks = {i: int(todo[i] - done[i]) for i in prefilling}
        else:
            room = max(0, cfg.chunk_tokens - len(decoding))
            for i in prefilling:
                take = int(min(todo[i] - done[i], room))
                if take > 0:
                    chunks[i] = take
                    room -= take
        def makers() -> int:       # requests that add a token to the KV cache this iteration
            return len(decoding) + sum(1 for i, c in chunks.items() if done[i] + c == todo[i])

        while cap is not None and used + makers() > cap and admitted():
            victim = max(admitted(), key=lambda j: (order[j].arrival_s, j))   # last admitted
            (decoding if victim in decoding else prefilling).remove(victim)
            chunks.pop(victim, None)
            used -= int(kv[victim])
            kv[victim] = 0
            todo[victim] = order[victim].prompt_tokens + made[victim]     # recompute
            done[victim] = 0
            waiting.appendleft(victim)
            preemptions += 1
        if not admitted():
            continue
        contexts = [order[i].prompt_tokens + int(made[i]) for i in decoding]
        dt = iteration_s(list(chunks.values()), contexts)
        now += dt
        busy += dt
        batches.append(len(decoding) + len(chunks))
        for i in decoding:
            gaps.append(now - last[i])
            last[i] = now
            made[i] += 1
            kv[i] += 1
        for i, c in chunks.items():
            done[i] += c
            if done[i] == todo[i]:            # the prompt is in: it makes a token
                prefilling.remove(i)
                decoding.append(i)
                if math.isnan(first[i]):
                    first[i] = now
                else:                         # re-prefilled after a preemption
                    gaps.append(now - last[i])
                last[i] = now
                made[i] += 1
                kv[i] += 1
        peak = max(peak, int(kv.sum()))
        still = []
        for i in decoding:
            if made[i] >= order[i].output_tokens:
                finish[i] = now
                kv[i] = 0
            else:
                still.append(i)
        decoding = still
    return first, finish, gaps, batches, busy, preemptions, peak

def fake_cost(seen: list) -> Callable:
    """A deterministic iteration time of (prefill lengths, contexts), recording what it saw."""
    def it(pf, ctx):
        ctx = list(ctx)
        seen.append((list(pf), ctx))
        return 1e-3 + 3.1e-7 * sum(pf) + 1.7e-9 * sum(ctx) + 1e-5 * math.sqrt(len(ctx))
    return it


def random_trace(seed: int, n: int) -> list[Request]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(0.004, n)) * (rng.random() < 0.7)
    return [Request(i, float(t[i]), int(rng.integers(1, 300)), int(rng.integers(1, 120)))
            for i in range(n)]


CONFIGS = [SchedulerConfig(), SchedulerConfig(max_batch=8),
           SchedulerConfig(max_batch=16, max_prefill_tokens=400),
           SchedulerConfig(max_batch=32, kv_capacity_tokens=3000),
           SchedulerConfig(max_batch=32, chunk_tokens=128),
           SchedulerConfig(max_batch=24, kv_capacity_tokens=2500, chunk_tokens=96),
           SchedulerConfig(max_batch=64, kv_capacity_tokens=800, max_prefill_tokens=300)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"b{c.max_batch}-p{c.max_prefill_tokens}"
                         f"-kv{c.kv_capacity_tokens}-c{c.chunk_tokens}")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_scheduler_is_bit_identical_to_the_plain_one(cfg, seed):
    order = sorted(random_trace(seed, 150), key=lambda r: (r.arrival_s, r.id))
    a_seen, b_seen = [], []
    first, finish, gaps, batches, busy, preemptions, peak = reference_run(order, cfg,
                                                                          fake_cost(a_seen))
    s = run(order, cfg, fake_cost(b_seen))
    assert b_seen == a_seen  # every iteration's prefill lengths and contexts, in order
    assert s.first.tobytes() == first.tobytes() and s.finish.tobytes() == finish.tobytes()
    assert s.tbt().tobytes() == np.array(gaps).tobytes() and s.gaps == gaps
    assert s.batches == batches and s.busy == busy
    assert (s.preemptions, s.kv_peak_tokens) == (preemptions, peak)
    if cfg.kv_capacity_tokens and cfg.kv_capacity_tokens < 3000:
        assert preemptions > 0  # the capacity cases do exercise preemption


def test_a_hundred_thousand_requests_cost_seconds_and_megabytes():
    # the scheduler alone (iterations at a fixed cost): 10^5 ShareGPT requests, 3.4 x 10^7
    # tokens, 5 x 10^5 iterations in about 2 s (it was ~100 s and 2 GB with the simulation)
    reqs = synth_requests(100_000, "sharegpt", seed=0)
    t0 = time.perf_counter()
    s = run(reqs, SchedulerConfig(max_batch=64), lambda pf, ctx: 1e-3)
    assert time.perf_counter() - t0 < 20
    assert len(s.gap_values) < 2 * len(s.batches)  # one run of equal gaps per iteration
    assert s.gap_counts.sum() == sum(r.output_tokens for r in reqs) - len(reqs)
    # memory: per-request state and per-iteration records, no object per token
    reqs = synth_requests(4_000, "sharegpt", seed=0)  # (tracemalloc makes Python ~10x slower)
    tracemalloc.start()
    s = run(reqs, SchedulerConfig(max_batch=64), lambda pf, ctx: 1e-3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tokens = sum(r.output_tokens for r in reqs)
    assert peak < 4 * tokens, (peak, tokens)  # it was over 40 bytes a token
    assert len(s.tbt()) == tokens - len(reqs)


def test_serving_results_do_not_change_when_unit_memos_are_trimmed(monkeypatch):
    reqs = synth_requests(40, "sharegpt", rate=30.0, seed=3)
    kw = dict(max_batch=8, fidelity="analytical")
    plain = simulate_serving(accelsim.load_arch(HBM), "llama2-7b", reqs, **kw)
    monkeypatch.setattr(serving, "UNIT_MEMO_MIB", 0)
    monkeypatch.setattr(serving, "_MEMO_CHECK", 1)
    arch = accelsim.load_arch(HBM)
    trimmed = simulate_serving(arch, "llama2-7b", reqs, **kw)
    assert trimmed.summary() == plain.summary()
    assert trimmed.tbt_s.tobytes() == plain.tbt_s.tobytes()
    assert sum(len(u._cache) for u in arch.units.values()) < plain.simulated * 2


# ---------------------------------------------------------------------------- bounds

@pytest.fixture(scope="module")
def arch():
    return accelsim.load_arch(HBM)


def test_a_trace_that_needs_too_many_iterations_is_refused_at_once(arch):
    t0 = time.perf_counter()
    with pytest.raises(AccelsimError) as e:
        simulate_serving(arch, "llama2-7b", [Request(0, 0.0, 16, 10 ** 7)], check_ctx=False)
    msg = str(e.value)
    assert "more than 4,194,304 scheduler iterations" in msg
    assert "request id 0 makes 10,000,000 tokens, one per iteration" in msg
    assert "ACCELSIM_SERVING_MAX_ITERATIONS=N" in msg and "max_iterations=N" in msg
    assert time.perf_counter() - t0 < 2
    many = [Request(i, 0.0, 16, 100) for i in range(50_000)]
    with pytest.raises(AccelsimError, match=r"5,000,000 tokens at most 1 per iteration "
                                            r"\(max_batch\)"):
        simulate_serving(arch, "llama2-7b", many, max_batch=1, max_iterations=10 ** 6)
    with pytest.raises(AccelsimError, match=r"prompt tokens at most 2 per iteration "
                                            r"\(chunk_tokens\)"):
        simulate_serving(arch, "llama2-7b", [Request(0, 0.0, 100, 2)], chunk_tokens=2,
                         max_iterations=20)


def test_too_many_tokens_are_refused_at_once(arch):
    reqs = [Request(i, 0.0, 16, 2 ** 24) for i in range(9)]
    with pytest.raises(AccelsimError, match=r"more than 134,217,728 generated tokens \(the "
                                            r"trace asks for 150,994,944\).*"
                                            r"ACCELSIM_SERVING_MAX_TOKENS=N.*max_tokens=N"):
        simulate_serving(arch, "llama2-7b", reqs, check_ctx=False)


def test_the_iteration_bound_also_stops_a_run_that_gets_there(arch, monkeypatch):
    # two requests far apart: at least 2 iterations by the trace, 4 in fact
    reqs = [Request(0, 0.0, 8, 2), Request(1, 100.0, 8, 2)]
    assert simulate_serving(arch, "llama2-7b", reqs, max_iterations=4).iterations == 4
    with pytest.raises(AccelsimError, match=r"more than 3 scheduler iterations \(3 of 4 "
                                            r"tokens made when"):
        simulate_serving(arch, "llama2-7b", reqs, max_iterations=3)
    monkeypatch.setenv("ACCELSIM_SERVING_MAX_ITERATIONS", "3")
    with pytest.raises(AccelsimError, match="more than 3 scheduler iterations"):
        simulate_serving(arch, "llama2-7b", reqs)
    assert simulate_serving(arch, "llama2-7b", reqs, max_iterations=4).iterations == 4
    monkeypatch.setenv("ACCELSIM_SERVING_MAX_ITERATIONS", "many")
    with pytest.raises(AccelsimError, match="ACCELSIM_SERVING_MAX_ITERATIONS must be a whole"):
        simulate_serving(arch, "llama2-7b", reqs)
    with pytest.raises(AccelsimError, match="max_iterations must be a positive"):
        simulate_serving(arch, "llama2-7b", reqs, max_iterations=0)


def test_the_simulation_bound(arch, monkeypatch):
    reqs = [Request(0, 0.0, 8, 3)]  # a prefill, then decodes: two distinct iterations
    assert simulate_serving(arch, "llama2-7b", reqs, max_simulated=2).simulated == 2
    with pytest.raises(AccelsimError, match=r"more than 1 distinct simulated iterations "
                                            r"\(after 1 iterations, the next needs simulation "
                                            r"2\).*ACCELSIM_SERVING_MAX_SIMULATED=N.*"
                                            r"max_simulated=N"):
        simulate_serving(arch, "llama2-7b", reqs, max_simulated=1)
    monkeypatch.setenv("ACCELSIM_SERVING_MAX_SIMULATED", "1")
    with pytest.raises(AccelsimError, match="more than 1 distinct simulated"):
        simulate_serving(arch, "llama2-7b", reqs)


def test_cli_refuses_a_runaway_trace_in_one_line(tmp_path, capsys, monkeypatch):
    csv = tmp_path / "long.csv"
    save_requests([Request(0, 0.0, 16, 4), Request(1, 0.0, 16, 10 ** 7)], csv)
    t0 = time.perf_counter()
    assert main(["run", str(HBM), "llama2-7b", "--requests", str(csv), "--no-ctx-check"]) == 2
    err = capsys.readouterr().err
    assert "more than 4,194,304 scheduler iterations" in err and "Traceback" not in err
    assert "ACCELSIM_SERVING_MAX_ITERATIONS" in err and time.perf_counter() - t0 < 5
    monkeypatch.setenv("ACCELSIM_SERVING_MAX_SIMULATED", "1")
    save_requests([Request(0, 0.0, 16, 4)], csv)
    assert main(["run", str(HBM), "llama2-7b", "--requests", str(csv)]) == 2
    assert "ACCELSIM_SERVING_MAX_SIMULATED" in capsys.readouterr().err


# ---------------------------------------------------------------------------- progress

def test_a_progress_bar_on_a_terminal_once_a_run_is_slow(arch, monkeypatch):
    reqs = synth_requests(30, "alpaca", rate=50.0, seed=1)
    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=140)
    monkeypatch.setattr(serving, "PROGRESS_AFTER_S", 0.0)
    res = simulate_serving(arch, "llama2-7b", reqs, max_batch=4, progress=term)
    out = buf.getvalue()
    assert "serving" in out and "tokens" in out and " sim" in out and " it" in out
    # the same run without a bar gives the same numbers
    assert simulate_serving(arch, "llama2-7b", reqs, max_batch=4, progress=False).summary() \
        == res.summary()


def test_no_progress_bar_off_a_terminal_or_on_a_quick_run(arch, monkeypatch, capsys):
    reqs = synth_requests(10, "alpaca", seed=1)
    simulate_serving(arch, "llama2-7b", reqs)      # stderr is not a terminal here
    buf = io.StringIO()
    simulate_serving(arch, "llama2-7b", reqs, progress=Console(file=buf, force_terminal=True))
    assert buf.getvalue() == "" and capsys.readouterr().err == ""  # quicker than 2 s
    monkeypatch.setattr(serving, "PROGRESS_AFTER_S", 0.0)
    simulate_serving(arch, "llama2-7b", reqs, progress=False)
    assert capsys.readouterr().err == ""
