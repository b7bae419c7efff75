"""Measure a real GPU (an H200 here) for the GPU-baseline model: GEMMs, attention, MoE experts
and whole LLaMA-shaped decode steps and prefill, written as the `accelsim measured` CSV schema.

Run on the GPU machine (PyTorch with CUDA; no accelsim needed there):

    python3 experiments/validation/gpu/measure_h200.py --out DIR [--quick] [--budget-s 540]

Writes DIR/h200_measured.csv (one row per case, appended as it goes, so a run cut short keeps
what it measured), DIR/h200_env.json (GPU, driver, torch, clocks, the measured copy bandwidth
and bf16 matrix rate) and DIR/h200_log.txt.

Method (the device notes' METHOD.md): random data (never zeros); inputs rotated among enough
copies that each timed pass reads from HBM, not the 60 MB L2 (a decode layer streams its
weights); each case warmed up, then timed with CUDA events over a CUDA-graph replay of R calls
where capture works (launch gaps as in a serving engine), else over R eager calls; the median of
5 such timings divided by R is `measured_us` (one call). `timing` says which.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import time
import traceback

import torch
import torch.nn.functional as F

COLUMNS = ["kind", "name", "m", "n", "k", "batch", "dtype", "w_dtype", "group_size", "heads",
           "kv_heads", "q_len", "kv_len", "head_dim", "causal", "experts", "tokens_per_expert",
           "hidden", "ffn", "moe_kernel", "model", "phase", "ctx", "prompt", "layers_only",
           "measured_us", "timing", "tflops", "gb_s", "note"]
L2_BYTES = 60 * 2**20
DEV = "cuda"


class Runner:
    def __init__(self, out: str, budget_s: float) -> None:
        self.out, self.t0, self.budget = out, time.time(), budget_s
        self.csv_path = os.path.join(out, "h200_measured.csv")
        self.log = open(os.path.join(out, "h200_log.txt"), "a", buffering=1)
        with open(self.csv_path, "w", newline="") as f:
            csv.DictWriter(f, COLUMNS).writeheader()
        self.rows = 0

    def left(self) -> float:
        return self.budget - (time.time() - self.t0)

    def say(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        self.log.write(line + "\n")

    def row(self, **kw) -> None:
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, COLUMNS).writerow({c: kw.get(c, "") for c in COLUMNS})
        self.rows += 1


def copies_for(nbytes: float, floor: int = 2, cap: int = 64) -> int:
    """How many input sets to rotate so that one pass over them overflows the L2 by 4x."""
    return int(min(cap, max(floor, math.ceil(4 * L2_BYTES / max(nbytes, 1)))))


def time_call(fn, reps: int = 20, rounds: int = 5, graph: bool = True) -> tuple[float, str]:
    """Median microseconds of one ``fn()`` (fn rotates its own inputs)."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    g = None
    if graph:
        try:
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(2):
                    fn()
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for _ in range(reps):
                    fn()
            g.replay()
            torch.cuda.synchronize()
        except Exception:
            g = None
            torch.cuda.synchronize()
    times = []
    for _ in range(rounds):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        if g is not None:
            g.replay()
        else:
            for _ in range(reps):
                fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / reps)
    return statistics.median(times), ("graph" if g is not None else "eager")


class Rot:
    """Round-robin over prepared argument tuples."""

    def __init__(self, sets: list) -> None:
        self.sets, self.i = sets, 0

    def next(self):
        s = self.sets[self.i]
        self.i = (self.i + 1) % len(self.sets)
        return s


# ---------------------------------------------------------------------------- ceilings

def ceilings(r: Runner) -> dict:
    n = 2 * 2**30
    a = torch.empty(n, dtype=torch.uint8, device=DEV).random_(0, 255)
    b = torch.empty_like(a)
    us, _ = time_call(lambda: b.copy_(a), reps=5, graph=False)
    copy = 2 * n / (us * 1e-6) / 1e9
    x = torch.randn(8192, 8192, dtype=torch.bfloat16, device=DEV)
    y = torch.randn(8192, 8192, dtype=torch.bfloat16, device=DEV)
    us, _ = time_call(lambda: x @ y, reps=10, graph=False)
    mm = 2 * 8192**3 / (us * 1e-6) / 1e12
    del a, b, x, y
    r.say(f"ceilings: copy {copy:.0f} GB/s (read+write), bf16 8192^3 {mm:.0f} TFLOP/s")
    return {"copy_gb_s": copy, "bf16_tflops_8192": mm}


# ---------------------------------------------------------------------------- GEMMs

LAYERS = {  # (N, K) of the linear layers, nn.Linear convention y = x W^T
    "llama2-7b": {"qkv": (12288, 4096), "o": (4096, 4096), "gate_up": (22016, 4096),
                  "down": (4096, 11008)},
    "llama2-13b": {"qkv": (15360, 5120), "o": (5120, 5120), "gate_up": (27648, 5120),
                   "down": (5120, 13824)},
    "llama2-70b": {"qkv": (10240, 8192), "o": (8192, 8192), "gate_up": (57344, 8192),
                   "down": (8192, 28672)},
}
MS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]


def gemm_bf16(r: Runner, quick: bool) -> None:
    ms = [1, 16, 128, 1024, 8192] if quick else MS
    for model, layers in LAYERS.items():
        for lname, (n, k) in layers.items():
            for m in ms:
                if r.left() < 60:
                    return
                wb = n * k * 2
                c = copies_for(wb + m * k * 2)
                sets = [(torch.randn(m, k, dtype=torch.bfloat16, device=DEV),
                         torch.randn(n, k, dtype=torch.bfloat16, device=DEV) * 0.02)
                        for _ in range(c)]
                rot = Rot(sets)
                us, how = time_call(lambda: F.linear(*rot.next()), reps=max(4, min(40, c * 2)))
                r.row(kind="gemm", name=f"{model}.{lname}", m=m, n=n, k=k, dtype="bf16",
                      w_dtype="bf16", measured_us=f"{us:.3f}", timing=how,
                      tflops=f"{2 * m * n * k / us / 1e6:.2f}",
                      gb_s=f"{(wb + 2 * m * (n + k)) / us / 1e3:.1f}")
                del sets, rot
        torch.cuda.empty_cache()
        r.say(f"bf16 GEMMs of {model} done ({r.rows} rows)")


def gemm_quantised(r: Runner, quick: bool) -> None:
    ms = [16, 256, 4096] if quick else [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
    shapes = dict(LAYERS["llama2-7b"]) | {"70b.gate_up": LAYERS["llama2-70b"]["gate_up"]}
    fp8 = getattr(torch, "float8_e4m3fn", None)
    for lname, (n, k) in shapes.items():
        for m in ms:
            if r.left() < 45:
                return
            c = copies_for(n * k + m * k)
            # fp8 x fp8 -> bf16 (torch._scaled_mm: B column-major)
            try:
                sets = [(torch.randn(m, k, device=DEV).to(fp8),
                         torch.randn(n, k, device=DEV).to(fp8)) for _ in range(c)]
                one = torch.ones((), device=DEV)
                rot = Rot(sets)
                fn = lambda: torch._scaled_mm(*(lambda a, b: (a, b.t()))(*rot.next()),  # noqa: E731
                                              scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
                us, how = time_call(fn, reps=max(4, min(40, c * 2)))
                r.row(kind="gemm", name=f"fp8.{lname}", m=m, n=n, k=k, dtype="fp8_e4m3",
                      w_dtype="fp8_e4m3", measured_us=f"{us:.3f}", timing=how,
                      tflops=f"{2 * m * n * k / us / 1e6:.2f}")
            except Exception as e:
                r.say(f"fp8 {lname} m={m}: {type(e).__name__}: {str(e)[:200]}")
            # int8 x int8 -> int32 (torch._int_mm: A [M,K], B [K,N])
            try:
                sets = [(torch.randint(-128, 127, (m, k), dtype=torch.int8, device=DEV),
                         torch.randint(-128, 127, (n, k), dtype=torch.int8, device=DEV).t())
                        for _ in range(c)]
                rot = Rot(sets)
                us, how = time_call(lambda: torch._int_mm(*rot.next()), reps=max(4, min(40, c * 2)))
                r.row(kind="gemm", name=f"int8.{lname}", m=m, n=n, k=k, dtype="int8",
                      w_dtype="int8", measured_us=f"{us:.3f}", timing=how,
                      tflops=f"{2 * m * n * k / us / 1e6:.2f}")
            except Exception as e:
                r.say(f"int8 {lname} m={m}: {type(e).__name__}: {str(e)[:200]}")
        torch.cuda.empty_cache()
    r.say(f"fp8/int8 GEMMs done ({r.rows} rows)")


def gemm_w4a16(r: Runner, quick: bool) -> None:
    """Weight-only int4 (group 128) x bf16 through torch's tinygemm kernel."""
    ms = [1, 16, 256, 4096] if quick else [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048,
                                            4096, 8192]
    gs = 128
    for lname, (n, k) in list(LAYERS["llama2-7b"].items()) + [
            ("70b.gate_up", LAYERS["llama2-70b"]["gate_up"])]:
        try:
            c = copies_for(n * k // 2)
            packs = []
            for _ in range(c):
                q = torch.randint(0, 16, (n, k), dtype=torch.int32, device=DEV)
                u8 = (q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8)
                packed = torch.ops.aten._convert_weight_to_int4pack(u8, 8)
                sz = torch.randn(k // gs, n, 2, dtype=torch.bfloat16, device=DEV) * 0.01
                packs.append((packed, sz))
        except Exception as e:
            r.say(f"w4a16 pack {lname}: {type(e).__name__}: {str(e)[:300]}")
            return
        for m in ms:
            if r.left() < 40:
                return
            try:
                xs = [torch.randn(m, k, dtype=torch.bfloat16, device=DEV) for _ in range(c)]
                rot = Rot([(x, p, s) for x, (p, s) in zip(xs, packs)])

                def fn():
                    x, p, s = rot.next()
                    return torch.ops.aten._weight_int4pack_mm(x, p, gs, s)

                us, how = time_call(fn, reps=max(4, min(40, c * 2)))
                r.row(kind="gemm", name=f"w4a16.{lname}", m=m, n=n, k=k, dtype="bf16",
                      w_dtype="int4", group_size=gs, measured_us=f"{us:.3f}", timing=how,
                      tflops=f"{2 * m * n * k / us / 1e6:.2f}",
                      gb_s=f"{(n * k / 2 + 2 * m * (n + k)) / us / 1e3:.1f}",
                      note="torch _weight_int4pack_mm (tinygemm)")
            except Exception as e:
                r.say(f"w4a16 {lname} m={m}: {type(e).__name__}: {str(e)[:200]}")
        del packs
        torch.cuda.empty_cache()
    r.say(f"w4a16 GEMMs done ({r.rows} rows)")


# ---------------------------------------------------------------------------- attention

def attention(r: Runner, quick: bool) -> None:
    cfgs = [("mha", 32, 32, 128), ("gqa", 64, 8, 128)]
    batches = [1, 16, 64] if quick else [1, 4, 16, 64]
    ctxs = [512, 4096] if quick else [512, 2048, 8192]
    for tag, h, hkv, d in cfgs:
        for b in batches:
            for L in ctxs:
                if r.left() < 35:
                    return
                kvb = 2 * b * hkv * L * d * 2
                c = copies_for(kvb, floor=1, cap=8)
                if c * kvb > 40e9:
                    c = max(1, int(40e9 // kvb))
                sets = [(torch.randn(b, h, 1, d, dtype=torch.bfloat16, device=DEV),
                         torch.randn(b, hkv, L, d, dtype=torch.bfloat16, device=DEV),
                         torch.randn(b, hkv, L, d, dtype=torch.bfloat16, device=DEV))
                        for _ in range(c)]
                rot = Rot(sets)
                fn = lambda: F.scaled_dot_product_attention(*rot.next(), enable_gqa=hkv != h)  # noqa: E731
                try:
                    us, how = time_call(fn, reps=max(4, min(20, c * 2)))
                    r.row(kind="attention", name=f"decode.{tag}", batch=b, heads=h,
                          kv_heads=hkv, q_len=1, kv_len=L, head_dim=d, causal="false",
                          dtype="bf16", measured_us=f"{us:.3f}", timing=how,
                          gb_s=f"{kvb / us / 1e3:.1f}")
                except Exception as e:
                    r.say(f"decode attn {tag} b={b} L={L}: {type(e).__name__}: {str(e)[:200]}")
                del sets, rot
        torch.cuda.empty_cache()
    for tag, h, hkv, d in cfgs:
        for b, L in ([(1, 1024), (1, 4096), (4, 2048)] if quick else
                     [(1, 512), (1, 1024), (1, 2048), (1, 4096), (1, 8192), (4, 2048), (8, 1024)]):
            if r.left() < 30:
                return
            sets = [(torch.randn(b, h, L, d, dtype=torch.bfloat16, device=DEV),
                     torch.randn(b, hkv, L, d, dtype=torch.bfloat16, device=DEV),
                     torch.randn(b, hkv, L, d, dtype=torch.bfloat16, device=DEV))
                    for _ in range(2)]
            rot = Rot(sets)
            fn = lambda: F.scaled_dot_product_attention(*rot.next(), is_causal=True,  # noqa: E731
                                                        enable_gqa=hkv != h)
            try:
                us, how = time_call(fn, reps=10)
                flops = 4 * b * h * L * L * d / 2  # causal: half of QK^T and PV
                r.row(kind="attention", name=f"prefill.{tag}", batch=b, heads=h, kv_heads=hkv,
                      q_len=L, kv_len=L, head_dim=d, causal="true", dtype="bf16",
                      measured_us=f"{us:.3f}", timing=how, tflops=f"{flops / us / 1e6:.2f}")
            except Exception as e:
                r.say(f"prefill attn {tag} b={b} L={L}: {type(e).__name__}: {str(e)[:200]}")
    r.say(f"attention done ({r.rows} rows)")


# ---------------------------------------------------------------------------- MoE experts

def moe(r: Runner, quick: bool) -> None:
    """Mixtral-8x7B experts: per expert x W1^T (gate+up fused), silu * up, x W2^T; a loop."""
    e, hid, ffn = 8, 4096, 14336
    w1 = [torch.randn(2 * ffn, hid, dtype=torch.bfloat16, device=DEV) * 0.02 for _ in range(e)]
    w2 = [torch.randn(hid, ffn, dtype=torch.bfloat16, device=DEV) * 0.02 for _ in range(e)]
    for t in ([1, 16, 256] if quick else [1, 4, 16, 64, 256, 1024]):
        if r.left() < 25:
            return
        xs = [torch.randn(t, hid, dtype=torch.bfloat16, device=DEV) for _ in range(e)]

        def fn():
            for i in range(e):
                gu = F.linear(xs[i], w1[i])
                g, u = gu.chunk(2, dim=-1)
                F.linear(F.silu(g) * u, w2[i])

        try:
            us, how = time_call(fn, reps=3)
            r.row(kind="moe_ffn", name="mixtral-8x7b.experts", experts=e, tokens_per_expert=t,
                  hidden=hid, ffn=ffn, moe_kernel="loop", dtype="bf16", measured_us=f"{us:.3f}", timing=how,
                  tflops=f"{e * 2 * t * 3 * hid * ffn / us / 1e6:.2f}",
                  note="8 experts in a loop, gate+up fused (the 704 MB of weights exceed L2)")
        except Exception as ex:
            r.say(f"moe t={t}: {type(ex).__name__}: {str(ex)[:200]}")
    del w1, w2
    torch.cuda.empty_cache()
    r.say(f"MoE done ({r.rows} rows)")


#: (name, experts, hidden, ffn): Mixtral-8x7B's experts and a fine-grained MoE (64 experts of
#: width 1408, the Qwen1.5-MoE / DeepSeek-V2-Lite shape)
MOE_SHAPES = (("mixtral-8x7b", 8, 4096, 14336), ("fine-64x1408", 64, 2048, 1408))


def _expert_counts(e: int, total: int, skew: bool) -> list[int]:
    """Tokens per expert: ``total`` routed assignments, even or Zipf-skewed (deterministic)."""
    w = [1.0 / (i + 1) for i in range(e)] if skew else [1.0] * e
    c = [int(total * x / sum(w)) for x in w]
    c[0] += total - sum(c)
    return c


def moe_grouped(r: Runner, quick: bool) -> None:
    """MoE experts as grouped GEMMs (torch._grouped_mm: one kernel for all experts' gate+up, one
    SiLU and one multiply over all routed tokens, one grouped kernel for the down projections),
    checked against the per-expert loop on a small case; plus the loop for the fine-grained shape."""
    gmm = getattr(torch, "_grouped_mm", None) or getattr(F, "grouped_mm", None)
    if gmm is None:
        r.say("no torch._grouped_mm / F.grouped_mm in this torch: grouped MoE not measured")
        return
    for tag, e, hid, ffn in MOE_SHAPES:
        w1 = torch.randn(e, 2 * ffn, hid, dtype=torch.bfloat16, device=DEV) * 0.02
        w2 = torch.randn(e, hid, ffn, dtype=torch.bfloat16, device=DEV) * 0.02
        w1t, w2t = w1.transpose(-2, -1), w2.transpose(-2, -1)   # (E, K, N), column-major
        cases = [(t * e, False) for t in ([1, 16, 256] if quick else
                                          [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])]
        cases += [(tot, True) for tot in ([256] if quick else [64, 128, 256, 512, 1024, 2048,
                                                                4096])]
        for total, skew in cases:
            if r.left() < 25:
                return
            counts = _expert_counts(e, total, skew)
            offs = torch.tensor(counts, device=DEV, dtype=torch.int32).cumsum(0).to(torch.int32)
            x = torch.randn(total, hid, dtype=torch.bfloat16, device=DEV)

            def grouped():
                gu = gmm(x, w1t, offs=offs)
                g, u = gu.chunk(2, dim=-1)
                return gmm((F.silu(g) * u).contiguous(), w2t, offs=offs)

            try:
                if total <= 64:  # the grouped kernels compute what the loop computes
                    ref, at = [], 0
                    for i, n in enumerate(counts):
                        gu = F.linear(x[at:at + n], w1[i])
                        g, u = gu.chunk(2, dim=-1)
                        ref.append(F.linear(F.silu(g) * u, w2[i]))
                        at += n
                    ref = torch.cat(ref).float()
                    err = ((grouped().float() - ref).abs().max() / ref.abs().max()).item()
                    if not err < 2e-2:  # relative to the largest output (bf16: 2^-8 per ulp)
                        r.say(f"moe grouped {tag} total={total}: differs from the loop by {err}")
                        continue
                us, how = time_call(grouped, reps=5)
                tpe = str(counts[0]) if len(set(counts)) == 1 else ";".join(map(str, counts))
                r.row(kind="moe_ffn", name=f"{tag}.experts", experts=e, tokens_per_expert=tpe,
                      hidden=hid, ffn=ffn, moe_kernel="grouped", dtype="bf16",
                      measured_us=f"{us:.3f}", timing=how,
                      tflops=f"{2 * total * 3 * hid * ffn / us / 1e6:.2f}",
                      note=("Zipf-skewed" if skew else "even") + f" routing, {total} "
                      f"assignments; torch grouped_mm for gate+up and down")
            except Exception as ex:
                r.say(f"moe grouped {tag} total={total}: {type(ex).__name__}: {str(ex)[:300]}")
        if tag != "mixtral-8x7b":   # the loop for this shape too (Mixtral's is section moe)
            for t in ([1, 16] if quick else [1, 16, 64]):
                xs = torch.randn(e, t, hid, dtype=torch.bfloat16, device=DEV)

                def loop():
                    for i in range(e):
                        gu = F.linear(xs[i], w1[i])
                        g, u = gu.chunk(2, dim=-1)
                        F.linear(F.silu(g) * u, w2[i])

                us, how = time_call(loop, reps=2)
                r.row(kind="moe_ffn", name=f"{tag}.experts", experts=e, tokens_per_expert=t,
                      hidden=hid, ffn=ffn, moe_kernel="loop", dtype="bf16",
                      measured_us=f"{us:.3f}", timing=how,
                      tflops=f"{2 * e * t * 3 * hid * ffn / us / 1e6:.2f}",
                      note=f"{e} experts in a loop, gate+up fused")
        del w1, w2, w1t, w2t
        torch.cuda.empty_cache()
    r.say(f"grouped MoE done ({r.rows} rows)")


# ---------------------------------------------------------------------------- whole models

class Llama:
    """LLaMA-2-7B-shaped stack with random bf16 weights (32 layers), for timing only."""

    def __init__(self, layers=32, hidden=4096, heads=32, kv_heads=32, ffn=11008, vocab=32000):
        self.L, self.h, self.nh, self.nkv, self.ffn, self.vocab = layers, hidden, heads, kv_heads, ffn, vocab
        self.hd = hidden // heads
        bf = dict(dtype=torch.bfloat16, device=DEV)
        s = 0.02
        self.wqkv = [torch.randn((heads + 2 * kv_heads) * self.hd, hidden, **bf) * s for _ in range(layers)]
        self.wo = [torch.randn(hidden, hidden, **bf) * s for _ in range(layers)]
        self.wgu = [torch.randn(2 * ffn, hidden, **bf) * s for _ in range(layers)]
        self.wd = [torch.randn(hidden, ffn, **bf) * s for _ in range(layers)]
        self.n1 = [torch.ones(hidden, **bf) for _ in range(layers)]
        self.n2 = [torch.ones(hidden, **bf) for _ in range(layers)]
        self.emb = torch.randn(vocab, hidden, **bf) * s
        self.head = torch.randn(vocab, hidden, **bf) * s
        self.fn = torch.ones(hidden, **bf)

    @staticmethod
    def rms(x, w):
        return F.rms_norm(x, (x.shape[-1],), w, 1e-5)

    @staticmethod
    def rope(x, freqs):
        """Meta's reference rotary embedding: pairs as complex numbers times exp(i theta)."""
        xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        return torch.view_as_real(xc * freqs).flatten(-2).type_as(x)

    def forward(self, ids, kv, q_len, causal, layers_only):
        b = ids.shape[0]
        x = self.emb[ids] if not layers_only else kv["x"]
        freqs = kv["freqs"]
        for i in range(self.L):
            hN = self.rms(x, self.n1[i])
            qkv = F.linear(hN, self.wqkv[i])
            q, k, v = qkv.split([self.nh * self.hd, self.nkv * self.hd, self.nkv * self.hd], -1)
            q = self.rope(q.view(b, q_len, self.nh, self.hd), freqs).transpose(1, 2)
            k = self.rope(k.view(b, q_len, self.nkv, self.hd), freqs).transpose(1, 2)
            v = v.view(b, q_len, self.nkv, self.hd).transpose(1, 2)
            if causal:  # prefill: attend over the prompt itself
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:       # decode: attend over the cache (the new token's k/v not appended)
                a = F.scaled_dot_product_attention(q, kv["k"][i], kv["v"][i])
            x = x + F.linear(a.transpose(1, 2).reshape(b, q_len, self.h), self.wo[i])
            hN = self.rms(x, self.n2[i])
            g, u = F.linear(hN, self.wgu[i]).chunk(2, -1)
            x = x + F.linear(F.silu(g) * u, self.wd[i])
        if layers_only:
            return x
        return F.linear(self.rms(x[:, -1:], self.fn), self.head)


def freqs(positions: int, hd: int) -> torch.Tensor:
    """Rotary factors exp(i pos theta_j), shaped (1, positions, 1, hd/2), complex64."""
    theta = 1.0 / (10000 ** (torch.arange(0, hd, 2, device=DEV).float() / hd))
    ang = torch.outer(torch.arange(positions, device=DEV).float() + 100, theta)
    return torch.polar(torch.ones_like(ang), ang).view(1, positions, 1, hd // 2)


def vectors(r: Runner, quick: bool) -> None:
    """Element-wise and normalisation kernels as a PyTorch model issues them (one kernel each,
    except rope: Meta's complex-number form)."""
    shapes = [(1, 4096), (16, 4096), (64, 4096), (256, 4096), (1024, 4096), (4096, 4096),
              (16384, 4096), (16, 11008), (1024, 11008), (64 * 32, 2048)]
    if quick:
        shapes = shapes[::3]
    bf = dict(dtype=torch.bfloat16, device=DEV)
    for rows, cols in shapes:
        if r.left() < 20:
            return
        nb = rows * cols * 2
        c = copies_for(3 * nb, cap=16)
        xs = [torch.randn(rows, cols, **bf) for _ in range(c)]
        ys = [torch.randn(rows, cols, **bf) for _ in range(c)]
        w = torch.ones(cols, **bf)
        fr = freqs(1, 128)
        ops = {
            "add": (lambda i: xs[i] + ys[i], 3),
            "mul": (lambda i: xs[i] * ys[i], 3),
            "silu": (lambda i: F.silu(xs[i]), 2),
            "rmsnorm": (lambda i: F.rms_norm(xs[i], (cols,), w, 1e-5), 2),
            "softmax": (lambda i: torch.softmax(xs[i], -1), 2),
            "rope": (lambda i: Llama.rope(xs[i].view(rows, 1, cols // 128, 128), fr), 2),
        }
        for op, (fn, tensors) in ops.items():
            if op == "rope" and cols % 128:
                continue
            k = [0]

            def call(fn=fn):
                k[0] = (k[0] + 1) % c
                return fn(k[0])

            try:
                us, how = time_call(call, reps=max(8, min(40, 2 * c)))
                r.row(kind="vector", name=op, m=rows, n=cols, dtype="bf16",
                      measured_us=f"{us:.3f}", timing=how,
                      gb_s=f"{tensors * nb / us / 1e3:.1f}")
            except Exception as e:
                r.say(f"vector {op} {rows}x{cols}: {type(e).__name__}: {str(e)[:200]}")
        del xs, ys
    torch.cuda.empty_cache()
    r.say(f"vector kernels done ({r.rows} rows)")


def models(r: Runner, quick: bool) -> None:
    m = Llama()
    bf = dict(dtype=torch.bfloat16, device=DEV)
    decode = [(1, 512), (16, 2048), (64, 2048)] if quick else \
        [(1, 128), (1, 512), (1, 2048), (4, 1024), (8, 2048), (16, 512), (16, 2048), (32, 1024),
         (32, 2048), (32, 4096), (64, 1024), (64, 2048)]
    for layers_only in (False, True):
        for b, ctx in decode:
            if r.left() < 30:
                return
            try:
                kv = {"k": [torch.randn(b, m.nkv, ctx, m.hd, **bf) for _ in range(m.L)],
                      "v": [torch.randn(b, m.nkv, ctx, m.hd, **bf) for _ in range(m.L)],
                      "freqs": freqs(1, m.hd),
                      "x": torch.randn(b, 1, m.h, **bf)}
                ids = torch.randint(0, m.vocab, (b, 1), device=DEV)
                with torch.no_grad():
                    us, how = time_call(lambda: m.forward(ids, kv, 1, False, layers_only), reps=2,
                                        rounds=5)
                r.row(kind="model", name="llama2-7b-shaped", model="llama2-7b", phase="decode",
                      batch=b, ctx=ctx, layers_only=str(layers_only).lower(), dtype="bf16",
                      measured_us=f"{us:.3f}", timing=how,
                      note="32 layers, random bf16 weights, F.rms_norm, Meta-style complex RoPE, "
                      "SDPA over a KV cache of ctx tokens, CUDA graph")
                del kv
                torch.cuda.empty_cache()
            except Exception as e:
                r.say(f"decode b={b} ctx={ctx}: {type(e).__name__}: {str(e)[:200]}")
        r.say(f"decode steps (layers_only={layers_only}) done ({r.rows} rows)")
    for b, p in ([(1, 512)] if quick else [(1, 128), (1, 512), (1, 1024), (1, 2048), (4, 512),
                                           (8, 256)]):
        if r.left() < 25:
            return
        try:
            kv = {"freqs": freqs(p, m.hd), "x": torch.randn(b, p, m.h, **bf)}
            ids = torch.randint(0, m.vocab, (b, p), device=DEV)
            with torch.no_grad():
                us, how = time_call(lambda: m.forward(ids, kv, p, True, False), reps=2, rounds=5)
            r.row(kind="model", name="llama2-7b-shaped", model="llama2-7b", phase="prefill",
                  batch=b, prompt=p, layers_only="false", dtype="bf16", measured_us=f"{us:.3f}",
                  timing=how, note="32 layers + LM head on the last token, causal SDPA")
        except Exception as e:
            r.say(f"prefill b={b} p={p}: {type(e).__name__}: {str(e)[:200]}")
    r.say(f"prefill done ({r.rows} rows)")


def env_info(extra: dict) -> dict:
    p = torch.cuda.get_device_properties(0)
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpu": p.name,
            "sms": p.multi_processor_count, "memory_gb": p.total_memory / 1e9,
            "l2_bytes": getattr(p, "L2_cache_size", None), "python": sys.version.split()[0]}
    try:
        info["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,"
             "power.limit,temperature.gpu", "--format=csv"], capture_output=True, text=True,
            timeout=20).stdout
    except Exception as e:
        info["nvidia_smi"] = repr(e)
    return info | extra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="fewer sizes (a smoke run)")
    ap.add_argument("--budget-s", type=float, default=540)
    ap.add_argument("--only", nargs="*",
                    help="sections: gemm quant w4 attn moe moeg model vec")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    r = Runner(args.out, args.budget_s)
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    info = env_info({"started": time.strftime("%Y-%m-%d %H:%M:%S")})
    r.say(f"{info['gpu']} x{info['sms']} SMs, torch {info['torch']}, CUDA {info['cuda']}")
    info |= ceilings(r)
    sections = {"gemm": gemm_bf16, "quant": gemm_quantised, "w4": gemm_w4a16,
                "attn": attention, "moe": moe, "moeg": moe_grouped, "model": models,
                "vec": vectors}
    for name in (args.only or ["gemm", "attn", "model", "vec", "w4", "quant", "moe", "moeg"]):
        try:
            sections[name](r, args.quick)
        except Exception:
            r.say(f"section {name} failed:\n{traceback.format_exc()}")
        torch.cuda.empty_cache()
    info["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    info["rows"] = r.rows
    info |= {"nvidia_smi_after": env_info({})["nvidia_smi"]}
    with open(os.path.join(args.out, "h200_env.json"), "w") as f:
        json.dump(info, f, indent=1)
    r.say(f"done: {r.rows} rows in {time.time() - r.t0:.0f} s")


if __name__ == "__main__":
    main()
