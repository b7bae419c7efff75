"""The continuous-batching scheduler of ``simulate_serving``: admission, KV-cache capacity with
preemption, and chunked prefill, one iteration at a time.

Per iteration (first come first served; Orca / vLLM):
1. Admission: arrived requests join while fewer than ``max_batch`` are admitted, while their
   prompt (plus the token it makes) fits the free KV cache (``kv_capacity_tokens``; vLLM
   allocates a prompt's blocks when it is scheduled), and, without chunking, while the joining
   prompts fit ``max_prefill_tokens``.
2. Preemption (vLLM's recompute mode, its default): when the tokens this iteration adds to
   the KV cache (one per request that makes a token) do not fit, the most recently admitted
   request is preempted, its KV freed, and it goes back to the front of the queue; when it is
   admitted again it re-prefills its prompt and the tokens it had made.
3. Work: every decoding request makes one token; prefilling requests run their prompt, whole
   (no chunking), or in chunks (``chunk_tokens``, Sarathi-Serve / vLLM chunked prefill: the
   iteration's token budget, decodes first, then prefill chunks in arrival order). A request
   makes its first token in the iteration its last chunk runs. A chunk is costed as a prefill
   of its own length (its attention to the earlier chunks' KV is not added: an
   approximation, in docs/workloads.md).
4. The iteration takes ``iteration_s(prefill lengths, decode contexts)``; then finished
   requests leave and free their KV.
With neither capacity nor chunking this is exactly the scheduler it replaces.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import AccelsimError
from .requests import Request


@dataclass(frozen=True)
class SchedulerConfig:
    max_batch: int = 64
    max_prefill_tokens: int | None = None
    kv_capacity_tokens: int | None = None
    chunk_tokens: int | None = None


@dataclass
class Schedule:
    """What happened: per-request first-token and finish times, every inter-token gap."""

    first: np.ndarray
    finish: np.ndarray
    gaps: list[float]
    batches: list[int]
    busy: float
    preemptions: int = 0
    kv_peak_tokens: int = 0
    notes: list[str] = field(default_factory=list)


def run(order: Sequence[Request], cfg: SchedulerConfig,
        iteration_s: Callable[[list[int], list[int]], float]) -> Schedule:
    """Serve ``order`` (sorted by arrival) under ``cfg`` (module docstring)."""
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
    return Schedule(first, finish, gaps, batches, busy, preemptions, peak)
