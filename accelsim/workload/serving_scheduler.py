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

Cost: every decoding request makes a token each iteration, so it is kept as an offset (its
tokens = offset + iteration number) and touched only when it joins, is preempted or finishes;
an iteration costs time in the requests that join, prefill or leave, not in the batch. Every
decoding request's last token is the previous iteration's end, so an iteration's decode gaps
are one value, stored once with its count (``Schedule.tbt`` expands them in order). The
results are the same, bit for bit, as touching every request every iteration.
"""
from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
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
    max_iterations: int | None = None     # TooManyIterations beyond this many


class TooManyIterations(AccelsimError):
    """The schedule ran past ``SchedulerConfig.max_iterations``."""

    def __init__(self, limit: int, made: int, total: int) -> None:
        super().__init__(f"more than {limit:,} iterations ({made:,} of {total:,} tokens made)")
        self.limit, self.made, self.total = limit, made, total


@dataclass
class Schedule:
    """What happened: per-request first-token and finish times, every inter-token gap (as
    runs of equal gaps: ``gap_values[j]`` repeated ``gap_counts[j]`` times), per-iteration
    batch sizes."""

    first: np.ndarray
    finish: np.ndarray
    gap_values: np.ndarray
    gap_counts: np.ndarray
    batches: list[int]
    busy: float
    preemptions: int = 0
    kv_peak_tokens: int = 0
    notes: list[str] = field(default_factory=list)

    def tbt(self) -> np.ndarray:
        """Every inter-token gap of every request, in the order they happened."""
        return np.repeat(self.gap_values, self.gap_counts)

    @property
    def gaps(self) -> list[float]:
        return self.tbt().tolist()


class Contexts(Sequence):
    """The decode contexts of one iteration (prompt + tokens made, per decoding request, in
    the order they joined), with their sum as ``total``; items are made only when asked."""

    def __init__(self, base: dict[int, int], prompt: list[int], k: int, total: int) -> None:
        self._base, self._prompt, self._k, self.total = base, prompt, k, total

    def __len__(self) -> int:
        return len(self._base)

    def __iter__(self) -> Iterator[int]:
        k, prompt = self._k, self._prompt
        return iter([prompt[i] + off + k for i, off in self._base.items()])

    def __getitem__(self, j):  # type: ignore[override]
        return list(self)[j]


def run(order: Sequence[Request], cfg: SchedulerConfig,
        iteration_s: Callable[[list[int], Sequence[int]], float],
        progress: Callable[[int, int], None] | None = None) -> Schedule:
    """Serve ``order`` (sorted by arrival) under ``cfg`` (module docstring).

    ``iteration_s(prefill lengths, decode contexts)`` gives an iteration's seconds (the
    contexts are a ``Contexts``: their sum is ``.total``). ``progress(tokens made,
    iterations)``, if given, is called after every iteration."""
    n = len(order)
    cap = cfg.kv_capacity_tokens
    if cap is not None:
        too_big = [r.id for r in order if r.prompt_tokens + r.output_tokens > cap]
        if too_big:
            raise AccelsimError(f"{len(too_big)} request(s) need more KV cache (prompt + output "
                                f"tokens) than the capacity of {cap:,} tokens, e.g. id "
                                f"{too_big[0]}; they could never finish")
    arrival = [r.arrival_s for r in order]
    prompt = [int(r.prompt_tokens) for r in order]
    output = [int(r.output_tokens) for r in order]
    total_out = sum(output)
    first, finish = np.full(n, np.nan), np.full(n, np.nan)
    last = [0.0] * n                 # time of each request's last token (not decoding ones)
    made = [0] * n                   # tokens made (not decoding ones: see ``decoding``)
    todo = prompt[:]                 # prompt to (re)prefill
    done = [0] * n                   # of it, prefilled
    kv = [0] * n                     # KV tokens held (not decoding ones: prompt + made)
    waiting = deque(range(n))
    prefilling: list[int] = []
    # decoding request -> offset: before iteration k it has made offset + k tokens
    decoding: dict[int, int] = {}
    dsum = 0                         # sum over decoding of prompt + offset
    ends: dict[int, list[int]] = {}  # iteration -> decoding requests that finish in it
    gap_values, gap_counts = array("d"), array("q")
    batches: list[int] = []
    now = busy = 0.0
    preemptions = peak = used = tokens = 0
    limit = cfg.max_iterations

    while waiting or prefilling or decoding:
        if not decoding and not prefilling and waiting and arrival[waiting[0]] > now:
            now = arrival[waiting[0]]
        k = len(batches)             # this iteration's number
        budget, joined = 0, False
        while (waiting and arrival[waiting[0]] <= now
               and len(decoding) + len(prefilling) < cfg.max_batch):
            i = waiting[0]
            if cap is not None and used + todo[i] + 1 > cap:
                break
            if (cfg.chunk_tokens is None and cfg.max_prefill_tokens is not None and joined
                    and budget + todo[i] > cfg.max_prefill_tokens):
                break
            waiting.popleft()
            prefilling.append(i)
            kv[i] = todo[i]
            used += todo[i]
            budget += todo[i]
            joined = True
        # this iteration's prefill work
        chunks: dict[int, int] = {}
        if cfg.chunk_tokens is None:
            chunks = {i: todo[i] - done[i] for i in prefilling}
        else:
            room = max(0, cfg.chunk_tokens - len(decoding))
            for i in prefilling:
                take = min(todo[i] - done[i], room)
                if take > 0:
                    chunks[i] = take
                    room -= take

        def makers() -> int:       # requests that add a token to the KV cache this iteration
            return len(decoding) + sum(1 for i, c in chunks.items() if done[i] + c == todo[i])

        while cap is not None and used + makers() > cap and (decoding or prefilling):
            victim = max([*decoding, *prefilling], key=lambda j: (arrival[j], j))  # last admitted
            if victim in decoding:
                off = decoding.pop(victim)
                dsum -= prompt[victim] + off
                made[victim] = off + k
                kv[victim] = prompt[victim] + made[victim]
                last[victim] = now       # its last token: the previous iteration's end
            else:
                prefilling.remove(victim)
            chunks.pop(victim, None)
            used -= kv[victim]
            kv[victim] = 0
            todo[victim] = prompt[victim] + made[victim]     # recompute
            done[victim] = 0
            waiting.appendleft(victim)
            preemptions += 1
        if not decoding and not prefilling:
            continue
        if limit is not None and k >= limit:
            raise TooManyIterations(limit, tokens, total_out)
        n_dec = len(decoding)
        before = now
        dt = iteration_s(list(chunks.values()),
                         Contexts(decoding, prompt, k, dsum + k * n_dec))
        now += dt
        busy += dt
        batches.append(n_dec + len(chunks))
        if n_dec:                         # each decoding request's gap: now - its last token
            gap_values.append(now - before)
            gap_counts.append(n_dec)
            used += n_dec
        tokens += n_dec
        finished: list[int] = []
        completed = []
        for i, c in chunks.items():
            done[i] += c
            if done[i] == todo[i]:            # the prompt is in: it makes a token
                completed.append(i)
                if math.isnan(first[i]):
                    first[i] = now
                else:                         # re-prefilled after a preemption
                    gap_values.append(now - last[i])
                    gap_counts.append(1)
                last[i] = now
                made[i] += 1
                kv[i] += 1
                used += 1
                tokens += 1
                if made[i] >= output[i]:
                    finished.append(i)
                else:                         # decodes from the next iteration on
                    off = decoding[i] = made[i] - (k + 1)
                    dsum += prompt[i] + off
                    ends.setdefault(output[i] - made[i] + k, []).append(i)
        if completed:
            if len(completed) == len(prefilling):
                prefilling = []
            else:
                gone = set(completed)
                prefilling = [i for i in prefilling if i not in gone]
        peak = max(peak, used)
        for i in ends.pop(k, ()):
            off = decoding.get(i)
            if off is None or output[i] - off - 1 != k:
                continue                      # preempted since (a stale entry)
            del decoding[i]
            dsum -= prompt[i] + off
            finish[i] = now
            used -= prompt[i] + off + k + 1
        for i in finished:
            finish[i] = now
            used -= kv[i]
            kv[i] = 0
        if progress is not None:
            progress(tokens, k + 1)
    return Schedule(first, finish, np.frombuffer(gap_values, dtype=np.float64),
                    np.frombuffer(gap_counts, dtype=np.int64), batches, busy, preemptions, peak)
