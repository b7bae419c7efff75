"""Serving simulation: iteration-level continuous batching over a request trace, on a device
or a multi-device system.

Scheduler (Orca, Yu et al. OSDI'22; vLLM, Kwon et al. SOSP'23; serving_scheduler.py), first
come first served: at each iteration start, arrived requests join while fewer than
``max_batch`` requests are running (and, if given, while the new prompts fit in
``max_prefill_tokens`` and the free KV cache). Joining requests run their whole prompt in this
iteration (making their first token), or chunks of it (``chunk_tokens``); the others decode
one token; a full KV cache preempts the latest request (vLLM recompute). The iteration is one
forward pass (``build_iteration``) simulated on the arch, and time advances by its latency.
With nothing running, time jumps to the next arrival.

Cost memoisation (the approximation, documented in docs/workloads.md): each iteration is
simulated as its *bucketed* version, and identical bucketed iterations are simulated once.

* Decoding requests with contexts c_i are taken as n requests at their mean context, rounded
  up to a multiple of ``ctx_bucket``. Decode attention FLOPs and KV-cache bytes are linear in
  c, so this is exact for both up to the rounding; per-op fixed costs are not.
* Each prompt length is rounded up to a multiple of ``prompt_bucket`` (cost only).

Metrics: throughput (generated tokens / makespan), time to first token (TTFT = first token -
arrival), time between tokens (TBT, every gap between consecutive tokens of a request) and
end-to-end latency, with p50/p90/p99 (numpy's linear-interpolation percentiles).

Bounds, so that no trace runs for hours unannounced (each is a keyword argument of
``simulate_serving``, and for ``accelsim run --requests`` an option, ``--max-iterations``,
``--max-simulated``, ``--max-tokens``, whose default is the environment variable named):

* ``MAX_ITERATIONS`` (2^22 = 4,194,304; ``max_iterations=``,
  ``ACCELSIM_SERVING_MAX_ITERATIONS``): scheduler iterations. A trace that needs more (a
  request makes one token per iteration, a batch at most ``max_batch``, chunked prefill at
  most ``chunk_tokens`` prompt tokens) is refused before anything runs; one that gets there
  anyway (preemptions) stops there.
* ``MAX_SIMULATED`` (2^15 = 32,768; ``max_simulated=``, ``ACCELSIM_SERVING_MAX_SIMULATED``):
  distinct bucketed iterations simulated, each a full simulation of a forward pass (about
  10-50 ms at op fidelity); very long contexts (``check_ctx=False``) make a new one every
  ``ctx_bucket`` tokens. A larger ``ctx_bucket``/``prompt_bucket`` shares more of them.
* ``MAX_OUTPUT_TOKENS`` (2^27 = 134,217,728; ``max_tokens=``, ``ACCELSIM_SERVING_MAX_TOKENS``):
  generated tokens of the trace (the result keeps every TBT gap: 8 bytes a token).

Each error names the bound and how to raise it. On a terminal, a run that takes longer than
``PROGRESS_AFTER_S`` shows a progress bar on stderr (tokens made, iterations, simulations).
The older half of the unit cost memos is dropped whenever they pass ``UNIT_MEMO_MIB`` (every
iteration shape adds fold arrays), so memory stays bounded; results do not change.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..pipeline import simulate
from ..config.bounds import MAX_BATCH, MAX_DIM, MAX_TOKENS
from ..errors import AccelsimError
from .llm import check_positive_int
from .requests import Request, check_requests
from .zoo import build_iteration, load_model

#: scheduler iterations of one serving simulation (module docstring)
MAX_ITERATIONS = 2 ** 22
#: distinct bucketed iterations one serving simulation simulates
MAX_SIMULATED = 2 ** 15
#: generated tokens of one serving trace
MAX_OUTPUT_TOKENS = 2 ** 27
#: seconds a serving simulation runs before its progress bar appears (on a terminal only)
PROGRESS_AFTER_S = 2.0
#: MiB of unit cost memos (fold arrays) kept across iterations; checked every
#: ``_MEMO_CHECK`` new simulations, the older half dropped when over
UNIT_MEMO_MIB = 128
_MEMO_CHECK = 32


@dataclass
class ServingResult:
    """Per-request timings and per-iteration records of one serving simulation."""

    model: str
    arch: str
    requests: list[Request]
    first_token_s: np.ndarray
    finish_s: np.ndarray
    tbt_s: np.ndarray                 # every inter-token gap of every request
    iterations: int
    simulated: int                    # distinct bucketed iterations simulated
    busy_s: float                     # time spent in iterations
    batch_sizes: np.ndarray           # requests per iteration
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def makespan_s(self) -> float:
        start = min(r.arrival_s for r in self.requests)
        return float(self.finish_s.max() - start)

    def summary(self) -> dict[str, Any]:
        """Headline numbers (JSON-ready)."""
        arrivals = np.array([r.arrival_s for r in self.requests])
        out_tokens = sum(r.output_tokens for r in self.requests)
        in_tokens = sum(r.prompt_tokens for r in self.requests)
        span = self.makespan_s
        d: dict[str, Any] = {
            "model": self.model, "arch": self.arch, "requests": len(self.requests),
            "prompt_tokens": in_tokens, "output_tokens": out_tokens, "makespan_s": span,
            "throughput_tok_s": out_tokens / span if span > 0 else math.inf,
            "total_tok_s": (in_tokens + out_tokens) / span if span > 0 else math.inf,
            "iterations": self.iterations, "simulated_iterations": self.simulated,
            "mean_batch": float(self.batch_sizes.mean()) if len(self.batch_sizes) else 0.0,
            "busy_fraction": self.busy_s / span if span > 0 else 1.0,
        }
        for key, vals in (("ttft_s", self.first_token_s - arrivals), ("tbt_s", self.tbt_s),
                          ("e2e_s", self.finish_s - arrivals)):
            ps = np.percentile(vals, (50, 90, 99)) if len(vals) else (None,) * 3  # one pass
            for p, v in zip((50, 90, 99), ps):
                d[f"{key.removesuffix('_s')}_p{p}_s"] = None if v is None else float(v)
        d["settings"] = self.settings
        return d


def simulate_serving(arch: Any, model: str, requests: Sequence[Request], *, max_batch: int = 64,
                     max_prefill_tokens: int | None = None, fidelity: str = "op",
                     ctx_bucket: int = 64, prompt_bucket: int = 16,
                     weight_bits: float | str = 16, act_dtype: str = "bf16",
                     kv_bits: float | str = 16, group_size: int | None = None,
                     moe_dist: "str | Sequence[float]" = "uniform",
                     check_ctx: bool = True, kv_capacity_tokens: "int | str | None" = None,
                     chunk_tokens: int | None = None, max_iterations: int | None = None,
                     max_simulated: int | None = None, max_tokens: int | None = None,
                     progress: Any = True) -> ServingResult:
    """Run ``requests`` through continuous batching on ``arch`` (a device, or a multi-device
    ``accelsim.system.System``; see the module docstring and serving_scheduler.py).

    ``check_ctx``: reject requests whose last decode step needs a context (prompt + output - 1
    tokens) beyond the model's ``max_position_embeddings``. ``kv_capacity_tokens``: the KV
    cache's capacity in tokens (per device), ``"auto"`` for what the device memory holds beside
    the weights, None for unlimited. ``chunk_tokens``: chunked prefill's per-iteration token
    budget (None: whole prompts). ``max_iterations``, ``max_simulated``, ``max_tokens``: the
    bounds of the module docstring (None: the environment's or the default). ``progress``:
    False for no progress bar; a rich Console to draw it there.
    """
    from .serving_scheduler import SchedulerConfig, TooManyIterations, run
    for what, v, bound in (("max_batch", max_batch, MAX_BATCH),
                           ("ctx_bucket", ctx_bucket, MAX_TOKENS),
                           ("prompt_bucket", prompt_bucket, MAX_TOKENS)):
        check_positive_int(what, v, bound)
    if max_prefill_tokens is not None and max_prefill_tokens <= 0:
        raise AccelsimError(f"max_prefill_tokens must be positive, got {max_prefill_tokens}")
    if chunk_tokens is not None:
        check_positive_int("chunk_tokens", chunk_tokens, MAX_DIM)
    if not requests:
        raise AccelsimError("the request trace is empty")
    check_requests(requests)
    cfg = load_model(model)
    if check_ctx:
        _check_contexts(cfg.name, cfg.max_pos, requests)
    quant = dict(weight_bits=weight_bits, act_dtype=act_dtype, kv_bits=kv_bits,
                 group_size=group_size, moe_dist=moe_dist)
    if kv_capacity_tokens == "auto":
        kv_capacity_tokens = kv_capacity(arch, cfg, quant)
    elif kv_capacity_tokens is not None:
        check_positive_int("kv_capacity_tokens", kv_capacity_tokens, MAX_DIM)
    limits = _Limits(max_iterations, max_simulated, max_tokens)
    limits.check_trace(requests, max_batch, chunk_tokens)
    cost: dict[tuple, float] = {}
    calls = [0]

    def iteration_s(prefill: list[int], contexts: Any) -> float:
        calls[0] += 1
        pf = tuple(sorted(_up(p, prompt_bucket) for p in prefill))
        dec = ((_up(math.ceil(contexts.total / len(contexts)), ctx_bucket), len(contexts)),) \
            if contexts else ()
        key = (pf, dec)
        if key not in cost:
            if len(cost) >= limits.simulated:
                raise limits.error("simulated", f"after {calls[0] - 1:,} iterations, the next "
                                   f"needs simulation {len(cost) + 1:,}")
            trace = build_iteration(cfg, prefill=pf, decode=dec, **quant)
            cost[key] = _latency(arch, trace, fidelity)
            if len(cost) % _MEMO_CHECK == 0:
                _trim_memos(arch)
        return cost[key]

    order = sorted(requests, key=lambda r: (r.arrival_s, r.id))
    if len({r.id for r in order}) != len(order):  # per-request state is keyed on the id
        raise AccelsimError("request ids must be unique")
    bar = _Progress(progress, sum(r.output_tokens for r in order), cost,
                    f"serving {len(order):,} requests")
    try:
        sched = run(order, SchedulerConfig(max_batch, max_prefill_tokens, kv_capacity_tokens,
                                           chunk_tokens, limits.iterations), iteration_s,
                    bar if bar.on else None)
    except TooManyIterations as e:
        raise limits.error("iterations", f"{e.made:,} of {e.total:,} tokens made when it got "
                           f"there") from None
    finally:
        bar.close()
    settings = {"max_batch": max_batch, "max_prefill_tokens": max_prefill_tokens,
                "fidelity": fidelity, "ctx_bucket": ctx_bucket, "prompt_bucket": prompt_bucket,
                "kv_capacity_tokens": kv_capacity_tokens, "chunk_tokens": chunk_tokens,
                "preemptions": sched.preemptions, "kv_peak_tokens": sched.kv_peak_tokens,
                **{k: v if isinstance(v, (int, float, str)) or v is None else list(v)
                   for k, v in quant.items()}}
    return ServingResult(model=cfg.name, arch=arch.name, requests=order,
                         first_token_s=sched.first, finish_s=sched.finish,
                         tbt_s=sched.tbt(), iterations=len(sched.batches),
                         simulated=len(cost), busy_s=sched.busy,
                         batch_sizes=np.array(sched.batches), settings=settings)


class _Limits:
    """The bounds of one serving simulation (module docstring) and their errors."""

    #: name -> (default, environment variable, keyword, what is counted)
    KNOBS = {"iterations": (MAX_ITERATIONS, "ACCELSIM_SERVING_MAX_ITERATIONS", "max_iterations",
                            "scheduler iterations"),
             "simulated": (MAX_SIMULATED, "ACCELSIM_SERVING_MAX_SIMULATED", "max_simulated",
                           "distinct simulated iterations"),
             "tokens": (MAX_OUTPUT_TOKENS, "ACCELSIM_SERVING_MAX_TOKENS", "max_tokens",
                        "generated tokens")}

    def __init__(self, iterations: int | None, simulated: int | None,
                 tokens: int | None) -> None:
        given = {"iterations": iterations, "simulated": simulated, "tokens": tokens}
        for name, (default, env, kw, _) in self.KNOBS.items():
            v = given[name]
            if v is None and os.environ.get(env, "").strip():
                text = os.environ[env].strip().replace("_", "")
                if not text.isdigit() or int(text) < 1:
                    raise AccelsimError(f"{env} must be a whole number >= 1, got "
                                        f"{os.environ[env]!r}")
                v = int(text)
            if v is not None:
                check_positive_int(kw, v)
            setattr(self, name, default if v is None else v)

    def error(self, name: str, detail: str) -> AccelsimError:
        _, env, kw, what = self.KNOBS[name]
        bound = getattr(self, name)
        flag = "--" + kw.replace("_", "-")
        return AccelsimError(f"this serving simulation needs more than {bound:,} {what} "
                             f"({detail}); that is the bound, there to keep runs to minutes: "
                             f"raise it with {flag} N on `accelsim run` (or {env}=N in its "
                             f"environment), or {kw}=N in simulate_serving, or shorten the "
                             f"trace")

    def check_trace(self, requests: Sequence[Request], max_batch: int,
                    chunk_tokens: int | None) -> None:
        """Refuse, before anything runs, a trace that must pass the bounds."""
        out = sum(r.output_tokens for r in requests)
        if out > self.tokens:
            raise self.error("tokens", f"the trace asks for {out:,}")
        longest = max(requests, key=lambda r: r.output_tokens)
        need = [(longest.output_tokens, f"request id {longest.id} makes {longest.output_tokens:,} "
                                        f"tokens, one per iteration"),
                (-(-out // max_batch), f"{out:,} tokens at most {max_batch:,} per iteration "
                                       f"(max_batch)")]
        if chunk_tokens is not None:
            prompts = sum(r.prompt_tokens for r in requests)
            need.append((-(-prompts // chunk_tokens), f"{prompts:,} prompt tokens at most "
                                                      f"{chunk_tokens:,} per iteration "
                                                      f"(chunk_tokens)"))
        n, why = max(need, key=lambda x: x[0])
        if n > self.iterations:
            raise self.error("iterations", f"at least {n:,}: {why}")


class _Progress:
    """A rich progress bar on stderr, on a terminal, once a run has taken ``PROGRESS_AFTER_S``:
    tokens made of all, iterations, simulations and ETA (fits 80 columns)."""

    def __init__(self, want: Any, total: int, cost: dict, label: str) -> None:
        from rich.console import Console
        self.console = want if isinstance(want, Console) else Console(stderr=True)
        self.on = bool(want) and self.console.is_terminal
        self.total, self.cost, self.label = total, cost, label
        self.bar: Any = None
        self.next = time.monotonic() + PROGRESS_AFTER_S

    def __call__(self, tokens: int, iterations: int) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + 0.25
        if self.bar is None:
            from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn,
                                       TimeRemainingColumn)
            self.bar = Progress(TextColumn("[bold]serving"), BarColumn(bar_width=20),
                                TaskProgressColumn(), TextColumn("{task.fields[info]}"),
                                TextColumn("ETA"), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total, info="")
        self.bar.update(self.task, completed=tokens,
                        info=f"{tokens:,}/{self.total:,} tokens, {iterations:,} it, "
                             f"{len(self.cost):,} sim")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _trim_memos(target: Any) -> None:
    """Drop the older half of the units' cost memos once they hold more than
    ``UNIT_MEMO_MIB`` (a memo only saves time: results are unchanged)."""
    device = getattr(target, "device", target) if hasattr(target, "parallelism") else target
    units = list(getattr(device, "units", {}).values())
    if sum(u.memo_bytes() for u in units) > UNIT_MEMO_MIB * 2 ** 20:
        for u in units:
            memo = getattr(u, "_cache", None)
            if isinstance(memo, dict):
                for key in list(memo)[:len(memo) // 2]:  # oldest first (insertion order)
                    del memo[key]


def _latency(target: Any, trace: Any, fidelity: str) -> float:
    """Seconds of one iteration on a device or a multi-device system."""
    if hasattr(target, "parallelism"):
        from ..system import simulate_system
        return simulate_system(target, trace, fidelity).latency_s
    return simulate(target, trace, fidelity=fidelity).latency_s


def kv_capacity(target: Any, cfg: Any, quant: dict) -> int:
    """KV-cache tokens one device (each device of a system) holds beside its weights: (main
    memory capacity - resident weights) / KV bytes per token, for the rank's shard; a system
    of dp replicas holds dp times that (each replica keeps its own requests' KV cache)."""
    from ..engine.capacity import resident_bytes
    probe = build_iteration(cfg, decode=((1024, 1),), **quant)
    device, replicas = target, 1
    if hasattr(target, "parallelism"):
        from ..system.sharding import replica_share, shard, stages
        p = target.parallelism
        probe = stages(shard(replica_share(probe, p.dp, p.tp, p.ep), p.tp, p.ep, p.dp).trace,
                       p.pp)[0]
        device, replicas = target.device, p.dp
    cap = device.memories[device.main_memory].capacity_bytes
    if cap is None:
        raise AccelsimError(f"kv_capacity 'auto' needs the main memory's capacity_gb "
                            f"({device.name} gives none)")
    res = resident_bytes(probe)
    per_token = res.get("kv_cache", 0.0) / 1024
    free = cap - res.get("weights", 0.0)
    if per_token <= 0 or free < per_token:
        raise AccelsimError(f"{device.name}: the weights ({res.get('weights', 0) / 1e9:.1f} GB) "
                            f"leave no room for a KV cache in {cap / 1e9:.1f} GB")
    return int(free // per_token) * replicas


def _check_contexts(model: str, max_pos: int, requests: Sequence[Request]) -> None:
    """One error listing the requests whose longest context exceeds ``max_pos``."""
    long = [(r.id, r.prompt_tokens + r.output_tokens - 1) for r in requests
            if r.prompt_tokens + r.output_tokens - 1 > max_pos]
    if long:
        shown = ", ".join(f"id {i} ({c})" for i, c in long[:5])
        more = f" and {len(long) - 5} more" if len(long) > 5 else ""
        raise AccelsimError(
            f"{len(long)} request(s) need a context (prompt + output - 1 tokens) beyond "
            f"{model}'s max_position_embeddings {max_pos}: {shown}{more}; shorten them or "
            f"allow it with --no-ctx-check (check_ctx=False)")


def _up(x: int, step: int) -> int:
    """``x`` rounded up to a multiple of ``step``."""
    return -(-x // step) * step
