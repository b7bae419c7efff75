"""Duplex (Yun et al., MICRO'24) under continuous batching: the throughput grid (Fig
throughput_graph), the GLaM batch-64 latencies (Fig eval_latency_bar) and the maximum sustained
QPS (Fig eval_qps), for the GPU system, 2xGPU, Duplex, Duplex+PE and Duplex+PE+ET
(configs/duplex/systems/; the devices dispatch with ``duplex_stage``).

**Steady-state window.** The paper serves (L_in, L_out) = (L, L) requests with Gaussian lengths
under continuous batching at a batch of B slots (Sec 6). Once the batch is full and the
Gaussian spread has de-synchronised the requests, a window of one request lifetime (L_out
iterations) has the same composition every time:

* B requests finish and B join; a joining request's prompt runs in a mixed iteration with the
  others' decode steps. The window takes joins in pairs (B / 2 mixed iterations, each 2 prompts
  of L_in tokens + B - 2 decoding sequences), so that the two data-parallel replicas (nodes) of
  the 2 x 8 systems split every iteration evenly (the 4 x 8 2xGPU system's four replicas take
  ceil shares, sharding.py ``split_tokens``);
* the other L_out - B / 2 iterations are decode-only with B decoding sequences;
* the decoding sequences' contexts are spread evenly over [L_in, L_in + L_out]: their mean is
  L_in + L_out / 2, and decode attention's FLOPs and KV bytes are linear in the context, so the
  mean is exact for them (the serving simulator's own bucketing rule, docs/workloads.md).

Window time T = (B / 2) t_mixed + (L_out - B / 2) t_decode, each t one simulated iteration of
the system at op fidelity (two simulations per design point); throughput = B L_out / T tokens/s;
the window's time-between-tokens are t_decode (L_out - B / 2 of the L_out gaps) and t_mixed,
so its median TBT is t_decode; a request's end-to-end latency without queueing is T plus its
own prefill, taken as T. ``check_window`` compares it with a full ``simulate_serving`` run
(ramp-up and drain included) on small Mixtral points (tests/test_duplex.py,
benchmarks/bench_duplex.py).

**2xGPU** doubles the GPU system's devices, "up to 8 per node, then more nodes" [P Sec 6]:
Mixtral on 8 devices of one node (gpu_8x), GLaM on 2 x 8 (gpu_2x8_dp2) and Grok1 on 4 x 8
(gpu_4x8), both as the paper's GPU system distributes a model [P Sec 3]: tensor parallel in a
node, data parallel across nodes, the experts spread over every device.

**Energy** (Fig energy_breakdown, DX-15/16): each simulated iteration's per-op dynamic energy
(``per_op.energy_j``, all devices: dp x tp ranks x microbatches x each pipeline stage), split by op into
FC / Attention / MoE (``op_part``) and, by ``per_op.energy_dram_j``, into DRAM (the memories'
per-path bit and activation energy and Logic-PIM's bank-bundle reads) and Comp (the MACs at the
paper's 0.46 pJ, 0.23 pJ per FLOP; Logic-PIM's buffers and softmax ALUs, <0.1%, fall here too); the
window's energy is (B / 2) E_mixed + (L_out - B / 2) E_decode, as its time. The paper's model has
no static power: leakage (Logic-PIM's, 0.4% of an iteration) is left out on both sides.

**Latency bars** (Fig eval_latency_bar): the window's L_out time-between-tokens are t_decode
(L_out - B / 2 of them) and t_mixed (B / 2), so its TBT percentiles are nearest-rank quantiles
of that two-valued population (``Window.tbt_quantile_s``); a joining request's prompt runs in
one mixed iteration, so its TTFT without queueing is t_mixed; E2E is the window time T.

**Maximum sustained QPS** (Mixtral (4096, 512), max batch 128, Poisson arrivals): a Poisson
stream of rate lambda is sustained while lambda is below the saturated batch's completion rate,
B / T requests/s (above it the queue grows without bound); that capacity is the row.
``check_qps`` runs Poisson arrivals at a multiple of it through ``simulate_serving`` and reports
the median TTFT of the trace's first and second half (flat below capacity, growing above;
benchmarks/bench_duplex.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import AccelsimError
from . import CLAIMS_DIR

CONFIGS = CLAIMS_DIR.parents[1] / "configs" / "duplex" / "systems"
#: the paper's names -> zoo models, lengths L of Fig throughput_graph (L_in = L_out = L)
GRID = {"Mixtral": ("mixtral-8x7b", (256, 1024, 4096)),
        "GLaM": ("glam-143b", (512, 1024, 2048)),
        "Grok1": ("grok-1", (256, 1024, 4096))}
BATCHES = (32, 64, 128)
#: design -> model -> system file (configs/duplex/systems/); Sec 6's device counts
DESIGNS: dict[str, dict[str, str]] = {
    "GPU": {"Mixtral": "gpu_4x", "GLaM": "gpu_8x", "Grok1": "gpu_2x8"},
    "2xGPU": {"Mixtral": "gpu_8x", "GLaM": "gpu_2x8_dp2", "Grok1": "gpu_4x8"},
    "Duplex": {"Mixtral": "duplex_4x", "GLaM": "duplex_8x", "Grok1": "duplex_2x8"},
    "Duplex+PE": {"Mixtral": "duplex_pe_4x", "GLaM": "duplex_pe_8x", "Grok1": "duplex_pe_2x8"},
    "Duplex+PE+ET": {"Mixtral": "duplex_pe_et_4x", "GLaM": "duplex_pe_et_8x",
                     "Grok1": "duplex_pe_et_2x8"},
}
#: Fig eval_qps: Mixtral (L_in, L_out) = (4096, 512), max batch 128
QPS_POINT = ("Mixtral", 4096, 512, 128)
#: the xPU every system's devices use (``-o device.<key>=...`` overrides of their YAML, which
#: extends configs/duplex/xpu.yaml): "paper", the authors' analytical xPU (the GPU unit's
#: ``timing: roofline`` and the softmax FLOPs' energy, exactly configs/duplex/xpu_paper.yaml's
#: difference from xpu.yaml: tests/test_duplex.py checks it), the reproduction's main rows;
#: "calibrated", the H200-calibrated kernel models of xpu.yaml, its sensitivity rows
XPUS: dict[str, tuple[str, ...]] = {
    "paper": ("device.units.gpu.timing=roofline",
              "device.units.gpu.energy.vector_flops=softmax"),
    "calibrated": (),
}


#: the energy figure's op groups and energy kinds [P Fig energy_breakdown]
PARTS = ("FC", "Attention", "MoE")
KINDS = ("DRAM", "Comp")


def op_part(op: str) -> str:
    """The energy figure's group of a per-op row: Attention (attention and its parts, the KV
    cache write), MoE (router, experts, the dispatch / combine) or FC (projections, dense FFN,
    embedding and LM head, norms, residuals and RoPE)."""
    if op.startswith("attn") or op == "kv_write":
        return "Attention"
    if op.startswith(("router", "expert")) or "moe_" in op:
        return "MoE"
    return "FC"


@dataclass(frozen=True)
class Iteration:
    """One simulated iteration of a system: its latency and its dynamic energy (J, all
    devices) by (part, kind), ``PARTS`` x ``KINDS``."""

    latency_s: float
    energy_j: dict


@dataclass(frozen=True)
class Window:
    """One steady-state window (module docstring) of ``batch`` slots."""

    batch: int
    l_in: int
    l_out: int
    t_decode_s: float
    t_mixed_s: float
    #: dynamic energy (J, all devices) of one decode-only / one mixed iteration by (part, kind)
    e_decode: dict = field(default_factory=dict, compare=False)
    e_mixed: dict = field(default_factory=dict, compare=False)

    @property
    def mixed(self) -> int:
        """Mixed iterations in the window (joins in pairs)."""
        return min(self.l_out, self.batch // 2)

    @property
    def time_s(self) -> float:
        return self.mixed * self.t_mixed_s + (self.l_out - self.mixed) * self.t_decode_s

    @property
    def throughput_tok_s(self) -> float:
        return self.batch * self.l_out / self.time_s

    @property
    def requests_s(self) -> float:
        return self.batch / self.time_s

    @property
    def tbt_p50_s(self) -> float:
        return self.t_decode_s if self.mixed * 2 < self.l_out else self.t_mixed_s

    def tbt_quantile_s(self, q: float) -> float:
        """Nearest-rank ``q`` quantile of the window's L_out gaps (``mixed`` of t_mixed, the
        rest t_decode)."""
        gaps = sorted([(self.t_decode_s, self.l_out - self.mixed), (self.t_mixed_s, self.mixed)])
        rank, seen = max(1, math.ceil(q * self.l_out)), 0
        for t, n in gaps:
            seen += n
            if seen >= rank:
                return t
        return gaps[-1][0]

    @property
    def ttft_s(self) -> float:
        """A joining request's time to first token without queueing: its mixed iteration."""
        return self.t_mixed_s

    @property
    def energy_j(self) -> dict:
        """The window's dynamic energy (J, all devices) by (part, kind)."""
        n_dec = self.l_out - self.mixed
        return {k: self.mixed * self.e_mixed[k] + n_dec * self.e_decode[k]
                for k in self.e_decode}

    @property
    def energy_per_token_j(self) -> float:
        return sum(self.energy_j.values()) / (self.batch * self.l_out)


def xpu_overrides(xpu: str) -> tuple[str, ...]:
    """The system overrides that give every device the xPU ``xpu`` (a key of ``XPUS``)."""
    if xpu not in XPUS:
        raise AccelsimError(f"unknown Duplex xPU {xpu!r}; known: {', '.join(XPUS)}")
    return XPUS[xpu]


#: the PIM as the authors' released simulator times it (release 4192527, use_ramulator: off):
#: the devices' Logic-PIM / BankGroup-PIM / Bank-PIM unit ``lpim`` at ``bundle_timing: ideal``,
#: 4x (Bank-PIM 16x) the memory's 3,352 GB/s with no activation, turnaround or refresh
#: (accelsim/arch/units/logic_pim.py ``ideal_gb_s``, docs/duplex.md "Bank bundles")
IDEAL_PIM = ("device.units.lpim.bundle_timing=ideal",)
#: the unit types a setup's PIM overrides apply to
PIM_TYPES = frozenset({"logic_pim", "bankgroup_pim", "bank_pim"})
#: the reproduction's setups: name -> (the xPU, a key of ``XPUS``; the overrides of the PIM unit
#: where a system has one). "paper", the main rows: the authors' analytical xPU, and the PIM's
#: bundle reads on our bank-level DRAM (bank_bundle.py: all-bank bundle reads under the
#: standard's rank-level constraints, as the paper's simulator, "Ramulator ... modified ... to
#: enable simultaneous data reading from all banks in the target bank bundle", Sec 6);
#: sensitivity rows: "calibrated" (our H200-calibrated xPU) and "ideal-pim" (the released
#: config's ideal PIM path, IDEAL_PIM)
SETUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "paper": ("paper", ()),
    "calibrated": ("calibrated", ()),
    "ideal-pim": ("paper", IDEAL_PIM),
}


@lru_cache(maxsize=None)
def _has_pim(path: Path) -> bool:
    """Whether the devices of the system file ``path`` carry a PIM unit ``lpim``."""
    from ..system import load_system
    units = load_system(path).device.units
    return "lpim" in units and units["lpim"].config.type in PIM_TYPES


def system_overrides(path: Path, xpu: str = "paper") -> tuple[str, ...]:
    """The overrides of the system file ``path`` in the reproduction's setup ``xpu`` (a key of
    ``SETUPS``): its xPU on every device, and its PIM overrides where there is a PIM."""
    if xpu not in SETUPS:
        raise AccelsimError(f"unknown Duplex setup {xpu!r}; known: {', '.join(SETUPS)}")
    x, pim = SETUPS[xpu]
    return xpu_overrides(x) + (pim if _has_pim(path) else ())


@lru_cache(maxsize=None)
def _system(name: str, xpu: str = "paper"):
    from ..system import load_system
    path = CONFIGS / f"{name}.yaml"
    return load_system(path, system_overrides(path, xpu))


@lru_cache(maxsize=None)
def _iteration(system: str, model: str, prefill: tuple[int, ...], decode: tuple,
               xpu: str = "paper") -> Iteration:
    from ..system import simulate_system
    from ..workload.zoo import build_iteration
    tr = build_iteration(model, prefill=prefill, decode=decode, act_dtype="fp16")
    r = simulate_system(_system(system, xpu), tr, "op")
    return Iteration(r.latency_s, energy_split(r))


def _iteration_s(system: str, model: str, prefill: tuple[int, ...], decode: tuple,
                 xpu: str = "paper") -> float:
    return _iteration(system, model, prefill, decode, xpu).latency_s


def energy_split(r) -> dict:
    """A system run's dynamic energy (J, all devices) by (part, kind): each distinct pipeline
    stage's per-op energy x the stages it stands for x dp x tp ranks x microbatches (as
    ``SystemResult.energy_j``); checked against that total less the stages' leakage."""
    counts = [0] * len(r.stages)
    for e in r.stage_energy_j:       # which distinct stage each stage of the pipeline ran
        i = next((i for i, st in enumerate(r.stages) if float(st.cost.energy_j) == e), None)
        if i is None:
            raise AccelsimError(f"{r.system}: a stage's energy {e!r} matches no distinct stage")
        counts[i] += 1
    scale = r.rank_runs
    out = {(p, k): 0.0 for p in PARTS for k in KINDS}
    leak = 0.0
    for st, n in zip(r.stages, counts):
        c = st.columns
        parts: dict[str, str] = {}
        for op, e, d in zip(c["op"], c["energy_j"], c["energy_dram_j"]):
            p = parts.get(op) or parts.setdefault(op, op_part(op))
            out[(p, "DRAM")] += n * scale * float(d)
            out[(p, "Comp")] += n * scale * float(e - d)
        leak += n * scale * st.cost.leakage_j
    total = sum(out.values()) + leak
    if not math.isclose(total, r.energy_j, rel_tol=1e-9):
        raise AccelsimError(f"{r.system}: per-op energy {total!r} J does not add up to the "
                            f"run's {r.energy_j!r} J")
    return out


@lru_cache(maxsize=None)
def window(design: str, name: str, batch: int, l_in: int, l_out: int,
           xpu: str = "paper") -> Window:
    """The steady-state window of ``design`` on the paper's model ``name``, its devices with
    the xPU ``xpu`` (``XPUS``)."""
    system, model = DESIGNS[design][name], GRID[name][0]
    ctx = l_in + l_out // 2
    dec = _iteration(system, model, (), ((ctx, batch),), xpu)
    mix = _iteration(system, model, (l_in, l_in), ((ctx, batch - 2),), xpu)
    return Window(batch, l_in, l_out, dec.latency_s, mix.latency_s, dec.energy_j, mix.energy_j)


def energy_stack(name: str, batch: int, length: int, design: str = "Duplex",
                 xpu: str = "paper") -> dict:
    """Fig energy_breakdown at (L, L): ``design``'s and the GPU system's window energy by
    (part, kind) as fractions of the GPU system's total (same B x L tokens on both)."""
    gpu = window("GPU", name, batch, length, length, xpu).energy_j
    dup = window(design, name, batch, length, length, xpu).energy_j
    ref = sum(gpu.values())
    return {"GPU": {k: v / ref for k, v in gpu.items()},
            design: {k: v / ref for k, v in dup.items()}}


def speedup(design: str, name: str, batch: int, length: int, xpu: str = "paper") -> float:
    """Throughput of ``design`` over the GPU system at (L, L), batch ``batch``."""
    return (window(design, name, batch, length, length, xpu).throughput_tok_s
            / window("GPU", name, batch, length, length, xpu).throughput_tok_s)


def grid(xpu: str = "paper") -> dict[tuple[str, int, int, str], float]:
    """(model, batch, L, design) -> throughput vs the GPU system, over the paper's 27 points."""
    return {(name, b, L, d): speedup(d, name, b, L, xpu)
            for name, (_, lengths) in GRID.items() for b in BATCHES for L in lengths
            for d in DESIGNS if d != "GPU"}


def check_window(name: str = "Mixtral", design: str = "Duplex", batch: int = 32,
                 length: int = 256, requests: int | None = None, seed: int = 0) -> dict:
    """The window's throughput against a full ``simulate_serving`` run of ``requests``
    (default 2 x batch) Gaussian (L, L / 10) requests all queued at t = 0 (ramp-up and drain
    included)."""
    from ..workload.requests import synth_requests
    from ..workload.serving import simulate_serving
    system = DESIGNS[design][name]
    n = requests or 2 * batch
    reqs = synth_requests(n, f"normal:{length},{length / 10},{length},{length / 10}", seed=seed,
                          max_prompt=2 * length, max_total=4 * length)
    r = simulate_serving(_system(system), GRID[name][0], reqs, max_batch=batch,
                         act_dtype="fp16", ctx_bucket=16, prompt_bucket=16, progress=False)
    s = r.summary()
    w = window(design, name, batch, length, length)
    return {"window_tok_s": w.throughput_tok_s, "serving_tok_s": s["throughput_tok_s"],
            "window_tbt_p50_s": w.tbt_p50_s, "serving_tbt_p50_s": s["tbt_p50_s"]}


def check_qps(design: str = "GPU", factor: float = 0.8, requests: int = 200,
              seed: int = 0) -> dict:
    """Poisson arrivals at ``factor`` x the window's capacity on Fig eval_qps's point (Gaussian
    lengths, std 10% of the mean) through ``simulate_serving``: the median TTFT of the first and
    the second half of the requests (a queue that grows shows as a rising second half)."""
    import numpy as np
    from ..workload.requests import synth_requests
    from ..workload.serving import simulate_serving
    name, l_in, l_out, b = QPS_POINT
    cap = window(design, name, b, l_in, l_out).requests_s
    reqs = synth_requests(requests, f"normal:{l_in},{l_in / 10},{l_out},{l_out / 10}",
                          rate=factor * cap, seed=seed, max_prompt=2 * l_in,
                          max_total=4 * (l_in + l_out))
    r = simulate_serving(_system(DESIGNS[design][name]), GRID[name][0], reqs, max_batch=b,
                         act_dtype="fp16", ctx_bucket=256, prompt_bucket=512, progress=False)
    ttft = r.first_token_s - np.array([q.arrival_s for q in r.requests])
    half = len(ttft) // 2
    return {"capacity_req_s": cap, "rate_req_s": factor * cap,
            "ttft_p50_first_half_s": float(np.median(ttft[:half])),
            "ttft_p50_second_half_s": float(np.median(ttft[half:])),
            "mean_batch": r.summary()["mean_batch"]}
