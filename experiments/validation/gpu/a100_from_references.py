"""Convert the published A100 measurements (LLMCompass, Vidur) into the `accelsim measured` CSV.

    python experiments/validation/gpu/a100_from_references.py [--src DIR] [--out FILE]

``--src`` is the folder holding ``llmcompass/`` and ``vidur/`` as copied (unchanged) from their
repositories (default: ../shared/reference/gpu_measured beside the checkout; their README says
what each file is and how it was measured). Writes ``a100_measured.csv`` beside this script:

* LLMCompass Fig. 5 (ISCA 2024; BSD-3-Clause, LICENSE-llmcompass): bf16 matmuls (two sweeps)
  and the per-op times of one GPT-3-175B layer at tensor parallelism 4, prefill (batch 8, seq
  2048) and decode (batch 8, KV 3073). Times are host wall clock around each call (launch and
  PyTorch dispatch included); LayerNorm had a launch overhead subtracted (kept, noted); the
  hand-added all-reduce lines are left out.
* Vidur (MIT, LICENSE-vidur): LLaMA-2-7B and 70B layer ops (fp16) for tensor parallelism 1-8 at
  8 token counts; medians of CUDA kernel durations (no launch gaps), attention not timed.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = ["kind", "name", "m", "n", "k", "batch", "dtype", "w_dtype", "measured_us", "source",
           "note"]
TOKENS = (1, 8, 32, 128, 512, 1024, 2048, 4096)
VIDUR_MODELS = {"Llama-2-7b-hf": (32, 32, 4096, 11008), "Llama-2-70b-hf": (64, 8, 8192, 28672)}


def llmcompass(src: Path) -> list[dict]:
    out = []
    base = src / "llmcompass" / "ae" / "figure5"
    for line in (base / "ab" / "real_hardware" / "matmul_A100.csv").read_text().splitlines():
        m, n, k, lat, _ = [x.strip() for x in line.split(",")]
        out.append(dict(kind="gemm", name="llmcompass.matmul", m=m, n=n, k=k, dtype="bf16",
                        measured_us=f"{float(lat.removesuffix('ms')) * 1e3:.3f}",
                        source="LLMCompass ae/figure5/ab/real_hardware/matmul_A100.csv",
                        note="host wall clock incl. launch and dispatch"))
    b, d, h, dh = 8, 12288, 24, 128   # GPT-3 175B, TP = 4: 96 / 4 heads per GPU
    for fname, s, kv in (("transformer_A100.csv", 2048, 2048), ("transformerAR_A100.csv", 1, 3073)):
        v = [float(x) * 1e6 for x in (base / "ijkl" / "real_hardware" / fname).read_text().split()]
        phase = "prefill" if s > 1 else "decode"
        src_name = f"LLMCompass ae/figure5/ijkl/real_hardware/{fname}"
        rows = [("gemm", "qkv.q_proj", dict(m=b * s, n=dh * h, k=d), v[0] / 3, "bf16",
                 "one of the 3 Q/K/V projections (the file holds 3x one)"),
                ("gemm", "q_mul_k", dict(batch=b * h, m=s, n=kv, k=dh), v[1], "fp16", "torch.bmm"),
                ("gemm", "a_mul_v", dict(batch=b * h, m=s, n=dh, k=kv), v[2], "fp16", "torch.bmm"),
                ("gemm", "wo_proj", dict(m=b * s, n=d, k=h * dh), v[3], "bf16", ""),
                ("gemm", "w1_proj", dict(m=b * s, n=d, k=d), v[4], "bf16", ""),
                ("gemm", "w2_proj", dict(m=b * s, n=d, k=d), v[5], "bf16", ""),
                ("vector", "softmax", dict(m=b * h * s, n=kv), v[6], "fp16", ""),
                ("vector", "layernorm", dict(m=b * s, n=d), v[7], "fp16",
                 "launch overhead subtracted by LLMCompass"),
                ("vector", "gelu", dict(m=b * s, n=d), v[9], "fp16", "")]
        for kind, name, shape, us, dt, note in rows:
            out.append(dict(kind=kind, name=name if kind == "vector" else
                            f"gpt3-175b.tp4.{phase}.{name}", dtype=dt, measured_us=f"{us:.3f}",
                            source=src_name, note="host wall clock; " + note if note else
                            "host wall clock", **{k: str(x) for k, x in shape.items()}))
    return out


def vidur(src: Path) -> list[dict]:
    out = []
    for model, (nh, nkv, d, ffn) in VIDUR_MODELS.items():
        path = src / "vidur" / "data" / "profiling" / "compute" / "a100" / "meta-llama" / model / \
            "mlp.csv"
        seen = set()
        with path.open(newline="") as f:
            for r in csv.DictReader(f):
                t, tp = int(r["num_tokens"]), int(r["num_tensor_parallel_workers"])
                if t not in TOKENS or (t, tp) in seen:
                    continue  # 2048 and 4096 tokens were profiled twice: keep the first
                seen.add((t, tp))
                ms = lambda op: float(r[f"time_stats.{op}.median"])  # noqa: E731
                ops = [("gemm", "attn_pre_proj", dict(m=t, n=(nh + 2 * nkv) * 128 // tp, k=d)),
                       ("gemm", "attn_post_proj", dict(m=t, n=d, k=nh * 128 // tp)),
                       ("gemm", "mlp_up_proj", dict(m=t, n=2 * ffn // tp, k=d)),
                       ("gemm", "mlp_down_proj", dict(m=t, n=d, k=ffn // tp)),
                       ("vector", "input_layernorm", dict(m=t, n=d)),
                       ("vector", "mlp_act", dict(m=t, n=ffn // tp)),
                       ("vector", "attn_rope", dict(m=t, n=(nh + nkv) * 128 // tp)),
                       ("vector", "add", dict(m=t, n=d))]
                as_kind = {"input_layernorm": "rmsnorm", "mlp_act": "mul", "attn_rope": "rope",
                           "add": "add"}
                for kind, op, shape in ops:
                    out.append(dict(
                        kind=kind, name=as_kind.get(op, f"vidur.{model}.tp{tp}.{op}"),
                        dtype="fp16", measured_us=f"{ms(op) * 1e3:.3f}",
                        source=f"Vidur data/profiling/compute/a100/meta-llama/{model}/mlp.csv",
                        note=f"{op}, tp {tp}; CUDA kernel time (no launch gaps)"
                             + ("; fused SiLU-and-mul" if op == "mlp_act" else ""),
                        **{k: str(x) for k, x in shape.items()}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(HERE.parents[3] / "shared" / "reference" / "gpu_measured"))
    ap.add_argument("--out", default=str(HERE / "a100_measured.csv"))
    args = ap.parse_args()
    rows = llmcompass(Path(args.src)) + vidur(Path(args.src))
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows({c: r.get(c, "") for c in COLUMNS} for r in rows)
    print(f"{len(rows)} cases -> {args.out}")


if __name__ == "__main__":
    main()
